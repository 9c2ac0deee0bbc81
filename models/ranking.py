"""Ranked suggestions for a whole frame at once, in arrays: the batch form of ``recommend``.

:func:`models.recommend.recommend` builds one :class:`~models.recommend.Suggestion`
object per client and service, which suits an API answer. Scoring a caseload of
hundreds of thousands of clients needs the same answer in columns: this module gives
it from the same parts and under the same rules, so that both agree to the last bit
(a parity test holds them together):

- the same encoder, boosters, calibrators and thresholds;
- consent: fields of a consent-only source the client did not consent to are missing
  for the model *and* for the eligibility rules;
- eligibility with :func:`models.rules.evaluate_rule_on_record`, the API's own rule
  evaluation (once per distinct combination of the rule's field values);
- "recommended" = eligible and calibrated probability at or above the threshold;
- rank: eligible services first, by probability (ties keep the catalogue order);
- reasons: protected fields never, contributions above ``MIN_CONTRIBUTION`` only, the
  largest absolute contributions first (ties in field order), values decoded from the
  encoded row (the sentences are made by the caller with
  :func:`models.reasons.reason_text`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.model import ServiceNeedModel
from models.reasons import MIN_CONTRIBUTION
from models.rules import evaluate_rule_on_record, rule_fields
from models.schema import FieldSpec

_EPOCH = pd.Timestamp(dt.date(1970, 1, 1))
_MISSING_KEY = -1.0e300


@dataclass(frozen=True)
class RankedFrame:
    """Suggestions for every row of a frame, as arrays.

    Per-service arrays have shape (rows, services) in the model's service order;
    ``order[r, k]`` is the service index at rank ``k`` for row ``r``.

    Attributes
    ----------
    probability, raw_score, base_value : ndarray
        Calibrated probability, raw score (log-odds), TreeSHAP base value (NaN when
        reasons were not computed).
    eligible, recommended : ndarray of bool
    order : ndarray of int
        Service indices by rank.
    reason_fields : ndarray of int, shape (rows, services, top_reasons)
        Index into the encoder's fields of each reason, -1 where there is none.
    reason_contributions : ndarray, same shape
        The reasons' contributions (log-odds).
    matrix : ndarray
        The encoded rows the model saw (after consent masking).
    granted : dict of str to ndarray of bool
        Per consent-only source, whether each row consented.
    """

    probability: np.ndarray
    raw_score: np.ndarray
    base_value: np.ndarray
    eligible: np.ndarray
    recommended: np.ndarray
    order: np.ndarray
    reason_fields: np.ndarray
    reason_contributions: np.ndarray
    matrix: np.ndarray
    granted: dict[str, np.ndarray]


def consent_flags(model: ServiceNeedModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per consent-only source, each row's consent (its consent column; missing means no)."""
    flags: dict[str, np.ndarray] = {}
    for name, source in model.schema.consent_sources.items():
        column = source.consent_column
        if column is None or column not in frame.columns:
            flags[name] = np.zeros(len(frame), dtype=bool)
            continue
        flags[name] = frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return flags


def _rule_codes(values: pd.Series, spec: FieldSpec) -> np.ndarray:
    """Turn a canonical column into float64 codes (category index, 0/1, days; NaN missing)."""
    if spec.type == "category":
        mapping = {category: float(code) for code, category in enumerate(spec.categories or [])}
        return np.asarray(pd.to_numeric(values.map(mapping), errors="coerce"), dtype=np.float64)
    if spec.type == "boolean":
        return values.astype("boolean").to_numpy(dtype=np.float64, na_value=np.nan)
    if spec.type == "date":
        days = (pd.to_datetime(values) - _EPOCH).dt.days
        return days.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(pd.to_numeric(values), dtype=np.float64)


def _rule_value(code: float, spec: FieldSpec) -> Any:
    """Return the value a request would carry for a code (None for missing)."""
    if math.isnan(code):
        return None
    if spec.type == "category":
        return (spec.categories or [])[int(code)]
    if spec.type == "boolean":
        return bool(code)
    if spec.type == "date":
        return (_EPOCH + pd.Timedelta(days=int(code))).date()
    return code


