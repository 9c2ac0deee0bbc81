"""The audit report as typed data: pydantic models whose JSON dump is the stored report.

The report is the whole result of an audit and needs nothing else to be read again:
:func:`fairness.render_html` renders it, :func:`fairness.gate_failures` re-judges it
under another policy, years later and without the data. ``report.model_dump(mode="json")``
is the JSON document (``format_version`` 3); :meth:`AuditReport.from_dict` (a checked
``model_validate``) reads a stored one back, and reads version 2 (no benefit view) too.

Outline::

    AuditReport
      model: ModelInfo             name, version and any other stamp (run id ...)
      data: DataInfo               rows, fingerprint, source, services, attributes
      policy: Policy               the audit's own policy
      method: Method               confidence levels and the interval methods
      summary: Summary             counts of gating checks by status
      services: [ServiceAudit]     names (fi/sv/en), verdict, population, cells
        Cell                       kind, attributes, values, n, reference
          metrics: CellMetrics     one Estimate (value + Interval) per metric
          comparisons: Comparisons difference (and ratio) against the reference
          flags: {metric: Flag}    decision interval, tolerance, status, gating
      findings: [Finding]          every failing or uncertain flag
      suppressed: [SuppressedCell] cells too small to show, and for which services
      allocation: Allocation       top-k share against need rate, per group
      benefit: BenefitView         estimated benefit by group; who gets each service under
                                   a benefit rule against a need rule (effect models only)
      overrides: [Override]        human decisions to release anyway
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fairness.policy import Metric, Policy

FORMAT: Literal["tarve-fairness-audit"] = "tarve-fairness-audit"
FORMAT_VERSION: Literal[3] = 3
READABLE_VERSIONS = (2, 3)
"""Versions :meth:`AuditReport.from_dict` reads: 2 is 3 without the benefit view."""
VERDICTS = ("pass", "fail", "uncertain")
REQUIRED_KEYS = (
    "format_version",
    "verdict",
    "model",
    "data",
    "policy",
    "method",
    "summary",
    "services",
    "findings",
    "suppressed",
    "overrides",
)

MSG_NOT_A_REPORT = "not a tarve fairness audit: {problem}"
MSG_FORMAT_VERSION = (
    "fairness audit format version {found!r} is not supported (expected {expected})"
)
MSG_OVERRIDE_REASON = "an override needs a non-empty reason"
MSG_OVERRIDE_WHO = "an override needs to name who decided it"

Verdict = Literal["pass", "fail", "uncertain"]
Status = Literal["pass", "fail", "uncertain", "not_evaluable"]
CellKind = Literal["population", "group", "intersection"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Interval(_Part):
    """A confidence interval; ``None`` ends when it cannot be computed."""

    low: float | None
    high: float | None

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """``(low, high)``."""
        return self.low, self.high


class Estimate(_Part):
    """A point estimate with its confidence interval (``None``: not computable)."""

    value: float | None
    interval: Interval


class RateComparison(_Part):
    """A rate of a cell against its reference: difference and ratio."""

    difference: Estimate
    ratio: Estimate


class MeanComparison(_Part):
    """A mean (or gap) of a cell against its reference: the difference only."""

    difference: Estimate


class CellMetrics(_Part):
    """Every metric of one cell and service, each with its interval."""

    base_rate: Estimate
    mean_score: Estimate
    selection_rate: Estimate
    tpr: Estimate
    fpr: Estimate
    fnr: Estimate
    precision: Estimate
    roc_auc: Estimate
    calibration_gap: Estimate
    ece: Estimate

    def get(self, metric: str) -> Estimate:
        """One metric by name."""
        estimate: Estimate = getattr(self, metric)
        return estimate


class Comparisons(_Part):
    """A group's metrics against its reference group."""

    base_rate: RateComparison
    selection_rate: RateComparison
    tpr: RateComparison
    fpr: RateComparison
    fnr: RateComparison
    precision: RateComparison
    mean_score: MeanComparison
    calibration_gap: MeanComparison


class Flag(_Part):
    """One policy check of a cell: value, decision interval, tolerance and status."""

    value: float | None
    interval: Interval
    tolerance: float
    status: Status
    gating: bool


class Reference(_Part):
    """The group a cell is compared with."""

    kind: Literal["rest", "overall", "largest"]
    n: int | None
    is_reference: bool


class Cell(_Part):
    """One cell (the population, a group, or an intersection) of one service."""

    kind: CellKind
    attributes: list[str]
    values: list[str]
    n: int
    metrics: CellMetrics
    reference: Reference | None = None
    comparisons: Comparisons | None = None
    flags: dict[Metric, Flag] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """``attribute = value`` pairs joined by ``&``."""
        return " & ".join(f"{a} = {v}" for a, v in zip(self.attributes, self.values, strict=True))

    def matches(self, values: dict[str, str]) -> bool:
        """Whether the cell is exactly these attribute values."""
        return dict(zip(self.attributes, self.values, strict=True)) == values


