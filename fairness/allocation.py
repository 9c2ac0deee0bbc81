"""The allocation view: how often each group gets a service among its top ``k``.

A ranking model allocates attention: for every group (one value of one attribute) and
service it compares the share of clients for whom the service is among their ``k``
highest scores with the group's recorded need rate.
"""

from __future__ import annotations

import numpy as np

from fairness import intervals as ci
from fairness.assemble import estimate_at
from fairness.estimates import Estimates
from fairness.intervals import Array
from fairness.metrics import Partition, safe_ratio, top_k_membership
from fairness.policy import Policy
from fairness.report import Allocation, AllocationGroup, AllocationShare, CellKey


def _column_sums(part: Partition, values: Array) -> Array:
    """Sum of each column of ``values`` per cell of ``part``, shape (cells, columns)."""
    return np.stack(
        [
            np.bincount(part.codes, weights=values[:, j], minlength=part.size)
            for j in range(values.shape[1])
        ],
        axis=1,
    )


def _shares(part: Partition, member: Array, need: Array, z: float) -> dict[str, Estimates]:
    trials = np.bincount(part.codes, minlength=part.size).astype(np.float64)[:, None]
    top, needs = _column_sums(part, member), _column_sums(part, need)
    top_share = Estimates(safe_ratio(top, trials), *ci.wilson_interval(top, trials, z=z))
    need_rate = Estimates(safe_ratio(needs, trials), *ci.wilson_interval(needs, trials, z=z))
    difference = Estimates(
        top_share.value - need_rate.value,
        *ci.newcombe_difference_interval(top, trials, needs, trials, z=z),
    )
    return {"top_k_share": top_share, "need_rate": need_rate, "difference": difference}


def allocation_view(
    partitions: list[Partition],
    labels: Array,
    scores: Array,
    services: list[str],
    *,
    policy: Policy,
    top_k: int,
    z: float,
) -> Allocation:
    """Share of each group with a service in its top ``k`` against the group's need rate.

    Parameters
    ----------
    partitions : list of Partition
        The audit's partitions; pairs of attributes are skipped.
    labels, scores : ndarray, shape (rows, services)
        Needs (``NaN``: not audited for the service, never ranked) and scores.
    services : list of str
        The service ids, in column order.
    policy : Policy
        Supplies ``min_group_size`` (smaller groups are suppressed).
    top_k : int
        Ranking size.
    z : float
        Normal quantile of the intervals.

    Returns
    -------
    Allocation
    """
    ranked = np.where(np.isnan(labels), np.nan, scores)
    member = top_k_membership(ranked, top_k).astype(np.float64)
    need = np.nan_to_num(labels)
    groups: list[AllocationGroup] = []
    suppressed: list[CellKey] = []
    for part in (p for p in partitions if len(p.attributes) <= 1):
        n = np.bincount(part.codes, minlength=part.size)
        shares = _shares(part, member, need, z)
        for position, values in enumerate(part.values):
            if n[position] == 0:
                continue
            if n[position] < policy.min_group_size:
                suppressed.append(CellKey(attributes=list(part.attributes), values=list(values)))
                continue
            per_service = {
                service: AllocationShare.model_validate(
                    {name: estimate_at(est, (position, j)) for name, est in shares.items()}
                )
                for j, service in enumerate(services)
            }
            groups.append(
                AllocationGroup(
                    kind=part.kind,  # type: ignore[arg-type]
                    attributes=list(part.attributes),
                    values=list(values),
                    n=int(n[position]),
                    services=per_service,
                )
            )
    return Allocation(top_k=top_k, groups=groups, suppressed=suppressed)