def _distinct_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a float matrix (NaN equal to NaN), and each row's position.

    Each column is factorised on its own and the codes combined into one int64 key (a
    mixed-radix number), so the distinct rows come from a 1-D sort, far faster than
    ``np.unique(axis=0)`` (still used when the key would not fit in 63 bits).
    """
    # NaN never equals itself: a stand-in value makes missing values one key.
    keyed = np.where(np.isnan(codes), _MISSING_KEY, codes)
    columns = [np.unique(keyed[:, i], return_inverse=True) for i in range(codes.shape[1])]
    if math.prod(len(values) for values, _ in columns) >= 1 << 62:
        unique, inverse = np.unique(keyed, axis=0, return_inverse=True)
        unique[unique == _MISSING_KEY] = np.nan
        return unique, inverse.reshape(-1)
    key = np.zeros(len(codes), dtype=np.int64)
    for values, positions in columns:
        key = key * len(values) + positions.reshape(-1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return codes[first], inverse.reshape(-1)


def eligibility(
    model: ServiceNeedModel, frame: pd.DataFrame, granted: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Eligibility (rows, services) by the schema's rules, with the API's rule evaluation.

    Each distinct combination of a rule's field values is evaluated once with
    :func:`models.rules.evaluate_rule_on_record` (the function the API uses), on the
    values a request would carry; fields of sources not consented to are missing.
    """
    schema = model.schema
    rows = len(frame)
    result = np.ones((rows, len(model.services)), dtype=bool)
    source_of = {
        spec.name: source
        for source in schema.consent_sources
        for spec in schema.fields_of_source(source)
    }
    for column, service in enumerate(model.services):
        rule_spec = schema.label_by_name[service].eligibility
        if rule_spec is None or not rows:
            continue
        names = list(dict.fromkeys(rule_fields(rule_spec.rule)))
        specs = [schema.field_by_name[name] for name in names]
        codes = np.full((rows, len(names)), np.nan)
        for position, (name, spec) in enumerate(zip(names, specs, strict=True)):
            if name in frame.columns:
                codes[:, position] = _rule_codes(frame[name], spec)
            source = source_of.get(name)
            if source is not None:
                codes[~granted[source], position] = np.nan
        unique, inverse = _distinct_rows(codes)
        verdicts = np.array(
            [
                evaluate_rule_on_record(
                    rule_spec.rule,
                    {
                        name: _rule_value(code, spec)
                        for name, spec, code in zip(names, specs, combination, strict=True)
                    },
                )
                for combination in unique.tolist()
            ],
            dtype=bool,
        )
        result[:, column] = verdicts[inverse.reshape(-1)]
    return result


