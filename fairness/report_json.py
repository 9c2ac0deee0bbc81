"""The audit report: a versioned JSON document, and the object that wraps it.

The JSON is the report: :meth:`AuditReport.to_html` renders from it alone, so a stored
``audit.json`` can be rendered again (by the API, or years later) without the data.
"""

from __future__ import annotations

import copy as _copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

FORMAT = "tarve-fairness-audit"
FORMAT_VERSION = 1
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
VERDICTS = ("pass", "fail", "uncertain")

MSG_NOT_A_REPORT = "not a tarve fairness audit: {problem}"
MSG_FORMAT_VERSION = (
    "fairness audit format version {found!r} is not supported (expected {expected})"
)
MSG_OVERRIDE_REASON = "an override needs a non-empty reason"
MSG_OVERRIDE_WHO = "an override needs to name who decided it"


class AuditReport:
    """The result of a fairness audit.

    Build one with :func:`fairness.run_audit` (or ``audit_model``,
    ``audit_predictions_file``) or read a stored one with :meth:`from_dict`.

    Attributes
    ----------
    verdict : str
        ``"pass"``, ``"fail"`` or ``"uncertain"`` under the audit's policy.
    failures : list of dict
        Gating flags that failed: service, kind, attribute, group, metric, value,
        interval, tolerance, n.
    """

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload

    # -- reading ----------------------------------------------------------------------
    @property
    def verdict(self) -> str:
        return str(self._payload["verdict"])

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Every flag that failed or is uncertain, gating or informational."""
        return [dict(finding) for finding in self._payload["findings"]]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["gating"] and f["status"] == "fail"]

    @property
    def uncertain(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["gating"] and f["status"] == "uncertain"]

    @property
    def suppressed(self) -> list[dict[str, Any]]:
        return _copy.deepcopy(self._payload["suppressed"])

    @property
    def overrides(self) -> list[dict[str, Any]]:
        return _copy.deepcopy(self._payload["overrides"])

    @property
    def services(self) -> list[str]:
        return [block["service"] for block in self._payload["services"]]

    def service(self, name: str) -> dict[str, Any]:
        """The block of one service: population metrics and every shown cell."""
        for block in self._payload["services"]:
            if block["service"] == name:
                return _copy.deepcopy(block)
        raise KeyError(name)

    def cell(self, service: str, **values: str) -> dict[str, Any] | None:
        """One cell of a service by attribute values, e.g. ``cell(s, immigrant="yes")``.

        ``None`` when the cell is suppressed or empty.
        """
        wanted = sorted(values.items())
        for entry in self.service(service)["cells"]:
            if sorted(zip(entry["attributes"], entry["values"], strict=True)) == wanted:
                return entry
        return None

    # -- writing ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The complete report as JSON-ready data (a deep copy)."""
        copied: dict[str, Any] = json.loads(self.to_json(indent=None))
        return copied

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, copy: bool = True) -> AuditReport:
        """Wrap a report read from JSON, after checking its format and version.

        Parameters
        ----------
        data : dict
            The JSON form (as written by :meth:`to_dict` or :meth:`to_json`).
        copy : bool, default True
            Copy ``data``, so later changes to it do not reach the report.

        Raises
        ------
        ValueError
            Not a mapping, missing keys, or an unsupported ``format_version``.
        """
        if not isinstance(data, dict):
            raise ValueError(MSG_NOT_A_REPORT.format(problem="the top level must be a mapping"))
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                MSG_FORMAT_VERSION.format(found=data.get("format_version"), expected=FORMAT_VERSION)
            )
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise ValueError(MSG_NOT_A_REPORT.format(problem=f"missing keys {missing}"))
        if data["verdict"] not in VERDICTS:
            raise ValueError(MSG_NOT_A_REPORT.format(problem=f"verdict {data['verdict']!r}"))
        return cls(json.loads(json.dumps(data, allow_nan=False)) if copy else data)

    def to_json(self, *, indent: int | None = None) -> str:
        """The report as JSON text (``NaN`` never appears: missing figures are null)."""
        return json.dumps(self._payload, indent=indent, ensure_ascii=False, allow_nan=False)

    def to_html(self) -> str:
        """A self-contained HTML report (inline CSS and SVG, no external assets)."""
        from fairness.report_html import render_html

        return render_html(self._payload)

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``audit.json`` and ``audit.html`` into ``directory`` (created if missing)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out / "audit.json", out / "audit.html"
        json_path.write_text(self.to_json(), encoding="utf-8")
        html_path.write_text(self.to_html(), encoding="utf-8")
        return json_path, html_path

    def record_override(
        self, reason: str, who: str, when: dt.datetime | str | None = None
    ) -> dict[str, Any]:
        """Record a human decision to release despite the verdict; it joins the report.

        Parameters
        ----------
        reason : str
            Why the release goes ahead.
        who : str
            Who decided (a person or role, as the organisation identifies them).
        when : datetime or str, optional
            When; now (UTC) when omitted.

        Returns
        -------
        dict
            The recorded override: reason, who, when, the verdict and failures it
            overrode.
        """
        if not reason or not reason.strip():
            raise ValueError(MSG_OVERRIDE_REASON)
        if not who or not who.strip():
            raise ValueError(MSG_OVERRIDE_WHO)
        moment = when if when is not None else dt.datetime.now(dt.UTC)
        stamp = (
            moment.isoformat(timespec="seconds") if isinstance(moment, dt.datetime) else str(moment)
        )
        from fairness.gate import gate_failures

        override = {
            "reason": reason.strip(),
            "who": who.strip(),
            "when": stamp,
            "verdict": self.verdict,
            "failures": gate_failures(self),
        }
        self._payload["overrides"].append(override)
        return _copy.deepcopy(override)

    def __repr__(self) -> str:
        data = self._payload.get("data", {})
        return (
            f"AuditReport(verdict={self.verdict!r}, failures={len(self.failures)}, "
            f"services={len(self.services)}, rows={data.get('rows')})"
        )