class ServiceAudit(_Part):
    """The audit of one service: its names, verdict, population and shown cells."""

    service: str
    label: dict[str, str]
    verdict: Verdict
    population: Cell | None
    cells: list[Cell]

    def name(self, lang: str) -> str:
        """Return the service's name in ``lang`` (its id when the report has no such name)."""
        return self.label.get(lang) or self.label.get("en") or self.service


class Finding(_Part):
    """A flag that failed or is uncertain, with the context a reader needs."""

    service: str
    kind: CellKind
    attributes: list[str]
    values: list[str]
    n: int
    metric: Metric
    value: float | None
    interval: Interval
    tolerance: float
    status: Status
    gating: bool
    need_rate: float | None
    reference_need_rate: float | None

    @property
    def attribute(self) -> str:
        """The attribute names joined by ``×``."""
        return " × ".join(self.attributes)

    @property
    def group(self) -> str:
        """The values joined by ``×``."""
        return " × ".join(self.values)

    @property
    def label(self) -> str:
        """``attribute = value`` pairs joined by ``&``."""
        return " & ".join(f"{a} = {v}" for a, v in zip(self.attributes, self.values, strict=True))


class SuppressedCell(_Part):
    """A cell too small to show, and the services for which it is."""

    attributes: list[str]
    values: list[str]
    services: list[str]

    @property
    def label(self) -> str:
        """``attribute = value`` pairs joined by ``&``."""
        return " & ".join(f"{a} = {v}" for a, v in zip(self.attributes, self.values, strict=True))


class AllocationShare(_Part):
    """How often a group gets a service in its top ``k``, against its need rate."""

    top_k_share: Estimate
    need_rate: Estimate
    difference: Estimate


class AllocationGroup(_Part):
    """The allocation view of one group (or the population)."""

    kind: CellKind
    attributes: list[str]
    values: list[str]
    n: int
    services: dict[str, AllocationShare]

    @property
    def label(self) -> str:
        """``attribute = value`` pairs joined by ``&``."""
        return " & ".join(f"{a} = {v}" for a, v in zip(self.attributes, self.values, strict=True))


class CellKey(_Part):
    """A cell named by its attributes and values."""

    attributes: list[str]
    values: list[str]


class Allocation(_Part):
    """Top-``k`` ranking shares of every group against its need rates."""

    top_k: int
    groups: list[AllocationGroup]
    suppressed: list[CellKey]


class BenefitShare(_Part):
    """One group and service in the benefit view.

    ``mean_benefit`` is the mean estimated benefit among the group's clients with an
    estimate (``estimable`` of them), with a normal interval over those clients. The
    shares are of the group's clients given the service under each rule; ``difference``
    is the benefit rule's share minus the need rule's.
    """

    estimable: int
    mean_benefit: Estimate
    need_rule_share: Estimate
    benefit_rule_share: Estimate
    difference: Estimate


class BenefitGroup(_Part):
    """The benefit view of one group (or the population)."""

    kind: CellKind
    attributes: list[str]
    values: list[str]
    n: int
    services: dict[str, BenefitShare]

    @property
    def label(self) -> str:
        """``attribute = value`` pairs joined by ``&``."""
        return " & ".join(f"{a} = {v}" for a, v in zip(self.attributes, self.values, strict=True))


class BenefitView(_Part):
    """Estimated benefit by group, and who would get each service under two rules.

    Both rules hand out the services that have an effect model, each client at most one
    and each service at most its ``capacity`` (how many clients received it in the
    audited history), greedily: the need rule by calibrated probability among eligible
    clients, the benefit rule by estimated benefit among clients with an estimate above
    zero. Benefits are in probability points (a fraction) of the six-month outcome.
    """

    services: list[str]
    capacity: dict[str, int]
    unit: Literal["probability points"] = "probability points"
    groups: list[BenefitGroup]
    suppressed: list[CellKey]


class Override(_Part):
    """A human decision to release a version despite what blocks it.

    ``verdict`` is the audit's verdict (``None`` when the version has no audit);
    ``failures`` are the gate lines that were overridden.
    """

    reason: str
    who: str
    when: str
    verdict: Verdict | None
    failures: list[str]


class Method(_Part):
    """How the figures were computed."""

    confidence: float
    flag_confidence: float
    gating_checks: int
    proportion_interval: str = "wilson"
    difference_interval: str = "newcombe-hybrid-score"
    ratio_interval: str = "katz-log"
    mean_interval: str = "normal"
    auc_interval: str = "delong"
    ece_interval: str


