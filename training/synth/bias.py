"""The injected historical bias in the recorded labels: one definition, one switch.

Caseworkers in the generator's past recorded the need for labour market training less
often for immigrants (the schema's ``immigrant`` audit group: foreign background or a
foreign mother tongue) than for others *with the same true need*: only
``recorded_share`` (55 %) of the needs they would otherwise have recorded. The oracle
columns are untouched, so the cost of the bias can be measured: recorded vs true
prevalence for the group, and the TPR / selection-rate gap of a model trained on the
recorded labels. ``generate_register(bias=False)`` (CLI ``--no-bias``) switches it off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.groups import audit_group_values
from models.schema import Schema
from training.synth.sampling import FloatArray

MSG_NO_AUDIT_GROUP = (
    "the historical bias needs audit group {group!r} in the schema; "
    "add it or generate with bias=False"
)


@dataclass(frozen=True)
class HistoricalBias:
    """Who was under-recorded for which service, and how much.

    Attributes
    ----------
    service : str
        The service whose need was under-recorded.
    audit_group : str
        Name of the schema's rule audit group whose members were affected.
    recorded_share : float
        Share of the (otherwise recorded) needs that were recorded for members.
    """

    service: str
    audit_group: str
    recorded_share: float


HISTORICAL_BIAS = HistoricalBias(
    service="labour_market_training", audit_group="immigrant", recorded_share=0.55
)


def affected_rows(schema: Schema, frame: pd.DataFrame, *, bias: HistoricalBias) -> np.ndarray:
    """Boolean mask of the clients in the bias's audit group."""
    groups = {group.name: group for group in schema.audit_groups}
    if bias.audit_group not in groups:
        raise ValueError(MSG_NO_AUDIT_GROUP.format(group=bias.audit_group))
    return np.asarray(audit_group_values(groups[bias.audit_group], frame) == "yes", dtype=bool)


def recall_factors(
    schema: Schema, frame: pd.DataFrame, *, enabled: bool, bias: HistoricalBias = HISTORICAL_BIAS
) -> dict[str, FloatArray]:
    """Per-service multiplier of the caseworker's recall (1 where there is no bias).

    Parameters
    ----------
    schema : Schema
        The schema, for the audit group's rule.
    frame : pandas.DataFrame
        The register's fields (canonical dtypes).
    enabled : bool
        Whether the bias is injected.
    bias : HistoricalBias
        The bias definition; :data:`HISTORICAL_BIAS` by default.

    Returns
    -------
    dict of str to numpy.ndarray
        Only services with a bias appear; others use a factor of 1.
    """
    if not enabled or bias.service not in schema.label_by_name:
        return {}
    member = affected_rows(schema, frame, bias=bias)
    return {bias.service: np.where(member, bias.recorded_share, 1.0)}
