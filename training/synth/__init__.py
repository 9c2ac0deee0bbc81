"""The synthetic register: a realistic, reproducible stand-in for a jobseeker register.

:func:`generate_register` draws a Helsinki-like population of jobseekers that follows
the default schema, with a documented ground truth behind it: each client's true need
for each service (the oracle), the need a caseworker recorded (the label models train
on, with noise and an optional historical bias), and the service received with its
true individual effect on the 6-month outcome. Nothing in it is a real person; see
``docs/data.md``.
"""

from training.synth.bias import HISTORICAL_BIAS, HistoricalBias
from training.synth.export import write_register
from training.synth.generate import UNTREATED_COLUMN, effect_column, generate_register
from training.synth.targets import CALIBRATION_TARGETS, DEFAULT_ROWS, calibration_report

__all__ = [
    "CALIBRATION_TARGETS",
    "DEFAULT_ROWS",
    "HISTORICAL_BIAS",
    "UNTREATED_COLUMN",
    "HistoricalBias",
    "calibration_report",
    "effect_column",
    "generate_register",
    "write_register",
]
