"""The benefit view: estimated benefit by group, and who gets each service under two rules.

Need is not benefit. For every group (one value of one attribute, and the population)
and every service with an effect model, the view gives the mean estimated benefit of
the group's clients with an estimate, and the share of the group that would get the
service under a need rule and under a benefit rule. Both rules hand out services within
the same capacities (how many clients received each service in the audited history)
with :func:`models.allocation.allocate`: the need rule by calibrated probability among
eligible clients, the benefit rule by estimated benefit among clients with an estimate
above zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fairness import intervals as ci
from fairness.assemble import estimate_at
from fairness.estimates import Estimates
from fairness.intervals import Array
from fairness.metrics import Partition, safe_ratio
from fairness.policy import Policy
from fairness.report import BenefitGroup, BenefitShare, BenefitView, CellKey
from models.allocation import allocate

if TYPE_CHECKING:
    from models.model import ServiceNeedModel

NOTE_NO_EFFECTS = "not computed: the model has no effect models"
NOTE_NO_HISTORY = "not computed: the data has no {column!r} column (the service received)"
NOTE_NO_SERVICES = "not computed: no service has an effect model"
MSG_SHAPES = "benefit inputs: {name} has shape {found}; expected {expected}"


@dataclass(frozen=True)
class BenefitInputs:
    """What the benefit view needs, row-aligned with the audit's labels.

    Attributes
    ----------
    services : list of str
        The services with an effect model (columns of the arrays).
    estimate : ndarray, shape (rows, services)
        Estimated benefit; NaN where not estimable.
    need : ndarray, shape (rows, services)
        Calibrated probability of need; NaN where the client is not eligible.
    capacity : ndarray of int, shape (services,)
        How many clients each service can take.
    """

    services: list[str]
    estimate: Array
    need: Array
    capacity: np.ndarray

    def __post_init__(self) -> None:
        """Check the arrays agree with ``services``."""
        expected = (len(self.estimate), len(self.services))
        for name in ("estimate", "need"):
            found = getattr(self, name).shape
            if found != expected:
                raise ValueError(MSG_SHAPES.format(name=name, found=found, expected=expected))
        if np.shape(self.capacity) != (len(self.services),):
            raise ValueError(
                MSG_SHAPES.format(
                    name="capacity", found=np.shape(self.capacity), expected=(len(self.services),)
                )
            )


def model_benefit_inputs(
    model: ServiceNeedModel, frame: pd.DataFrame, scores: pd.DataFrame
) -> tuple[BenefitInputs | None, str | None]:
    """Build the benefit inputs of a tarve model on a frame, or say why not.

    Parameters
    ----------
    model : ServiceNeedModel
        ``model.effects`` holds the effect models (None: no view).
    frame : DataFrame
        Canonical records with the schema's treatment column (the service received).
    scores : DataFrame
        The model's calibrated probabilities for ``frame`` (one column per service).
    """
    from models.benefit import benefit_table
    from models.effects import eligibility_matrix

    effects = model.effects
    if effects is None:
        return None, NOTE_NO_EFFECTS
    column = model.schema.treatment_column
    if column is None or column not in frame.columns:
        return None, NOTE_NO_HISTORY.format(column=column)
    services = [service for service in model.services if service in effects.effects]
    if not services:
        return None, NOTE_NO_SERVICES
    eligible = eligibility_matrix(model.schema, frame, model.services)
    table = benefit_table(model, model.encoder.encode_frame(frame), eligible)
    columns = [model.services.index(service) for service in services]
    need = scores[model.services].to_numpy(dtype=np.float64)
    need = np.where(eligible, need, np.nan)[:, columns]
    received = frame[column].astype("string").to_numpy(dtype=object)
    capacity = np.array([int((received == service).sum()) for service in services])
    return (
        BenefitInputs(
            services=services,
            estimate=table.estimate[:, columns].astype(np.float64),
            need=need,
            capacity=capacity,
        ),
        None,
    )


def _per_cell(part: Partition, values: Array) -> Array:
    """Sum of each column of ``values`` per cell of ``part``, shape (cells, columns)."""
    return np.stack(
        [
            np.bincount(part.codes, weights=values[:, j], minlength=part.size)
            for j in range(values.shape[1])
        ],
        axis=1,
    )


def _one_hot(assigned: np.ndarray, services: int) -> Array:
    out = np.zeros((len(assigned), services))
    given = assigned >= 0
    out[np.flatnonzero(given), assigned[given]] = 1.0
    return out


def _estimates(part: Partition, inputs: BenefitInputs, z: float) -> dict[str, Estimates]:
    estimated = ~np.isnan(inputs.estimate)
    value = np.where(estimated, inputs.estimate, 0.0)
    k = _per_cell(part, estimated.astype(np.float64))
    mean, variance = ci.mean_and_variance(_per_cell(part, value), _per_cell(part, value * value), k)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(variance / k)
    low, high = ci.normal_interval(mean, se, z=z)
    services = len(inputs.services)
    trials = np.bincount(part.codes, minlength=part.size).astype(np.float64)[:, None]
    trials = np.repeat(trials, services, axis=1)
    need = _per_cell(part, _one_hot(allocate(inputs.need, inputs.capacity), services))
    benefit = _per_cell(
        part,
        _one_hot(allocate(inputs.estimate, inputs.capacity, positive_only=True), services),
    )
    return {
        "estimable": Estimates(k, k, k),
        "mean_benefit": Estimates(mean, low, high),
        "need_rule_share": Estimates(
            safe_ratio(need, trials), *ci.wilson_interval(need, trials, z=z)
        ),
        "benefit_rule_share": Estimates(
            safe_ratio(benefit, trials), *ci.wilson_interval(benefit, trials, z=z)
        ),
        "difference": Estimates(
            safe_ratio(benefit, trials) - safe_ratio(need, trials),
            *ci.newcombe_difference_interval(benefit, trials, need, trials, z=z),
        ),
    }


def benefit_view(
    partitions: Sequence[Partition], inputs: BenefitInputs, *, policy: Policy, z: float
) -> BenefitView:
    """Estimated benefit per group and service, and the shares under the two rules.

    Parameters
    ----------
    partitions : sequence of Partition
        The audit's partitions; pairs of attributes are skipped.
    inputs : BenefitInputs
        Estimates, need scores and capacities, row-aligned with the partitions.
    policy : Policy
        Supplies ``min_group_size`` (smaller groups are suppressed).
    z : float
        Normal quantile of the intervals.

    Returns
    -------
    BenefitView
    """
    groups: list[BenefitGroup] = []
    suppressed: list[CellKey] = []
    for part in (p for p in partitions if len(p.attributes) <= 1):
        n = np.bincount(part.codes, minlength=part.size)
        estimates = _estimates(part, inputs, z)
        for position, values in enumerate(part.values):
            if n[position] == 0:
                continue
            if n[position] < policy.min_group_size:
                suppressed.append(CellKey(attributes=list(part.attributes), values=list(values)))
                continue
            per_service = {}
            for j, service in enumerate(inputs.services):
                figures = {
                    name: estimate_at(est, (position, j))
                    for name, est in estimates.items()
                    if name != "estimable"
                }
                per_service[service] = BenefitShare(
                    estimable=int(estimates["estimable"].value[position, j]), **figures
                )
            groups.append(
                BenefitGroup(
                    kind=part.kind,  # type: ignore[arg-type]
                    attributes=list(part.attributes),
                    values=list(values),
                    n=int(n[position]),
                    services=per_service,
                )
            )
    return BenefitView(
        services=list(inputs.services),
        capacity={s: int(c) for s, c in zip(inputs.services, inputs.capacity, strict=True)},
        groups=groups,
        suppressed=suppressed,
    )