class CheckCounts(_Part):
    """Gating checks by status."""

    passed: int = Field(alias="pass")
    fail: int
    uncertain: int
    not_evaluable: int

    model_config = ConfigDict(extra="forbid", validate_by_name=True, serialize_by_alias=True)

    def get(self, status: str) -> int:
        """Return the count of one status (``pass``, ``fail``, ``uncertain``, ``not_evaluable``)."""
        return int(getattr(self, "passed" if status == "pass" else status))


class Summary(_Part):
    """Counts of the gating checks and of the findings."""

    checks: CheckCounts
    gating_metrics: list[Metric]
    failures: int
    uncertain: int
    informational_flags: int


class ModelInfo(BaseModel):
    """What was audited: ``name``, ``version`` and any other stamp (run id, schema ...)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    version: str | int | None = None
    manifest_sha256: str | None = None

    @property
    def extras(self) -> dict[str, Any]:
        """The stamps beyond name and version."""
        return dict(self.model_extra or {})


class DataInfo(_Part):
    """The audited data."""

    rows: int
    fingerprint: str
    source: str | None
    services: list[str]
    attributes: list[str]


class AuditReport(BaseModel):
    """The result of a fairness audit.

    Build one with :func:`fairness.run_audit` (or ``audit_model``,
    ``audit_predictions_file``); read a stored one with :meth:`from_dict`.
    """

    model_config = ConfigDict(extra="forbid")

    format: Literal["tarve-fairness-audit"] = FORMAT
    format_version: Literal[3] = FORMAT_VERSION
    verdict: Verdict
    created_at: str
    languages: list[str] = Field(default_factory=lambda: ["fi", "sv", "en"])
    model: ModelInfo
    data: DataInfo
    policy: Policy
    method: Method
    summary: Summary
    services: list[ServiceAudit]
    findings: list[Finding]
    suppressed: list[SuppressedCell]
    allocation: Allocation | None
    allocation_note: str | None
    benefit: BenefitView | None = None
    benefit_note: str | None = None
    overrides: list[Override] = Field(default_factory=list)

    # -- reading ----------------------------------------------------------------------
    @property
    def failures(self) -> list[Finding]:
        """Gating flags that failed."""
        return [f for f in self.findings if f.gating and f.status == "fail"]

    @property
    def uncertain(self) -> list[Finding]:
        """Gating flags that are uncertain."""
        return [f for f in self.findings if f.gating and f.status == "uncertain"]

    @property
    def service_ids(self) -> list[str]:
        """The audited services, in order."""
        return [block.service for block in self.services]

    def service(self, name: str) -> ServiceAudit:
        """Return the audit of one service; ``KeyError`` when it was not audited."""
        for block in self.services:
            if block.service == name:
                return block
        raise KeyError(name)

    def cell(self, service: str, **values: str) -> Cell | None:
        """One cell of a service by attribute values, e.g. ``cell(s, immigrant="yes")``.

        ``None`` when the cell is suppressed or empty.
        """
        return next((c for c in self.service(service).cells if c.matches(values)), None)

    def iter_cells(self) -> Iterator[tuple[ServiceAudit, Cell]]:
        """Every shown (service, cell) pair, population excluded."""
        for block in self.services:
            for cell in block.cells:
                yield block, cell

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (``model_dump(mode="json")``)."""
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = None) -> str:
        """Return the report as JSON text (``NaN`` never appears: missing figures are null)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> AuditReport:
        """Read a stored report after checking its format and version.

        Parameters
        ----------
        data : dict
            The JSON form (as written by :meth:`to_dict` or :meth:`to_json`).

        Returns
        -------
        AuditReport

        Raises
        ------
        ValueError
            Not a mapping, missing keys, an unsupported ``format_version``, or fields
            that do not fit the report's shape.
        """
        if not isinstance(data, dict):
            raise ValueError(MSG_NOT_A_REPORT.format(problem="the top level must be a mapping"))
        if data.get("format_version") not in READABLE_VERSIONS:
            raise ValueError(
                MSG_FORMAT_VERSION.format(
                    found=data.get("format_version"), expected=list(READABLE_VERSIONS)
                )
            )
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise ValueError(MSG_NOT_A_REPORT.format(problem=f"missing keys {missing}"))
        if data.get("format_version") == 2:  # the same shape without the benefit view
            data = {**data, "format_version": FORMAT_VERSION}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(MSG_NOT_A_REPORT.format(problem=f"{where}: {first['msg']}")) from exc

    def with_model_fields(self, **fields: Any) -> AuditReport:
        """Return a copy whose model section also carries ``fields`` (e.g. a run id)."""
        model = ModelInfo.model_validate({**self.model.model_dump(mode="json"), **fields})
        return self.model_copy(update={"model": model})

    def __repr__(self) -> str:
        """Verdict, failures, services and rows."""
        return (
            f"AuditReport(verdict={self.verdict!r}, failures={len(self.failures)}, "
            f"services={len(self.services)}, rows={self.data.rows})"
        )
