"""``GET /v1/fairness/report`` and ``POST /v1/fairness/audit`` (auditor).

The report is the served model's own audit (``fairness_audit.json`` in the model
artifact, written by training); an upload is a predictions file (CSV or Parquet) of
any system, audited with the ``fairness`` package. Both answer JSON, or the
self-contained HTML report when the Accept header prefers ``text/html``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from models.extract.identity_code import contains_identity_code
from models.extract.reading import ExtractReadError, IdentityCodesInExtract, check_extract_shape
from service.deps import (
    AuditDep,
    AuditorDep,
    ServedModelDep,
    SettingsDep,
    weighted_values,
)
from service.problems import (
    FairnessReportMissing,
    IdentityCodeInRequest,
    InvalidRequest,
    NotAcceptable,
    field_error,
)
from service.responses import problem_responses

if TYPE_CHECKING:
    from fairness.report import AuditReport

router = APIRouter(prefix="/v1/fairness", tags=["fairness"])
AUDIT_UPLOAD_PATH = "/v1/fairness/audit"
ALLOWED_SUFFIXES = (".csv", ".parquet", ".pq")
MSG_SUFFIX = "the file must be .csv or .parquet"
MAX_MESSAGE_CHARACTERS = 500  # error bodies stay short, whatever the file's columns
MSG_NO_REPORT = "the served model ({name} version {version}) has no fairness audit"
REPORT_CONTENT = {
    "application/json": {"schema": {"type": "object"}},
    "text/html": {"schema": {"type": "string"}},
}


def _report_responses(*problem_statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses``: the report (JSON or HTML), and these problems."""
    return {
        200: {"description": "The audit report.", "content": REPORT_CONTENT},
        **problem_responses(*problem_statuses),
    }


def _wants_html(accept: str | None) -> bool:
    """Tell whether the Accept header ranks text/html above JSON; 406 if it takes neither."""
    if not accept:
        return False
    ranked = dict(weighted_values(accept))
    html = max(ranked.get("text/html", 0.0), ranked.get("text/*", 0.0))
    json_quality = max(
        ranked.get("application/json", 0.0),
        ranked.get("application/*", 0.0),
        ranked.get("application/problem+json", 0.0),
    )
    anything = ranked.get("*/*", 0.0)
    if html == 0 and json_quality == 0 and anything == 0:
        raise NotAcceptable("the report is available as application/json or text/html")
    return html > max(json_quality, anything) or (html > 0 and html == anything > json_quality)


def _render(report: AuditReport, wants_html: bool) -> Response:
    from fairness.report_html import render_html

    return HTMLResponse(render_html(report)) if wants_html else JSONResponse(report.to_dict())


@router.get(
    "/report",
    summary="The served model's fairness audit (JSON, or HTML by Accept)",
    responses=_report_responses(401, 403, 404, 406, 503),
)
def fairness_report(  # noqa: D103
    caller: AuditorDep,
    served: ServedModelDep,
    audit: AuditDep,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    from fairness.report import AuditReport

    wants_html = _wants_html(accept)
    path = served.fairness_audit_path
    if not path.is_file():
        raise FairnessReportMissing(MSG_NO_REPORT.format(name=served.name, version=served.version))
    report = AuditReport.from_dict(json.loads(path.read_text("utf-8")))
    audit.record("fairness.report")
    return _render(report, wants_html)


@router.post(
    "/audit",
    summary="Audit an uploaded predictions file (CSV or Parquet) of any system",
    responses=_report_responses(401, 403, 406, 413, 422),
)
def audit_upload(  # noqa: D103
    caller: AuditorDep,
    settings: SettingsDep,
    audit: AuditDep,
    file: Annotated[UploadFile, File(description="Predictions, one row per client (x service).")],
    label: Annotated[str, Form(description="Column of the recorded need (0/1).")],
    score: Annotated[str, Form(description="Column of the calibrated score (probability).")],
    group: Annotated[list[str], Form(description="Audit attribute column(s); repeat the field.")],
    decision: Annotated[str | None, Form(description="Column of the yes/no decision.")] = None,
    threshold: Annotated[
        float | None, Form(description="Or: decision = score >= threshold.", ge=0, le=1)
    ] = None,
    service: Annotated[str | None, Form(description="Column naming the service (long).")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    from fairness.audit import audit_predictions_file
    from fairness.policy import load_policy

    wants_html = _wants_html(accept)
    fields: dict[str, list[str | None]] = {"label": [label], "score": [score], "group": [*group]}
    fields |= {"decision": [decision], "service": [service], "file": [file.filename]}
    coded = [name for name, values in fields.items() if any(_holds_code(v) for v in values)]
    if coded:
        raise IdentityCodeInRequest([("body", [name]) for name in coded])
    filename = Path(file.filename or "predictions.csv").name
    suffix = Path(filename).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise InvalidRequest([field_error("body", ["file"], MSG_SUFFIX, "file_type")])
    policy = load_policy(settings.fairness_policy) if settings.fairness_policy else None
    with tempfile.TemporaryDirectory(prefix="tarve-audit-") as folder:
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as target:
            while chunk := file.file.read(1024 * 1024):
                target.write(chunk)
        try:
            # Counted from the header or the footer before anything is parsed: memory stays
            # bounded by the caps, whatever the file claims.
            check_extract_shape(
                path, max_columns=settings.audit_max_columns, max_rows=settings.audit_max_rows
            )
            report = audit_predictions_file(
                path,
                label=label,
                score=score,
                decision=decision,
                threshold=threshold,
                group_columns=group,
                service=service,
                policy=policy,
                metadata={"name": filename, "uploaded_by": caller.name},
            )
        except IdentityCodesInExtract as exc:
            raise IdentityCodeInRequest(
                [("body", ["file", column]) for column in exc.columns]
            ) from None
        except ExtractReadError as exc:
            raise InvalidRequest(
                [field_error("body", ["file"], _describe(exc, path, filename), "file_shape")],
                detail="the predictions file cannot be read",
            ) from None
        except (ValueError, KeyError) as exc:
            raise InvalidRequest(
                [field_error("body", ["file"], _describe(exc, path, filename), "audit_input")],
                detail="the predictions file cannot be audited as described",
            ) from None
    audit.record("fairness.audit", about_model=False)
    return _render(report, wants_html)


def _holds_code(value: str | None) -> bool:
    return value is not None and contains_identity_code(value)


def _describe(exc: Exception, path: Path, filename: str) -> str:
    text: Any = exc.args[0] if exc.args else str(exc)
    return str(text).replace(str(path), filename)[:MAX_MESSAGE_CHARACTERS]