def encode(
    model: ServiceNeedModel, frame: pd.DataFrame, granted: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Encode a canonical frame; fields of sources not consented to are missing."""
    matrix = model.encoder.encode_frame(frame)
    for source, consented in granted.items():
        columns = [i for i, spec in enumerate(model.encoder.fields) if spec.source == source]
        if columns and not consented.all():
            refused = np.flatnonzero(~consented)
            matrix[np.ix_(refused, np.asarray(columns, dtype=np.int64))] = np.nan
    return matrix


@dataclass(frozen=True)
class PreparedFrame:
    """What ranking needs from a canonical frame, once encoded (see :func:`prepare_frame`).

    Attributes
    ----------
    matrix : ndarray
        The encoded rows the model sees (after consent masking).
    granted : dict of str to ndarray of bool
        Per consent-only source, whether each row consented.
    eligible : ndarray of bool, shape (rows, services)
        Eligibility by the schema's rules.
    """

    matrix: np.ndarray
    granted: dict[str, np.ndarray]
    eligible: np.ndarray

    @property
    def rows(self) -> int:
        """Number of rows."""
        return int(self.matrix.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        flags = sum(int(value.nbytes) for value in self.granted.values())
        return int(self.matrix.nbytes) + int(self.eligible.nbytes) + flags


def prepare_frame(model: ServiceNeedModel, frame: pd.DataFrame) -> PreparedFrame:
    """Consent flags, the encoded matrix and eligibility of a canonical frame."""
    granted = consent_flags(model, frame)
    matrix = encode(model, frame, granted)
    eligible = eligibility(model, frame, granted)
    return PreparedFrame(matrix=matrix, granted=granted, eligible=eligible)


def rank_frame(
    model: ServiceNeedModel,
    frame: pd.DataFrame,
    *,
    explain: bool = True,
    top_reasons: int = 5,
    num_threads: int = 0,
) -> RankedFrame:
    """Rank every service for every row of a canonical frame (see the module docstring).

    Parameters
    ----------
    model : ServiceNeedModel
        The model.
    frame : pandas.DataFrame
        Validated rows in canonical dtypes, with the consent columns of the schema.
    explain : bool, default True
        Compute TreeSHAP reasons (the costly part).
    top_reasons : int, default 5
        Reasons per service.
    num_threads : int, default 0
        LightGBM threads (0: its default, all cores).

    Returns
    -------
    RankedFrame
    """
    return rank_prepared(
        model,
        prepare_frame(model, frame),
        explain=explain,
        top_reasons=top_reasons,
        num_threads=num_threads,
    )


def rank_prepared(
    model: ServiceNeedModel,
    prepared: PreparedFrame,
    *,
    explain: bool = True,
    top_reasons: int = 5,
    num_threads: int = 0,
    raw_scores: np.ndarray | None = None,
) -> RankedFrame:
    """Rank a :class:`PreparedFrame` (:func:`rank_frame` after :func:`prepare_frame`).

    With ``explain`` the raw scores come from the same TreeSHAP pass as the
    contributions (:meth:`~models.model.ServiceNeedModel.explain_matrix`: bit-identical
    to the boosters' own raw scores), so the trees are walked once. Without, the
    caller may pass ``raw_scores`` already computed with
    :meth:`~models.model.ServiceNeedModel.raw_scores` for the same matrix.
    """
    matrix, granted, eligible = prepared.matrix, prepared.granted, prepared.eligible
    rows, services = len(matrix), len(model.services)
    limit = max(int(top_reasons), 0) if explain else 0
    reason_fields = np.full((rows, services, limit), -1, dtype=np.int64)
    reason_contributions = np.zeros((rows, services, limit))
    base = np.full((rows, services), np.nan)
    if explain:
        raw, contributions, base = model.explain_matrix(matrix, num_threads=num_threads)
        if limit:
            shown = _shown_fields(model, granted, rows)
            reason_fields, reason_contributions = _top_reasons(contributions, shown, limit)
            # No reasons for an ineligible service: the excluding rule is the reason.
            reason_fields[~eligible] = -1
            reason_contributions[~eligible] = 0.0
    elif raw_scores is not None:
        raw = raw_scores
    else:
        raw = model.raw_scores(matrix, num_threads=num_threads)
    probability = model.calibrate(raw)
    thresholds = np.array([model.thresholds[service] for service in model.services])
    recommended = eligible & (probability >= thresholds)
    # lexsort is stable: equal keys keep the catalogue order, as Python's sort does.
    order = np.lexsort((-probability, ~eligible), axis=-1)
    return RankedFrame(
        probability=probability,
        raw_score=raw,
        base_value=base,
        eligible=eligible,
        recommended=recommended,
        order=order,
        reason_fields=reason_fields,
        reason_contributions=reason_contributions,
        matrix=matrix,
        granted=granted,
    )


def _shown_fields(model: ServiceNeedModel, granted: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """Per row and field, whether it may be a reason (as ``ReasonWriter.explain`` decides)."""
    consent_sources = model.schema.consent_sources
    shown = np.ones((rows, len(model.encoder.fields)), dtype=bool)
    for index, spec in enumerate(model.encoder.fields):
        if spec.protected:
            shown[:, index] = False
        elif spec.source in consent_sources:
            shown[:, index] = granted.get(spec.source, np.zeros(rows, dtype=bool))
    return shown


def _top_reasons(
    contributions: np.ndarray, shown: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``limit`` largest shown contributions per row and service, largest first.

    Repeated ``argmax`` (``limit`` passes instead of a full sort): it returns the first
    of equal values, so ties keep the field order, as a stable sort would.
    """
    rows, services, width = contributions.shape
    # The key is the size of each shown contribution above the minimum, else -1.
    key = np.abs(contributions)
    np.copyto(key, -1.0, where=~(key > MIN_CONTRIBUTION))
    np.copyto(key, -1.0, where=~shown[:, np.newaxis, :])
    key = key.reshape(rows * services, width)
    flat = contributions.reshape(rows * services, width)
    fields = np.full((rows * services, limit), -1, dtype=np.int64)
    values = np.zeros((rows * services, limit))
    for slot in range(min(limit, width)):
        top = np.argmax(key, axis=-1)[:, np.newaxis]
        chosen = np.take_along_axis(key, top, axis=-1)[:, 0] >= 0.0
        if not chosen.any():
            break
        fields[chosen, slot] = top[chosen, 0]
        values[chosen, slot] = np.take_along_axis(flat, top, axis=-1)[chosen, 0]
        np.put_along_axis(key, top, -1.0, axis=-1)
    return fields.reshape(rows, services, limit), values.reshape(rows, services, limit)
