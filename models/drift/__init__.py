"""The feed guard: refuse an extract whose data no longer looks like the training data.

Deployed profiling systems failed on broken data feeds more than on their models (a
failed join, swapped codes, a unit change, a column filled with a default). At
training, :func:`build_reference` stores a *reference profile* of the training data in
the model artifact (``feed_reference.json``): per field the missing share, the shares
of each category or of each quantile bin, quantiles, the range and the most common
value's share; per data source the share of clients with any data. Before scoring, a
:class:`ProfileAccumulator` gathers the same statistics over an extract, chunk by
chunk, and :func:`compare_profiles` checks them against the reference under a
:class:`DriftPolicy` (thresholds in YAML, with defaults): the population stability
index (PSI) and the Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``)
of each binned distribution, jumps in missingness, categories never seen in
training, values beyond the training range, columns that became constant, and
sources whose data vanished. The :class:`DriftReport` names each field, statistic,
reference value and new value.
"""

from __future__ import annotations

from models.drift.compare import (
    DriftFinding,
    DriftReport,
    FieldDrift,
    check_frame,
    compare_profiles,
    render_drift_report,
)
from models.drift.policy import DriftPolicy, load_drift_policy
from models.drift.profile import (
    REFERENCE_FILE,
    FieldReference,
    ObservedProfile,
    ProfileAccumulator,
    ReferenceProfile,
    SourceReference,
    build_reference,
    monitored_fields,
    read_reference,
    write_reference,
)

__all__ = [
    "REFERENCE_FILE",
    "DriftFinding",
    "DriftPolicy",
    "DriftReport",
    "FieldDrift",
    "FieldReference",
    "ObservedProfile",
    "ProfileAccumulator",
    "ReferenceProfile",
    "SourceReference",
    "build_reference",
    "check_frame",
    "compare_profiles",
    "load_drift_policy",
    "monitored_fields",
    "read_reference",
    "render_drift_report",
    "write_reference",
]
