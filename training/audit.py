"""The fairness audit of a freshly trained model on its held-out test split.

Uses the ``fairness`` package: the audit is written into the model artifact directory
as ``fairness_audit.json`` (and ``fairness_audit.html``), so the API and ``tarve
promote`` read it from the registered version, and the gate's verdict becomes a tag of
that version. A schema without audit groups gets no audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fairness import (
    AuditReport,
    audit_model,
    gate_failures,
    load_policy,
    with_benefit_view,
    write_report,
)
from models.model import ServiceNeedModel
from training.config import FairnessConfig

FAIRNESS_JSON = "fairness_audit.json"
FAIRNESS_HTML = "fairness_audit.html"


@dataclass
class FairnessOutcome:
    """The typed audit report, its verdict and the lines that would block promotion."""

    report: AuditReport
    verdict: str
    gate_failures: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return the audit's JSON form."""
        return self.report.to_dict()

    def stamp(self, **model_fields: Any) -> None:
        """Add fields (e.g. version, run id known only later) to the report's model section."""
        self.report = self.report.with_model_fields(**model_fields)

    def add_benefit_view(
        self, model: ServiceNeedModel, frame: pd.DataFrame, scores: pd.DataFrame
    ) -> None:
        """Add the benefit view once the effect models exist (they are fitted after the audit)."""
        self.report = with_benefit_view(self.report, model, frame, scores=scores)

    def write(self, directory: Path) -> list[Path]:
        """Write ``fairness_audit.json`` and ``fairness_audit.html`` into ``directory``."""
        return list(write_report(self.report, directory, names=(FAIRNESS_JSON, FAIRNESS_HTML)))


def audit_test_split(
    model: ServiceNeedModel,
    test_frame: pd.DataFrame,
    *,
    config: FairnessConfig,
    metadata: dict[str, Any],
    top_k: int,
    scores: pd.DataFrame | None = None,
) -> FairnessOutcome | None:
    """Audit ``model`` on the test rows; None when disabled or the schema has no groups.

    Parameters
    ----------
    model : ServiceNeedModel
        The calibrated model with thresholds.
    test_frame : DataFrame
        Canonical test rows with labels and audit-group fields.
    config : FairnessConfig
        Whether to audit, and the policy file.
    metadata : dict
        Stamped on the report (name, version, data fingerprint ...).
    top_k : int
        Ranking size of the allocation view.
    scores : DataFrame, optional
        Calibrated test probabilities already computed (one column per service).

    Returns
    -------
    FairnessOutcome or None
    """
    if not config.enabled or not model.schema.audit_groups:
        return None
    policy = load_policy(config.policy)
    report = audit_model(
        model, test_frame, policy=policy, metadata=metadata, top_k=top_k, scores=scores
    )
    return FairnessOutcome(
        report=report, verdict=report.verdict, gate_failures=gate_failures(report, policy)
    )
