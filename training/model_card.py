"""The model card: a Markdown page a caseworker's manager or an auditor can read.

Sections follow ``docs/model_card_template.md``: intended use, data, evaluation with
baselines, fairness, limitations. It is written next to the model artifact and logged
with the MLflow run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.schema import Schema

MODEL_CARD = "model_card.md"


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def render_model_card(
    *,
    schema: Schema,
    report: dict[str, Any],
    metadata: dict[str, Any],
    fairness: dict[str, Any] | None,
) -> str:
    """The model card as Markdown.

    Parameters
    ----------
    schema : Schema
        Fields, services and audit groups of the model.
    report : dict
        The evaluation report (:func:`training.report.build_report`).
    metadata : dict
        Model metadata: name, trained_at, data fingerprint, rows.
    fairness : dict or None
        The fairness audit (JSON form), if one was run.
    """
    split = report["split"]
    inputs = [spec for spec in schema.input_fields]
    consent = sorted({spec.source for spec in inputs if spec.source in schema.consent_sources})
    protected_inputs = [spec.name for spec in inputs if spec.protected]
    ranking = report["ranking"]
    k_keys = [key for key in ranking["model"] if key != "clients_with_need"]
    lines = [
        f"# Model card: {metadata.get('name', 'tarve model')}",
        "",
        f"Trained {metadata.get('trained_at', '')} on schema `{schema.name}` "
        f"(fingerprint {schema.fingerprint()}), data fingerprint "
        f"`{metadata.get('data_fingerprint', '–')}`.",
        "",
        "## Intended use",
        "",
        "Decision support for caseworkers of public employment services: for one client, "
        "a calibrated probability that the client needs each service, ranked, with the "
        "reasons behind each probability. A person decides; the suggestion never does. "
        "Not for: deciding eligibility or benefits, ranking people against each other, "
        "or any use without the caseworker's own judgement and the client's say.",
        "",
        "## Model",
        "",
        f"One LightGBM binary model per service ({len(schema.labels)} services), early "
        "stopping on a calibration split, each calibrated (isotonic, Platt or none, chosen "
        'by cross-fitted log loss) with a per-service "recommended" threshold. '
        f"{len(inputs)} input fields; consent-only sources: {', '.join(consent) or 'none'}. "
        f"Protected attributes used as inputs (never shown as reasons): "
        f"{', '.join(protected_inputs) or 'none'}.",
        "",
        "## Data",
        "",
        f"{metadata.get('rows', 0):,} rows. Split: {split['method']}"
        + (f" (test = from {split['cutoff']})" if split.get("cutoff") else "")
        + f"; train {split['sizes']['train']:,}, calibration {split['sizes']['calibration']:,}, "
        f"test {split['sizes']['test']:,}. Labels are *recorded* needs: they copy past "
        "caseworkers' habits, including their biases.",
        "",
        "## Evaluation (held-out test split)",
        "",
        "| system | " + " | ".join(k_keys) + " |",
        "|---|" + "---|" * len(k_keys),
    ]
    for system in report["systems"]:
        lines.append(
            f"| {system} | " + " | ".join(_fmt(ranking[system][key]) for key in k_keys) + " |"
        )
    lines += [
        "",
        "| service | ROC AUC | logistic AUC | oracle AUC | Brier | ECE |",
        "|---|---|---|---|---|---|",
    ]
    for service, entry in report["services"].items():
        model = entry["model"]
        oracle = entry.get("oracle", {}).get("roc_auc")
        lines.append(
            f"| {service} | {_fmt(model['roc_auc'])} | {_fmt(entry['logistic']['roc_auc'])} "
            f"| {_fmt(oracle)} | {_fmt(model['brier'])} | {_fmt(model['ece'])} |"
        )
    lines += ["", "## Fairness", ""]
    if fairness is None:
        lines.append("No fairness audit was run for this model.")
    else:
        failures = fairness.get("failures") or []
        lines.append(
            f"Audit of the test split: verdict **{fairness.get('verdict')}** "
            f"({len(failures) if isinstance(failures, list) else failures} failing flags). "
            "See `fairness_audit.html` for groups, intersections and intervals."
        )
    lines += [
        "",
        "## Limitations",
        "",
        "- Trained on recorded needs, not on outcomes: it predicts what caseworkers would "
        "have recorded, not what helps the client.",
        "- Probabilities are calibrated on the calibration split; they drift when the "
        "client population or the service offer changes. Retrain regularly and compare "
        "with this card.",
        "- Missing consent-only data lowers accuracy for that client; the response says "
        "which sources were used.",
        "- Groups smaller than the audit's minimum size are not reported on.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(text: str, directory: str | Path) -> Path:
    """Write ``model_card.md`` into ``directory``."""
    path = Path(directory) / MODEL_CARD
    path.write_text(text, "utf-8")
    return path
