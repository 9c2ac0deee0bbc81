"""Assemble the synthetic register: draw every step, then build the canonical frame."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from models.rules import evaluate_rule
from models.schema import FieldSpec, Schema, load_schema
from training.synth.activity import draw_activity, draw_skills_and_date
from training.synth.bias import recall_factors
from training.synth.categories import CATEGORY_VALUES, MISSING_CODE, NO_SERVICE, RECEIVED_SERVICES
from training.synth.consent import draw_consent_sources, draw_consents
from training.synth.draft import Draft
from training.synth.education import draw_education
from training.synth.history import (
    assign_services,
    draw_outcome,
    true_effects,
    untreated_probability,
)
from training.synth.needs import NEED_TERMS, NeedInputs, record_need, true_need
from training.synth.population import draw_age_and_residence, draw_origin
from training.synth.sampling import AnyArray, BoolArray
from training.synth.targets import DEFAULT_ROWS
from training.synth.traits import draw_traits
from training.synth.work import draw_unemployment, draw_work_history

MSG_ROWS = "rows must be a positive integer, got {rows!r}"
MSG_UNKNOWN_FIELDS = "the generator cannot produce schema field(s) {names}"
MSG_UNKNOWN_SERVICES = "the generator has no true-need process for service(s) {names}"
MSG_TYPE_MISMATCH = "field {field!r}: the schema says {type!r} but the generator draws {drawn}"
MSG_CATEGORY_MISMATCH = (
    "field {field!r}: the generator draws {values} that the schema does not allow"
)

ID_PREFIX = "C"
"""Client references are pseudonymous: ``C`` and a zero-padded running number."""
EFFECT_PREFIX = "true_effect_"
UNTREATED_COLUMN = "outcome_probability_untreated"
HISTORY_FIELDS = ("received_service", "outcome_employed_or_education_6m")

STEPS: tuple[Callable[[Draft], None], ...] = (
    draw_origin,
    draw_age_and_residence,
    draw_education,
    draw_traits,
    draw_work_history,
    draw_unemployment,
    draw_activity,
    draw_skills_and_date,
    draw_consents,
    draw_consent_sources,
)
"""The drawing steps, in the order that fixes the random stream."""


def effect_column(service: str) -> str:
    """Name of the true individual effect column of a service."""
    return f"{EFFECT_PREFIX}{service}"


def _client_refs(rows: int) -> np.ndarray:
    width = max(7, len(str(rows)))
    return np.array(
        [f"{ID_PREFIX}{number:0{width}d}" for number in range(1, rows + 1)], dtype=object
    )


def _check_schema(schema: Schema, generated: set[str]) -> None:
    unknown = [spec.name for spec in schema.fields if spec.name not in generated]
    if unknown:
        raise ValueError(MSG_UNKNOWN_FIELDS.format(names=unknown))
    unknown_services = [label.name for label in schema.labels if label.name not in NEED_TERMS]
    if unknown_services:
        raise ValueError(MSG_UNKNOWN_SERVICES.format(names=unknown_services))


def _consent_masks(schema: Schema, draft: Draft) -> dict[str, BoolArray]:
    """Per field of a consent-only source: rows where the value must be missing."""
    masks: dict[str, BoolArray] = {}
    for source_name, source in schema.consent_sources.items():
        if source.consent_column is None or source.consent_column not in draft.columns:
            continue
        withheld = ~draft.flag(source.consent_column)
        for spec in schema.fields_of_source(source_name):
            masks[spec.name] = withheld
    return masks


def _canonical(
    spec: FieldSpec, values: AnyArray, missing: BoolArray | None
) -> pd.api.extensions.ExtensionArray | AnyArray:
    """One field in its canonical dtype (see ``docs/data.md``)."""
    drawn = str(values.dtype)
    if spec.type == "category":
        if spec.name not in CATEGORY_VALUES or values.dtype.kind not in "iu":
            raise ValueError(MSG_TYPE_MISMATCH.format(field=spec.name, type=spec.type, drawn=drawn))
        names = CATEGORY_VALUES[spec.name]
        codes = values.astype(np.int64)
        if missing is not None:
            codes = np.where(missing, MISSING_CODE, codes)
        used = {names[c] for c in np.unique(codes) if c != MISSING_CODE}
        unknown = sorted(used - set(spec.categories or []))
        if unknown:
            raise ValueError(MSG_CATEGORY_MISMATCH.format(field=spec.name, values=unknown))
        lookup = np.array([*names, None], dtype=object)
        return np.asarray(lookup[codes], dtype=object)
    if spec.type == "boolean":
        if values.dtype != np.bool_:
            raise ValueError(MSG_TYPE_MISMATCH.format(field=spec.name, type=spec.type, drawn=drawn))
        mask = np.zeros(len(values), dtype=bool) if missing is None else missing.copy()
        return pd.arrays.BooleanArray(values.copy(), mask)
    if spec.type == "date":
        if values.dtype.kind != "M":
            raise ValueError(MSG_TYPE_MISMATCH.format(field=spec.name, type=spec.type, drawn=drawn))
        return values.astype("datetime64[ns]")
    if values.dtype.kind not in "iuf" or spec.name in CATEGORY_VALUES:
        raise ValueError(MSG_TYPE_MISMATCH.format(field=spec.name, type=spec.type, drawn=drawn))
    numbers = values.astype(np.float64)
    if spec.type == "integer":
        numbers = np.round(numbers)
    low = -np.inf if spec.min is None else float(spec.min)
    high = np.inf if spec.max is None else float(spec.max)
    numbers = np.clip(numbers, low, high)
    if missing is not None:
        numbers = np.where(missing, np.nan, numbers)
    return numbers


def _column(values: object) -> object:
    """Object arrays stay object dtype (pandas would otherwise infer its string dtype)."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(values, dtype=object)
    return values


