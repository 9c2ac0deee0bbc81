"""The model card: a Markdown page a caseworker's manager or an auditor can read.

The text lives in one Jinja2 template, ``training/templates/model_card.md.j2``
(intended use, model, data, evaluation with baselines, fairness, limitations); this
module gathers the values it shows. The card is written next to the model artifact and
logged with the MLflow run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.schema import Schema
from training.markdown import render

MODEL_CARD = "model_card.md"
TEMPLATE = "model_card.md.j2"


def render_model_card(
    *,
    schema: Schema,
    report: dict[str, Any],
    metadata: dict[str, Any],
    fairness: dict[str, Any] | None,
) -> str:
    """Render the model card as Markdown.

    Parameters
    ----------
    schema : Schema
        Fields, services and audit groups of the model.
    report : dict
        The evaluation report (:func:`training.report.build_report`).
    metadata : dict
        Model metadata: name, trained_at, data fingerprint, rows.
    fairness : dict or None
        ``verdict`` and ``failures`` (a count or a list) of the fairness audit, if one
        was run.

    Returns
    -------
    str
    """
    inputs = list(schema.input_fields)
    if fairness is not None:
        failures = fairness.get("failures") or []
        fairness = {
            "verdict": fairness.get("verdict"),
            "failures": len(failures) if isinstance(failures, list) else failures,
        }
    return render(
        TEMPLATE,
        schema=schema,
        schema_fingerprint=schema.fingerprint(),
        report=report,
        split=report["split"],
        metadata=metadata,
        fairness=fairness,
        services=len(schema.labels),
        inputs=len(inputs),
        consent=sorted({spec.source for spec in inputs if spec.source in schema.consent_sources}),
        protected_inputs=[spec.name for spec in inputs if spec.protected],
        ranking_keys=[key for key in report["ranking"]["model"] if key != "clients_with_need"],
        wording=card_wording(schema),
    )


GENERIC_WORDING = {
    "population": "The people whose records the register `{name}` holds.",
    "label_meaning": "A label of 1 means the need was recorded in the register.",
    "intended_use": (
        "Decision support: for one person, a calibrated probability for each label, "
        "ranked, with the reasons behind each probability. A person decides; the "
        "suggestion never does."
    ),
}


def card_wording(schema: Schema, *, lang: str = "en") -> dict[str, str]:
    """Return the card's population, label-meaning and intended-use sentences.

    They come from the schema's ``description`` (in ``lang``, else its first
    language); a part the schema does not describe gets a neutral sentence.
    """
    wording = {}
    for part, generic in GENERIC_WORDING.items():
        text = getattr(schema.description, part) if schema.description is not None else None
        wording[part] = text.get(lang) if text is not None else generic.format(name=schema.name)
    return wording


def write_model_card(text: str, directory: str | Path) -> Path:
    """Write ``model_card.md`` into ``directory``.

    Parameters
    ----------
    text : str
        The rendered card.
    directory : str or Path
        The model artifact directory.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(directory) / MODEL_CARD
    path.write_text(text, "utf-8")
    return path
