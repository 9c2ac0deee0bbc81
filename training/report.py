"""The evaluation report: one JSON document and its Markdown rendering.

The JSON (``evaluation.json``, format ``tarve-evaluation`` version 1) holds the split,
per-service metrics of every system, ranking metrics, the calibration choice and
threshold per service, and the oracle targets when an oracle exists. NaN is written
as null. The Markdown (``evaluation.md``, from the template
``training/templates/evaluation.md.j2``) shows the same figures as tables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from training.markdown import render

REPORT_FORMAT = "tarve-evaluation"
REPORT_FORMAT_VERSION = 1
EVALUATION_JSON = "evaluation.json"
EVALUATION_MARKDOWN = "evaluation.md"
MARKDOWN_TEMPLATE = "evaluation.md.j2"
SERVICE_COLUMNS = ("roc_auc", "pr_auc", "brier", "ece", "prevalence")
SYSTEM_ORDER = ("model", "oracle", "logistic", "prevalence")


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as None and numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_report(
    *,
    evaluation: dict[str, Any],
    targets: dict[str, Any] | None,
    split: dict[str, Any],
    calibration: dict[str, Any],
    model: dict[str, Any],
) -> dict[str, Any]:
    """Assemble the evaluation report document (JSON-ready).

    Parameters
    ----------
    evaluation : dict
        From :func:`training.evaluate.evaluate_systems`.
    targets : dict or None
        From :func:`training.evaluate.check_targets`.
    split : dict
        Split method, cut-off and part sizes.
    calibration : dict
        Per service: chosen method, cross-fitted log losses, threshold, rounds.
    model : dict
        Name, schema name and fingerprint, training time.
    """
    report: dict[str, Any] = json_safe(
        {
            "format": REPORT_FORMAT,
            "format_version": REPORT_FORMAT_VERSION,
            "model": model,
            "split": split,
            "systems": [name for name in SYSTEM_ORDER if name in evaluation["ranking"]],
            "services": evaluation["services"],
            "ranking": evaluation["ranking"],
            "calibration": calibration,
            "targets": targets,
        }
    )
    return report


def write_report(report: dict[str, Any], directory: str | Path) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation.md`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / EVALUATION_JSON
    markdown_path = out / EVALUATION_MARKDOWN
    json_path.write_text(json.dumps(report, indent=2, allow_nan=False), "utf-8")
    markdown_path.write_text(render_markdown(report), "utf-8")
    return json_path, markdown_path


def render_markdown(report: dict[str, Any]) -> str:
    """Render the evaluation report as Markdown tables (``templates/evaluation.md.j2``).

    Parameters
    ----------
    report : dict
        From :func:`build_report`.

    Returns
    -------
    str
    """
    return render(
        MARKDOWN_TEMPLATE,
        report=report,
        split=report["split"],
        ranking_keys=_ranking_keys(report),
        service_columns=SERVICE_COLUMNS,
    )


def _ranking_keys(report: dict[str, Any]) -> list[str]:
    first = next(iter(report["ranking"].values()))
    return [key for key in first if key != "clients_with_need"]
