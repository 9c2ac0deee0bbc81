"""The effect step of ``tarve train``: fit, save next to the need models, report.

Kept in one place so that the training pipeline needs only a few lines: call
:func:`train_effects` with the validated frame and the artifact directory; it returns
what to log (flat metrics) and the model-card section.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from models.effects import STAGE_INDEX
from models.schema import Schema
from training.effects.data import CONTROL
from training.effects.estimate import MIN_PROPENSITY, EffectFit, fit_effects

EFFECTS_REPORT = "effects_report.json"
MSG_SKIPPED_NO_HISTORY = "effect models skipped: the schema names no treatment/outcome column"
MSG_SKIPPED_COLUMNS = "effect models skipped: the extract lacks {columns}"


@dataclass(frozen=True)
class EffectsSettings:
    """What the effect step is told (mirrors ``TrainConfig.effects``)."""

    enabled: bool = True
    n_folds: int = 3
    min_propensity: float = MIN_PROPENSITY
    control: str = CONTROL
    seed: int = 0
    num_threads: int = 0
    final_stage: str = STAGE_INDEX


@dataclass
class EffectsOutcome:
    """What the effect step produced (``fit`` is None when it was skipped)."""

    fit: EffectFit | None
    files: list[Path] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    card_section: str = ""
    note: str | None = None


def effects_applicable(schema: Schema, frame: pd.DataFrame) -> str | None:
    """None when effects can be fitted; otherwise why not."""
    if schema.treatment_column is None or schema.outcome_column is None:
        return MSG_SKIPPED_NO_HISTORY
    missing = [c for c in (schema.treatment_column, schema.outcome_column) if c not in frame]
    if missing:
        return MSG_SKIPPED_COLUMNS.format(columns=missing)
    return None


def flat_effect_metrics(fit: EffectFit) -> dict[str, float]:
    """``effects.<service>.<figure>`` for MLflow."""
    metrics: dict[str, float] = {}
    for service, service_fit in fit.services.items():
        prefix = f"effects.{service}"
        average = service_fit.average
        metrics[f"{prefix}.ate"] = average.estimate
        metrics[f"{prefix}.ate_lower"] = average.lower
        metrics[f"{prefix}.ate_upper"] = average.upper
        metrics[f"{prefix}.naive_difference"] = service_fit.naive_difference
        metrics[f"{prefix}.supported_share"] = service_fit.supported_share
        if average.robustness_value is not None:
            metrics[f"{prefix}.robustness_value"] = average.robustness_value
        if service_fit.coefficients is not None:
            metrics[f"{prefix}.shift"], metrics[f"{prefix}.need_gain"] = service_fit.coefficients
    metrics["effects.fit_seconds"] = fit.seconds
    return metrics


def effects_card_section(fit: EffectFit) -> str:
    """Write the model card's section on effect models (Markdown)."""
    lines = [
        "## Effect models (expected benefit)",
        "",
        "Cross-fitted DR-learner per service against no service (see `docs/effects.md`). "
        "Average effect on the six-month outcome among eligible clients who received the "
        "service or none, inside common support; 95 % interval; omitted-variable bounds "
        "(DoubleML, cf_y = cf_d = 0.03); robustness value (how strong a hidden confounder "
        "would have to be to explain the effect away).",
        "",
        "| service | average effect | 95 % interval | bounds | robustness value | naive "
        "difference | inside support | final stage |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for service, service_fit in fit.services.items():
        a = service_fit.average
        bounds = (
            f"[{a.bound_lower:+.3f}, {a.bound_upper:+.3f}]"
            if a.bound_lower is not None and a.bound_upper is not None
            else "-"
        )
        rv = "-" if a.robustness_value is None else f"{a.robustness_value:.3f}"
        lines.append(
            f"| {service} | {a.estimate:+.3f} | [{a.lower:+.3f}, {a.upper:+.3f}] | {bounds} | "
            f"{rv} | {service_fit.naive_difference:+.3f} | {service_fit.supported_share:.0%} | "
            f"{_stage_text(service_fit.final_stage, service_fit.coefficients)} |"
        )
    for service, reason in fit.skipped.items():
        lines.append(f"| {service} | not estimable: {reason} | | | | | | |")
    lines += [
        "",
        "Final stage `index`: the service shifts the log-odds of the outcome by "
        "shift + need gain × need (need for the service, 0 to 1, from a need model of the "
        "recorded labels), so the estimate varies between clients through their need and "
        "their chance without any service. `trees`: a LightGBM regressor on every field.",
        "",
        "These are estimates from observational history: they assume that, among clients "
        "who look alike in the register, who got a service did not depend on anything "
        "that also drives the outcome. Read them next to need, never instead of it.",
        "",
    ]
    return "\n".join(lines)


def _stage_text(stage: str | None, coefficients: tuple[float, float] | None) -> str:
    if coefficients is None:
        return stage or "-"
    return f"{stage}: shift {coefficients[0]:+.2f}, need gain {coefficients[1]:+.2f}"


def train_effects(
    frame: pd.DataFrame,
    schema: Schema,
    directory: str | Path,
    *,
    settings: EffectsSettings | None = None,
) -> EffectsOutcome:
    """Fit the effect models on ``frame``, save them into ``directory``, and report.

    Parameters
    ----------
    frame : pandas.DataFrame
        The validated register frame (with the schema's history columns).
    schema : Schema
        The training schema.
    directory : str or Path
        The model artifact directory; ``effects/`` and ``effects_report.json`` go in it.
    settings : EffectsSettings, optional
        Defaults when omitted.

    Returns
    -------
    EffectsOutcome
    """
    settings = settings or EffectsSettings()
    reason = None if settings.enabled else "effect models skipped (--no-effects)"
    reason = reason or effects_applicable(schema, frame)
    if reason is not None:
        return EffectsOutcome(fit=None, note=reason)
    fit = fit_effects(
        frame,
        schema,
        n_folds=settings.n_folds,
        seed=settings.seed,
        min_propensity=settings.min_propensity,
        control=settings.control,
        num_threads=settings.num_threads,
        final_stage=settings.final_stage,
    )
    root = fit.models.save(directory)
    report_path = Path(directory) / EFFECTS_REPORT
    report_path.write_text(json.dumps(fit.report(), indent=2, default=str), "utf-8")
    files = [report_path, *sorted(p for p in root.rglob("*") if p.is_file())]
    return EffectsOutcome(
        fit=fit,
        files=files,
        metrics=flat_effect_metrics(fit),
        card_section=effects_card_section(fit),
    )


def effect_report_summary(report: dict[str, Any]) -> dict[str, float]:
    """Average effect per service from a saved ``effects_report.json``."""
    return {
        service: float(entry["average_effect"]["estimate"])
        for service, entry in report.get("services", {}).items()
    }
