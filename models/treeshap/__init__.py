"""Exact TreeSHAP for tarve's boosters, equal to LightGBM's ``pred_contrib``, faster.

A served model never changes between reloads, so everything of path-dependent
TreeSHAP that does not depend on the row is computed once, when the model loads:
each leaf's distinct path features, their zero fractions, and a table over the
subsets of those features (see :mod:`models.treeshap.forest`). A row then costs one
pass over each tree's nodes and a few table look-ups per leaf, in numba-compiled
code, for all services at once; blocks of rows run on all cores.

:func:`explainer_for` returns :class:`TreeShapExplainer` when the boosters allow it and
:class:`PredContribExplainer` (LightGBM's own ``pred_contrib``) otherwise, e.g. for
linear trees; ``describe()`` says which path is in use.
"""

from models.treeshap.explainer import (
    KERNEL_PATH,
    PRED_CONTRIB_PATH,
    PredContribExplainer,
    TreeShapExplainer,
    explainer_for,
)
from models.treeshap.trees import UnsupportedModelError

__all__ = [
    "KERNEL_PATH",
    "PRED_CONTRIB_PATH",
    "PredContribExplainer",
    "TreeShapExplainer",
    "UnsupportedModelError",
    "explainer_for",
]
