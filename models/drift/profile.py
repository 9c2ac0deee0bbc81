"""Reference profiles (training data) and observed profiles (an extract, a window of requests).

Every monitored field is turned into numbers the same way (categories and booleans
as codes, dates as days since 1970-01-01, missing as NaN) and counted in *bins*: one
bin per category (``false``/``true`` for a boolean), or the intervals between the
training deciles for a number (``(-inf, e1], (e1, e2], ..., (ek, inf)``; repeated
deciles merge, so a count with many zeros keeps a bin of its own for 0). The
reference stores each bin's share of the non-missing training values; an observed
profile stores counts in the same bins, so it can be gathered chunk by chunk (or on
Dask partitions) and merged.

Monitored fields: the model inputs, the fields eligibility rules read, and the consent
flags of consent-only sources.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.rules import rule_fields
from models.schema import FieldSpec, Schema

REFERENCE_FILE = "feed_reference.json"
FORMAT_VERSION = 1
BIN_QUANTILES = tuple(step / 10 for step in range(1, 10))
REPORTED_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
BOOLEAN_BINS = ("false", "true")
_EPOCH = pd.Timestamp(dt.date(1970, 1, 1))
MSG_REFERENCE_FORMAT = (
    "{path}: feed reference format {found} is not supported (expected {expected})"
)

FieldKind = Literal["categorical", "numeric"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldReference(_Frozen):
    """One field of the training data.

    Attributes
    ----------
    kind : {"categorical", "numeric"}
        Categories and booleans are categorical; numbers, integers and dates numeric.
    bins : list of str
        Bin names: the categories, or the intervals between ``edges``.
    edges : list of float
        Upper edges of the numeric bins but the last (empty for categorical fields).
    shares : list of float
        Each bin's share of the non-missing training values.
    missing_share : float
        Share of training rows where the field is missing.
    low, high : float or None
        The smallest and largest training value (numeric fields).
    top_share : float
        The most common single value's share of the non-missing values.
    distinct : int
        Distinct non-missing training values.
    """

    name: str
    type: str
    source: str
    kind: FieldKind
    bins: list[str]
    edges: list[float] = Field(default_factory=list)
    shares: list[float]
    missing_share: float
    low: float | None = None
    high: float | None = None
    quantiles: dict[str, float] = Field(default_factory=dict)
    top_share: float
    distinct: int
    values: int


class SourceReference(_Frozen):
    """A data source: which monitored fields it feeds and the share of clients with data."""

    name: str
    fields: list[str]
    share_with_data: float


class ReferenceProfile(_Frozen):
    """The training data's profile, stored in the model artifact as ``feed_reference.json``."""

    format_version: int = FORMAT_VERSION
    schema_fingerprint: str
    rows: int
    fields: dict[str, FieldReference]
    sources: dict[str, SourceReference]
    consent_columns: dict[str, str] = Field(
        default_factory=dict, description="Consent-only source -> its consent flag field."
    )


class FieldCounts(BaseModel):
    """What an extract holds in one field: counts in the reference's bins."""

    model_config = ConfigDict(extra="forbid")

    rows: int = 0
    missing: int = 0
    counts: list[int]
    low: float | None = None
    high: float | None = None
    beyond_range: int = 0

    def merge(self, other: FieldCounts) -> None:
        """Add ``other``'s counts to these."""
        self.rows += other.rows
        self.missing += other.missing
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.beyond_range += other.beyond_range
        self.low = _fold(min, self.low, other.low)
        self.high = _fold(max, self.high, other.high)


class ObservedProfile(BaseModel):
    """The statistics of an extract (or a window of requests), mergeable across chunks."""

    model_config = ConfigDict(extra="forbid")

    rows: int = 0
    fields: dict[str, FieldCounts]
    sources_with_data: dict[str, int]

    def merge(self, other: ObservedProfile) -> ObservedProfile:
        """Add ``other``'s counts to these (in place) and return self."""
        self.rows += other.rows
        for name, counts in other.fields.items():
            self.fields[name].merge(counts)
        for name, count in other.sources_with_data.items():
            self.sources_with_data[name] = self.sources_with_data.get(name, 0) + count
        return self


