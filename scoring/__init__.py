"""Batch scoring: a whole register extract through the model, behind the feed guard.

:func:`score_extract` reads an extract in chunks (memory stays bounded), validates it
with the shared validator, refuses it when the feed guard (:mod:`models.drift`) finds
it unlike the training data, and ranks every service for every client with the API's
rules (:mod:`models.ranking`): probability, recommended flag, eligibility with the
excluding rule, and TreeSHAP reasons. The output (Parquet or CSV, one row per client
and service) is written in resumable parts and published atomically, with a JSON
summary next to it. :func:`score_on_dask` runs the same per-chunk code on a Dask
cluster with ``map_partitions``. This package imports only :mod:`models`; the
``tarve score`` command (in :mod:`tarve`) adds the audit-log entry.
"""

from __future__ import annotations

from scoring.run import (
    FeedRefused,
    ModelHandle,
    Progress,
    ScoreOptions,
    open_model,
    score_extract,
    sidecar_path,
)
from scoring.summary import ScoreSummary, render_summary

__all__ = [
    "FeedRefused",
    "ModelHandle",
    "Progress",
    "ScoreOptions",
    "ScoreSummary",
    "open_model",
    "render_summary",
    "score_extract",
    "sidecar_path",
]
