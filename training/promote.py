"""``tarve promote``: move the ``production`` alias to a version, behind the fairness gate.

The version's fairness audit (``fairness_audit.json`` in its model artifact) is judged
by the fairness policy. If the gate fails (or there is no audit), promotion is refused
and every failing service, group and metric is named, unless an override reason is
given: then the version is promoted and the decision (who, when, why, what failed) is
recorded as model-version tags and in the stored audit report (the model's
``fairness_audit.json``/``.html`` and the run's ``fairness/`` folder).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairness import (
    AuditReport,
    Override,
    gate_failures,
    load_policy,
    record_override,
    write_report,
)
from models import registry
from models.store import DEFAULT_REGISTERED_MODEL, PRODUCTION_ALIAS
from training.audit import FAIRNESS_HTML, FAIRNESS_JSON

MSG_NO_VERSION = "model {name!r} has no version {version}"
MSG_NO_AUDIT = (
    "version {version} of {name!r} has no fairness audit ({file}); the gate cannot pass without one"
)
MSG_REFUSED = (
    "refusing to move alias {alias!r} of {name!r} to version {version}: "
    "{count} fairness gate failure(s)"
)
MSG_EMPTY_REASON = "--override-reason must not be empty"
TAG_OVERRIDE_REASON = "tarve.override_reason"
TAG_OVERRIDE_BY = "tarve.override_by"
TAG_OVERRIDE_AT = "tarve.override_at"
TAG_OVERRIDE_FAILURES = "tarve.override_failures"
TAG_PROMOTED_BY = "tarve.promoted_by"
TAG_PROMOTED_AT = "tarve.promoted_at"
MODEL_ARTIFACT_FOLDER = "artifacts/model"
MAX_TAG_LENGTH = 4900
LOGGED_MODEL_PREFIX = "models:/m-"


class PromotionRefused(RuntimeError):
    """The fairness gate blocks the version; ``failures`` names each failing check."""

    def __init__(self, message: str, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(message + "\n" + "\n".join(f"  - {line}" for line in failures))


@dataclass(frozen=True)
class PromotionResult:
    """What ``promote`` did."""

    name: str
    version: str
    alias: str
    failures: list[str] = field(default_factory=list)
    override: Override | None = None


def current_user() -> str:
    """Who is promoting: ``$USER``, else the login name, else ``unknown``."""
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def logged_model_id(model_version: Any) -> str | None:
    """Return the MLflow logged-model id behind a registered version (``m-...``), if any."""
    model_id = getattr(model_version, "model_id", None)
    if model_id:
        return str(model_id)
    source = str(model_version.source or "")
    if source.startswith(LOGGED_MODEL_PREFIX) and "/" not in source[len(LOGGED_MODEL_PREFIX) :]:
        return "m-" + source[len(LOGGED_MODEL_PREFIX) :]
    return None


def read_version_audit(name: str, version: str) -> tuple[AuditReport | None, Path]:
    """Return the stored fairness audit of a registered version (None if it has none)."""
    directory = registry.resolve_model_uri(registry.models_uri(name, version))
    path = directory / FAIRNESS_JSON
    if not path.is_file():
        return None, directory
    return AuditReport.from_dict(json.loads(path.read_text("utf-8"))), directory


def promote(
    version: str | int,
    *,
    name: str = DEFAULT_REGISTERED_MODEL,
    alias: str = PRODUCTION_ALIAS,
    override_reason: str | None = None,
    by: str | None = None,
    policy: str | Path | None = None,
) -> PromotionResult:
    """Move ``alias`` to ``version`` if its fairness audit passes the gate.

    Parameters
    ----------
    version : str or int
        The registered version to promote, or ``@alias`` for the version behind an
        alias (e.g. ``@candidate``).
    name : str
        Registered model name.
    alias : str
        The alias to move (``production``).
    override_reason : str, optional
        Promote despite gate failures; recorded with who and when.
    by : str, optional
        Who decides; ``$USER`` when omitted.
    policy : str or Path, optional
        Fairness policy file; the default policy when omitted.

    Returns
    -------
    PromotionResult

    Raises
    ------
    PromotionRefused
        The gate fails and no override reason was given.
    LookupError
        The version does not exist.
    """
    from training import tracking

    if override_reason is not None and not override_reason.strip():
        raise ValueError(MSG_EMPTY_REASON)
    version = str(version)
    try:
        version = registry.resolve_version(name, version)
        model_version = registry.get_version(name, version)
    except LookupError as exc:
        raise LookupError(MSG_NO_VERSION.format(name=name, version=version)) from exc
    audit, _ = read_version_audit(name, version)
    release_policy = load_policy(policy)
    if audit is None:
        failures = [MSG_NO_AUDIT.format(version=version, name=name, file=FAIRNESS_JSON)]
    else:
        failures = gate_failures(audit, release_policy)
    if failures and override_reason is None:
        raise PromotionRefused(
            MSG_REFUSED.format(alias=alias, name=name, version=version, count=len(failures)),
            failures,
        )
    who = by or current_user()
    when = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    override = None
    if failures and override_reason is not None:
        override = (
            record_override(audit, override_reason, who, when, policy=release_policy)
            if audit is not None
            else Override(
                reason=override_reason, who=who, when=when, verdict=None, failures=failures
            )
        )
        tags = {
            TAG_OVERRIDE_REASON: override_reason[:MAX_TAG_LENGTH],
            TAG_OVERRIDE_BY: who,
            TAG_OVERRIDE_AT: when,
            TAG_OVERRIDE_FAILURES: "\n".join(failures)[:MAX_TAG_LENGTH],
        }
        tracking.set_version_tags(name, version, tags)
        if audit is not None:
            _store_override(model_version, audit)
    tracking.set_version_tags(name, version, {TAG_PROMOTED_BY: who, TAG_PROMOTED_AT: when})
    tracking.set_alias(name, alias, version)
    return PromotionResult(
        name=name, version=version, alias=alias, failures=failures, override=override
    )


def _store_override(model_version: registry.VersionInfo, report: AuditReport) -> None:
    """Store the audit with its recorded override with the model and with the run."""
    from training import tracking

    with tempfile.TemporaryDirectory() as scratch:
        json_path, html_path = write_report(report, scratch, names=(FAIRNESS_JSON, FAIRNESS_HTML))
        model_id = logged_model_id(model_version)
        for path in (json_path, html_path):
            tracking.log_version_artifact(
                path,
                model_id=model_id,
                run_id=model_version.run_id,
                model_folder=MODEL_ARTIFACT_FOLDER,
                run_folder="fairness",
            )
