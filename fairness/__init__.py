"""Fairness audits of service-need suggestions: groups, intersections, uncertainty, a gate.

An *audit* takes, for a set of clients, each service's recorded need (label), calibrated
score and "recommended" decision, and the clients' audit-group attributes (the priority
groups, gender, mother tongue, age band ...). For every service and every *cell* — one
value of one attribute, or a pair of values of two attributes (an intersection) — it
reports rates with confidence intervals (Wilson), compares them with a *reference*
group (by default everybody else), and raises *flags* where the policy's tolerances are
broken: the four-fifths rule on selection rates, gaps in true and false positive rates,
and calibration gaps. A flag whose interval contains the tolerance is *uncertain*, not a
pass or a failure. Cells smaller than the policy's ``min_group_size`` are *suppressed*:
named, but without figures, in every output.

The *policy* (:mod:`fairness.policy`) holds the tolerances and says which flags *gate*
a release; :func:`gate_failures` turns an audit into the lines that block ``tarve
promote``, and :func:`record_override` records a human decision to release anyway.

The report (:class:`AuditReport`) is typed data: pydantic models whose JSON dump is the
stored, versioned document, read back with :meth:`AuditReport.from_dict`.
:func:`render_html` renders it from Jinja2 templates as one self-contained page in any
of the report's languages; :func:`write_report` writes both. With effect models, the report
also has the *benefit view* (:mod:`fairness.benefit`): estimated benefit by group, and who
would get each service under a benefit rule against a need rule. The method is
described in ``docs/fairness.md``.
"""

from fairness.audit import audit_model, audit_predictions_file, run_audit, with_benefit_view
from fairness.gate import gate_failures, record_override
from fairness.policy import Policy, load_policy
from fairness.report import AuditReport, Override
from fairness.report_html import render_html, write_report

__all__ = [
    "AuditReport",
    "Override",
    "Policy",
    "audit_model",
    "audit_predictions_file",
    "gate_failures",
    "load_policy",
    "record_override",
    "render_html",
    "run_audit",
    "with_benefit_view",
    "write_report",
]
