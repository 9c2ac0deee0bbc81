"""Who would get each service under a rule, within capacities: the greedy allocation.

A rule scores every (client, service) pair; :func:`allocate` hands out services greedily,
best score first, each client at most one service and each service at most its
capacity (for example, as many clients as received it in the history). Pairs that are
not allowed (ineligible, not estimable) carry NaN; with ``positive_only`` a service is
only given where its score is above zero (a benefit rule never gives a service that is
estimated to harm). Shared by the effect evaluation (``training.effects``) and the
fairness audit's benefit view (``fairness.benefit``).
"""

from __future__ import annotations

import numpy as np

NO_SERVICE = -1


def allocate(
    scores: np.ndarray, capacity: np.ndarray, *, positive_only: bool = False
) -> np.ndarray:
    """Give each client a service index under a score rule (``NO_SERVICE`` for none).

    Parameters
    ----------
    scores : ndarray, shape (rows, services)
        Higher is better; NaN marks a pair that may not be chosen.
    capacity : ndarray of int, shape (services,)
        How many clients each service can take.
    positive_only : bool, default False
        Give a service only where its score is above zero.

    Returns
    -------
    ndarray of int, shape (rows,)
    """
    rows, services = scores.shape
    flat = scores.ravel()
    allowed = ~np.isnan(flat)
    if positive_only:
        allowed &= flat > 0
    candidates = np.flatnonzero(allowed)
    order = candidates[np.argsort(-flat[candidates], kind="stable")]
    remaining = np.asarray(capacity, dtype=np.int64).copy()
    assigned = np.full(rows, NO_SERVICE, dtype=np.int64)
    left = int(remaining.sum())
    for pair in order:
        if left == 0:
            break
        row, service = divmod(int(pair), services)
        if assigned[row] != NO_SERVICE or remaining[service] == 0:
            continue
        assigned[row] = service
        remaining[service] -= 1
        left -= 1
    return assigned