def _fold(pick: Any, first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    if second is None:
        return first
    return float(pick(first, second))


def monitored_fields(schema: Schema) -> list[FieldSpec]:
    """Model inputs, fields of eligibility rules and consent flags, in schema order."""
    wanted = {spec.name for spec in schema.input_fields}
    for label in schema.labels:
        if label.eligibility is not None:
            wanted.update(rule_fields(label.eligibility.rule))
    wanted.update(
        str(source.consent_column)
        for source in schema.consent_sources.values()
        if source.consent_column
    )
    return [spec for spec in schema.fields if spec.name in wanted]


def field_codes(values: pd.Series, spec: FieldSpec) -> np.ndarray:
    """Return the field's values as float64 (category index, 0/1, days since 1970; NaN missing)."""
    if spec.type == "category":
        mapping = {category: float(code) for code, category in enumerate(spec.categories or [])}
        mapped = values.map(mapping)
        return np.asarray(pd.to_numeric(mapped, errors="coerce"), dtype=np.float64)
    if spec.type == "boolean":
        flags = values.astype("boolean")
        return flags.to_numpy(dtype=np.float64, na_value=np.nan)
    if spec.type == "date":
        days = (pd.to_datetime(values, errors="coerce") - _EPOCH).dt.days
        return days.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(pd.to_numeric(values, errors="coerce"), dtype=np.float64)


def _bin_names(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    names = [f"<= {edges[0]:g}"]
    names += [f"({low:g}, {high:g}]" for low, high in itertools.pairwise(edges)]
    names.append(f"> {edges[-1]:g}")
    return names


def _bin_index(codes: np.ndarray, reference: FieldReference) -> np.ndarray:
    """Bin of each non-missing code (categorical: the code; numeric: by the edges)."""
    if reference.kind == "categorical":
        return codes.astype(np.int64)
    return np.searchsorted(np.asarray(reference.edges), codes, side="left")


def _field_reference(spec: FieldSpec, values: pd.Series) -> FieldReference:
    codes = field_codes(values, spec)
    present = codes[~np.isnan(codes)]
    rows = len(codes)
    missing_share = float(1.0 - len(present) / rows) if rows else 0.0
    if len(present):
        _, value_counts = np.unique(present, return_counts=True)
        top_share, distinct = float(value_counts.max() / len(present)), len(value_counts)
    else:
        top_share, distinct = 0.0, 0
    common: dict[str, Any] = {
        "name": spec.name,
        "type": spec.type,
        "source": spec.source,
        "missing_share": missing_share,
        "top_share": top_share,
        "distinct": distinct,
        "values": len(present),
    }
    if spec.type in ("category", "boolean"):
        bins = list(spec.categories or []) if spec.type == "category" else list(BOOLEAN_BINS)
        counts = np.bincount(present.astype(np.int64), minlength=len(bins))[: len(bins)]
        shares = counts / len(present) if len(present) else np.zeros(len(bins))
        return FieldReference(kind="categorical", bins=bins, shares=shares.tolist(), **common)
    if not len(present):
        return FieldReference(kind="numeric", bins=["all"], shares=[0.0], **common)
    edges = sorted({float(edge) for edge in np.quantile(present, BIN_QUANTILES, method="lower")})
    if edges[-1] >= float(present.max()):
        edges = edges[:-1]  # no empty top bin above the largest training value
    reference = FieldReference(
        kind="numeric",
        bins=_bin_names(edges),
        edges=edges,
        shares=[0.0] * (len(edges) + 1),
        low=float(present.min()),
        high=float(present.max()),
        quantiles={
            f"q{round(q * 100):02d}": float(v)
            for q, v in zip(
                REPORTED_QUANTILES, np.quantile(present, REPORTED_QUANTILES), strict=True
            )
        },
        **common,
    )
    counts = np.bincount(_bin_index(present, reference), minlength=len(reference.bins))
    return reference.model_copy(update={"shares": (counts / len(present)).tolist()})


def _source_fields(schema: Schema, fields: list[FieldSpec]) -> dict[str, list[str]]:
    consent_columns = {str(source.consent_column) for source in schema.consent_sources.values()}
    names = list(schema.sources) or ["register"]
    return {
        source: [
            spec.name
            for spec in fields
            if spec.source == source and spec.name not in consent_columns
        ]
        for source in names
    }


def _with_data(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    present = np.zeros(len(frame), dtype=bool)
    for name in names:
        if name in frame.columns:
            present |= frame[name].notna().to_numpy(dtype=bool)
    return present


def build_reference(frame: pd.DataFrame, schema: Schema) -> ReferenceProfile:
    """Build the reference profile of a (validated, canonical) training frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        The training data in canonical dtypes (see :mod:`models.extract.validation`).
    schema : Schema
        The schema it follows; its monitored fields are profiled.

    Returns
    -------
    ReferenceProfile
    """
    fields = monitored_fields(schema)
    references = {spec.name: _field_reference(spec, frame[spec.name]) for spec in fields}
    sources = {
        name: SourceReference(
            name=name,
            fields=names,
            share_with_data=float(_with_data(frame, names).mean()) if len(frame) else 0.0,
        )
        for name, names in _source_fields(schema, fields).items()
        if names
    }
    return ReferenceProfile(
        schema_fingerprint=schema.fingerprint(),
        rows=len(frame),
        fields=references,
        sources=sources,
        consent_columns={
            name: str(source.consent_column)
            for name, source in schema.consent_sources.items()
            if source.consent_column
        },
    )


def write_reference(reference: ReferenceProfile, directory: str | Path) -> Path:
    """Write ``feed_reference.json`` into a model artifact directory and return its path."""
    path = Path(directory) / REFERENCE_FILE
    path.write_text(reference.model_dump_json(indent=1), "utf-8")
    return path


def read_reference(directory: str | Path) -> ReferenceProfile | None:
    """Read the reference profile stored with a model artifact (None if it has none)."""
    path = Path(directory) / REFERENCE_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text("utf-8"))
    if raw.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            MSG_REFERENCE_FORMAT.format(
                path=path, found=raw.get("format_version"), expected=FORMAT_VERSION
            )
        )
    return ReferenceProfile.model_validate(raw)


class ProfileAccumulator:
    """Gathers an :class:`ObservedProfile` over frames, in the reference's bins.

    Parameters
    ----------
    reference : ReferenceProfile
        The training profile whose fields and bins are counted.
    schema : Schema
        The schema (field types and categories).
    """

    def __init__(self, reference: ReferenceProfile, schema: Schema) -> None:
        self.reference = reference
        self.specs = {name: schema.field_by_name[name] for name in reference.fields}
        self.observed = self.empty()

    def empty(self) -> ObservedProfile:
        """Return a profile with zero counts."""
        return ObservedProfile(
            fields={
                name: FieldCounts(counts=[0] * len(field.bins))
                for name, field in self.reference.fields.items()
            },
            sources_with_data={name: 0 for name in self.reference.sources},
        )

    def profile_of(self, frame: pd.DataFrame) -> ObservedProfile:
        """Count one frame (columns absent from it count as missing)."""
        rows = len(frame)
        observed = self.empty()
        observed.rows = rows
        for name, reference in self.reference.fields.items():
            counts = observed.fields[name]
            counts.rows = rows
            if name not in frame.columns:
                counts.missing = rows
                continue
            codes = field_codes(frame[name], self.specs[name])
            present = codes[~np.isnan(codes)]
            counts.missing = rows - len(present)
            if not len(present):
                continue
            index = _bin_index(present, reference)
            counts.counts = np.bincount(index, minlength=len(reference.bins))[
                : len(reference.bins)
            ].tolist()
            counts.low, counts.high = float(present.min()), float(present.max())
            if reference.kind == "numeric" and reference.low is not None:
                outside = (present < reference.low) | (present > float(reference.high or 0.0))
                counts.beyond_range = int(outside.sum())
        for name, source in self.reference.sources.items():
            observed.sources_with_data[name] = int(_with_data(frame, source.fields).sum())
        return observed

    def update(self, frame: pd.DataFrame) -> ObservedProfile:
        """Count one more frame; returns the running total."""
        return self.observed.merge(self.profile_of(frame))