def _field_columns(schema: Schema, draft: Draft, names: list[str]) -> dict[str, object]:
    masks = _consent_masks(schema, draft)
    return {
        name: _column(_canonical(schema.field_by_name[name], draft.columns[name], masks.get(name)))
        for name in names
    }


def _eligibility(schema: Schema, frame: pd.DataFrame) -> dict[str, BoolArray]:
    """Each service's eligibility rule from the schema, evaluated on the register."""
    eligible: dict[str, BoolArray] = {}
    for label in schema.labels:
        if label.eligibility is None:
            eligible[label.name] = np.ones(len(frame), dtype=bool)
        else:
            rule = label.eligibility.rule
            eligible[label.name] = np.asarray(evaluate_rule(rule, frame), dtype=bool)
    return eligible


def generate_register(
    rows: int = DEFAULT_ROWS,
    *,
    seed: int,
    bias: bool = True,
    schema: Schema | None = None,
) -> pd.DataFrame:
    """Generate a synthetic jobseeker register (no real people).

    Parameters
    ----------
    rows : int, default 50,000
        Number of clients (Helsinki took over about 49,500 in 2021).
    seed : int
        Seed of the one random stream; the same seed gives the same frame.
    bias : bool, default True
        Inject the historical bias of :data:`training.synth.bias.HISTORICAL_BIAS` into
        the recorded labels (oracle columns are never affected).
    schema : Schema, optional
        The schema to follow; the default Finnish register schema when omitted. It may
        hold a subset of the generator's fields and services, in any order.

    Returns
    -------
    pandas.DataFrame
        ``client_ref``; every schema field in canonical dtypes (numbers and integers as
        float64 with NaN, booleans as ``boolean``, categories as object str with None,
        dates as datetime64[ns]); per service the recorded label ``need_<s>`` (int8),
        the oracle ``true_need_<s>`` and the true effect ``true_effect_<s>`` (float64);
        and ``outcome_probability_untreated`` (float64).

    Raises
    ------
    ValueError
        ``rows`` is not positive, or the schema asks for a field, service or category
        the generator cannot produce.
    """
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 1:
        raise ValueError(MSG_ROWS.format(rows=rows))
    rows = int(rows)
    schema = schema if schema is not None else load_schema()
    draft = Draft(rng=np.random.default_rng(seed), rows=rows)
    for step in STEPS:
        step(draft)
    _check_schema(schema, set(draft.columns) | set(HISTORY_FIELDS))

    # 1. The register as a caseworker sees it (consent applied), without the history.
    register = [spec.name for spec in schema.fields if spec.name not in HISTORY_FIELDS]
    columns: dict[str, object] = {"client_ref": _column(_client_refs(rows))}
    columns.update(_field_columns(schema, draft, register))
    frame = pd.DataFrame(columns)

    # 2. True needs (oracle) and recorded needs (labels), eligibility from the schema.
    inputs = NeedInputs.from_draft(draft)
    services = [label.name for label in schema.labels]
    eligible = _eligibility(schema, frame)
    factors = recall_factors(schema, frame, enabled=bias)
    needs = {s: true_need(s, inputs, eligible[s]) for s in services}
    recorded = {
        s: record_need(draft.rng, needs[s], eligible[s], recall_factor=factors.get(s, 1.0))
        for s in services
    }

    # 3. History: untreated chance, true effects, service received, outcome.
    untreated = untreated_probability(inputs)
    effects = true_effects(inputs, untreated, needs, eligible)
    received = assign_services(draft, inputs, recorded=recorded, needs=needs, eligible=eligible)
    service_codes = np.array([RECEIVED_SERVICES.index(s) for s in services], dtype=np.int8)
    draft.columns["received_service"] = np.where(
        received >= 0,
        service_codes[np.maximum(received, 0)],
        RECEIVED_SERVICES.index(NO_SERVICE),
    ).astype(np.int8)
    draft.columns["outcome_employed_or_education_6m"] = draw_outcome(
        draft.rng, untreated, effects, received
    )

    history = [spec.name for spec in schema.fields if spec.name in HISTORY_FIELDS]
    extra = _field_columns(schema, draft, history)
    extra.update({label.column: recorded[label.name].astype(np.int8) for label in schema.labels})
    extra.update(
        {label.oracle_column: needs[label.name] for label in schema.labels if label.oracle_column}
    )
    extra.update({effect_column(s): effects[s] for s in services})
    extra[UNTREATED_COLUMN] = untreated
    frame = pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
    order = ["client_ref", *(spec.name for spec in schema.fields)]
    return frame[order + [name for name in frame.columns if name not in order]]
