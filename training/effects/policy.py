"""Who would get each service under a rule, within the register's capacities.

A rule scores every (client, service) pair; :func:`allocate` hands out services greedily,
best score first, each client at most one service and each service at most its
capacity (by default, as many clients as received it in the history). Pairs that are
not allowed (ineligible, not estimable) carry NaN; with ``positive_only`` a service is
only given where its score is above zero (a benefit rule never gives a service that is
estimated to harm).
"""

from __future__ import annotations

import numpy as np

from models.allocation import NO_SERVICE as NO_SERVICE
from models.allocation import allocate as allocate


def policy_value(assigned: np.ndarray, untreated: np.ndarray, true_effects: np.ndarray) -> float:
    """Compute the true mean outcome probability when each client gets ``assigned``."""
    rows = np.arange(len(assigned))
    gain = np.where(assigned >= 0, true_effects[rows, np.maximum(assigned, 0)], 0.0)
    return float(np.mean(untreated + gain))
