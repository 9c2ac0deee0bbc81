"""The input schema: the one declarative description of a jobseeker record.

A schema file (YAML) lists the fields, the data sources they come from, the label
columns (services) and the audit groups. :func:`load_schema` reads and checks it;
a schema file that is itself wrong raises :class:`SchemaError` naming the file, the
field and every problem found, not only the first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from models.rules import Rule, rule_fields

DEFAULT_SCHEMA_PATH = Path(__file__).parent / "schemas" / "finnish_jobseeker_register.yaml"
LANGUAGES: tuple[str, ...] = ("fi", "sv", "en")
"""The default ``languages`` of a schema (a schema may declare others)."""
FieldType = Literal["number", "integer", "boolean", "category", "date"]

MSG_DUPLICATE = "duplicate name {name!r}: names must be unique across fields and labels"
MSG_RANGE = "min {min!r} is greater than max {max!r}"
MSG_UNKNOWN_SOURCE = "unknown source {source!r}; the schema defines {known}"
MSG_NO_CATEGORIES = "type 'category' needs a non-empty 'categories' list"
MSG_UNKNOWN_FIELD_REF = "refers to unknown field {name!r}"
MSG_RANGE_ON_TYPE = "'min'/'max' are not allowed for type {type!r}"
MSG_CATEGORIES_ON_TYPE = "'categories' are only allowed for type 'category', not {type!r}"
MSG_MISSING_LANGUAGE = "{where}: no text in {missing} (the schema's languages are {languages})"
MSG_SPLIT_OVERLAP = "split: values {values} are in both 'train' and 'test'"
MSG_NO_LANGUAGES = "languages: declare at least one language code"
MSG_NO_CATEGORY_LABEL = (
    "field {field!r}: category {category!r} has no label in {missing} "
    "(every category of a field that can be a reason needs one in each of {languages})"
)
MSG_UNIT_LANGUAGE = "field {field!r} ({part}): no text in {missing} (the languages are {languages})"
_BUILT_IN_LANGUAGES = frozenset({"fi", "sv", "en"})
"""The language codes :class:`Translations` has as fields (others are extras)."""


class SchemaError(ValueError):
    """A schema file is malformed. ``problems`` holds one message per problem."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid schema file {self.path}: {len(problems)} problem(s)\n{listing}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Translations(BaseModel):
    """A text in the schema's languages (``fi``, ``sv``, ``en`` or any other code).

    Which languages a text must have is the schema's ``languages``; the loader refuses
    a text that lacks one of them, naming where it is.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, str] = Field(init=False)

    fi: str | None = None
    sv: str | None = None
    en: str | None = None

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, str]:
        """Dump only the languages the text has (no ``None`` for the others)."""
        return {code: text for code, text in handler(self).items() if text is not None}

    @property
    def texts(self) -> dict[str, str]:
        """The text by language code, only the languages it has."""
        given = {code: getattr(self, code) for code in ("fi", "sv", "en")}
        given.update(self.__pydantic_extra__ or {})
        return {code: str(text) for code, text in given.items() if text is not None}

    def get(self, lang: str) -> str:
        """Return the text in ``lang`` (else Finnish, English, or the first one given)."""
        # On the hot path of every reason: look the three codes up without building
        # :attr:`texts` unless none of them is given.
        extra = self.__pydantic_extra__ or {}
        for code in (lang, "fi", "en"):
            text = getattr(self, code) if code in _BUILT_IN_LANGUAGES else extra.get(code)
            if text is not None:
                return str(text)
        return next(iter(self.texts.values()), "")


class Source(_Strict):
    """A data source of fields; optional sources need the client's consent."""

    consent_required: bool = False
    consent_column: str | None = None
    label: Translations


class LargerUnit(_Strict):
    """A coarser unit for large values, e.g. months shown as years from 24 months on."""

    factor: float
    """How many of the field's units make one of these (12 months in a year)."""
    from_value: float
    """The value (in the field's unit) from which the coarser unit is used."""
    unit: Translations
    unit_one: Translations | None = None


class FieldSpec(_Strict):
    """One field of a record: type, range or categories, labels, source and roles."""

    name: str
    type: FieldType
    label: Translations
    source: str = "register"
    nullable: bool = False
    missing_values: list[str] | None = None
    """Values that mean missing in this column (e.g. ``"?"``); None: the schema's."""
    min: float | str | None = None
    max: float | str | None = None
    categories: list[str] | None = None
    category_labels: dict[str, Translations] | None = None
    ordered: bool = False
    unit: Translations | None = None
    """The unit after a number (the plural form when ``unit_one`` is given)."""
    unit_one: Translations | None = None
    """The unit after the number 1 (e.g. "hakemus" beside "hakemusta")."""
    larger_unit: LargerUnit | None = None
    protected: bool = False
    model_input: bool = True
    changeable: bool = True

    @property
    def can_be_reason(self) -> bool:
        """Whether the field may be shown as a reason (a model input, not protected)."""
        return self.model_input and not self.protected

    @property
    def is_numeric(self) -> bool:
        """Whether the field is a number or an integer."""
        return self.type in ("number", "integer")

    def category_label(self, value: str, lang: str) -> str:
        """Return the label of category ``value`` in ``lang`` (the value itself if none)."""
        if self.category_labels and value in self.category_labels:
            return self.category_labels[value].get(lang)
        return value


class Eligibility(_Strict):
    """Who may get a service: a rule and the text shown when it does not hold."""

    rule: Rule
    text: Translations


class LabelSpec(_Strict):
    """A service: its recorded-need label column and its names."""

    name: str
    column: str
    label: Translations
    need_phrase: Translations | None = None
    oracle_column: str | None = None
    eligibility: Eligibility | None = None


class ColumnSplit(_Strict):
    """A predefined split: rows whose ``column`` holds a ``test`` value form the test part.

    Rows holding a ``train`` value give the training and calibration parts; rows with
    any other value are left out. An empty ``train`` list means "every other value".
    """

    column: str
    train: list[str] = Field(default_factory=list)
    test: list[str] = Field(min_length=1)


class Description(_Strict):
    """What the model card says about the data and the model, in the schema's words."""

    population: Translations | None = None
    """Whose records the register holds."""
    label_meaning: Translations | None = None
    """What a label value of 1 means."""
    intended_use: Translations | None = None
    """Who uses the suggestions, for what."""


class AuditBin(_Strict):
    """One band ``[min, max)`` of a numeric audit attribute."""

    name: str
    min: float
    max: float


class AuditGroup(_Strict):
    """An audit attribute: a derived yes/no rule, a category field, or bands of a number."""

    name: str
    label: Translations
    priority: bool = False
    rule: Rule | None = None
    field: str | None = None
    bins: list[AuditBin] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> AuditGroup:
        if (self.rule is None) == (self.field is None):
            raise ValueError("needs exactly one of 'rule' or 'field'")
        if self.bins is not None and self.field is None:
            raise ValueError("'bins' need a 'field'")
        return self


class Schema(_Strict):
    """The input schema: fields, sources, services (labels) and audit groups."""

    name: str
    version: int | str = 1
    languages: list[str] = Field(default_factory=lambda: list(LANGUAGES))
    """The languages every label, name and text must be given in; the API serves these."""
    missing_values: list[str] = Field(default_factory=list)
    """Values that mean missing in every column (a field's own list replaces it)."""
    description: Description | None = None
    id_column: str | None = None
    split_date_column: str | None = None
    split: ColumnSplit | None = None
    treatment_column: str | None = None
    outcome_column: str | None = None
    sources: dict[str, Source] = Field(default_factory=lambda: {})
    fields: list[FieldSpec]
    labels: list[LabelSpec]
    audit_groups: list[AuditGroup] = Field(default_factory=list)

    @cached_property
    def field_by_name(self) -> dict[str, FieldSpec]:
        """Fields by name."""
        return {spec.name: spec for spec in self.fields}

    @cached_property
    def label_by_name(self) -> dict[str, LabelSpec]:
        """Services (labels) by name."""
        return {spec.name: spec for spec in self.labels}

    @property
    def input_fields(self) -> list[FieldSpec]:
        """Fields the model may use, in schema order."""
        return [spec for spec in self.fields if spec.model_input]

    @property
    def label_columns(self) -> list[str]:
        """The label column of each service, in schema order."""
        return [spec.column for spec in self.labels]

    @property
    def oracle_columns(self) -> list[str]:
        """The oracle (true need) columns of the services that have one."""
        return [spec.oracle_column for spec in self.labels if spec.oracle_column]

    @property
    def consent_sources(self) -> dict[str, Source]:
        """The sources that need the client's consent, by name."""
        return {name: src for name, src in self.sources.items() if src.consent_required}

    def missing_markers(self, spec: FieldSpec) -> list[str]:
        """Return the values that mean missing in ``spec``'s column."""
        return list(spec.missing_values if spec.missing_values is not None else self.missing_values)

    def fields_of_source(self, source: str) -> list[FieldSpec]:
        """Return the fields read from ``source``, in schema order."""
        return [spec for spec in self.fields if spec.source == source]

    def fingerprint(self) -> str:
        """Return a short stable hash of the schema's content."""
        content = json.dumps(self.model_dump(mode="json", exclude_none=True), sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Return the schema as JSON-ready data (what ``schema.json`` holds)."""
        return self.model_dump(mode="json", exclude_none=True)


def _pydantic_problems(error: ValidationError, raw: dict[str, Any]) -> list[str]:
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        where = ".".join(str(part) for part in loc)
        # Name the field or label by its `name`, not only by its list index.
        if (
            len(loc) >= 2
            and loc[0] in ("fields", "labels", "audit_groups")
            and isinstance(loc[1], int)
        ):
            entries = raw.get(str(loc[0])) or []
            entry = entries[loc[1]] if loc[1] < len(entries) else {}
            name = entry.get("name", f"#{loc[1]}") if isinstance(entry, dict) else f"#{loc[1]}"
            rest = ".".join(str(part) for part in loc[2:])
            where = f"{loc[0][:-1]} {name!r}" + (f" ({rest})" if rest else "")
        value = item.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
        problems.append(f"{where}: {item['msg']}{shown}")
    return problems


def _comparable(value: float | str, type_: str) -> float:
    if type_ == "date":
        return float(dt.date.fromisoformat(str(value)).toordinal())
    return float(value)


def _texts(schema: Schema) -> list[tuple[str, Translations]]:
    """Every text of the schema with where it is, e.g. ``field 'age' (label)``."""
    found: list[tuple[str, Translations]] = []
    for source_name, source in schema.sources.items():
        found.append((f"source {source_name!r} (label)", source.label))
    for spec in schema.fields:
        found.append((f"field {spec.name!r} (label)", spec.label))
        if spec.unit is not None:
            found.append((f"field {spec.name!r} (unit)", spec.unit))
        for value, text in (spec.category_labels or {}).items():
            found.append((f"field {spec.name!r} (category {value!r})", text))
    for label in schema.labels:
        found.append((f"label {label.name!r} (label)", label.label))
        if label.need_phrase is not None:
            found.append((f"label {label.name!r} (need_phrase)", label.need_phrase))
        if label.eligibility is not None:
            found.append((f"label {label.name!r} (eligibility text)", label.eligibility.text))
    for group in schema.audit_groups:
        found.append((f"audit group {group.name!r} (label)", group.label))
    if schema.description is not None:
        for part in ("population", "label_meaning", "intended_use"):
            text = getattr(schema.description, part)
            if text is not None:
                found.append((f"description ({part})", text))
    return found


def _language_problems(schema: Schema) -> list[str]:
    if not schema.languages:
        return [MSG_NO_LANGUAGES]
    problems = []
    for where, text in _texts(schema):
        missing = [code for code in schema.languages if code not in text.texts]
        if missing:
            problems.append(
                MSG_MISSING_LANGUAGE.format(
                    where=where, missing=", ".join(missing), languages=schema.languages
                )
            )
    return problems


def _given_languages(text: Translations | None) -> set[str]:
    """Return the language codes ``text`` has a non-empty text in."""
    if text is None:
        return set()
    return {code for code, value in text.model_dump(exclude_none=True).items() if value}


def _reason_label_problems(schema: Schema) -> list[str]:
    """Every category of a field that can be a reason has a label in every language."""
    problems = []
    languages = list(getattr(schema, "languages", None) or LANGUAGES)
    for spec in schema.fields:
        wanted: list[tuple[str, Translations | None]] = []
        if spec.type == "category" and spec.can_be_reason:
            labels = spec.category_labels or {}
            wanted += [(category, labels.get(category)) for category in spec.categories or []]
        for category, text in wanted:
            missing = [code for code in languages if code not in _given_languages(text)]
            if missing:
                problems.append(
                    MSG_NO_CATEGORY_LABEL.format(
                        field=spec.name,
                        category=category,
                        missing=", ".join(missing),
                        languages=languages,
                    )
                )
        units = [("unit_one", spec.unit_one)]
        if spec.larger_unit is not None:
            units += [("larger_unit.unit", spec.larger_unit.unit)]
            units += [("larger_unit.unit_one", spec.larger_unit.unit_one)]
        for part, text in units:
            missing = [code for code in languages if code not in _given_languages(text)]
            if text is not None and missing:
                problems.append(
                    MSG_UNIT_LANGUAGE.format(
                        field=spec.name, part=part, missing=", ".join(missing), languages=languages
                    )
                )
    return problems


def _split_problems(schema: Schema, known_fields: set[str]) -> list[str]:
    if schema.split is None:
        return []
    problems = []
    if schema.split.column not in known_fields:
        problems.append("split: column " + MSG_UNKNOWN_FIELD_REF.format(name=schema.split.column))
    both = sorted(set(schema.split.train) & set(schema.split.test))
    if both:
        problems.append(MSG_SPLIT_OVERLAP.format(values=both))
    if schema.split_date_column is not None:
        problems.append("split: give either 'split' or 'split_date_column', not both")
    return problems


def _semantic_problems(schema: Schema) -> list[str]:
    problems: list[str] = _language_problems(schema)
    names = [spec.name for spec in schema.fields] + [spec.column for spec in schema.labels]
    for name, count in Counter(names).items():
        if count > 1:
            problems.append(f"field {name!r}: " + MSG_DUPLICATE.format(name=name))
    for name, count in Counter(spec.name for spec in schema.labels).items():
        if count > 1:
            problems.append(f"label {name!r}: " + MSG_DUPLICATE.format(name=name))
    known_fields = {spec.name for spec in schema.fields}
    for spec in schema.fields:
        where = f"field {spec.name!r}: "
        if spec.source not in schema.sources and not (
            spec.source == "register" and not schema.sources
        ):
            known = sorted(schema.sources) or ["register"]
            problems.append(where + MSG_UNKNOWN_SOURCE.format(source=spec.source, known=known))
        if spec.type == "category" and not spec.categories:
            problems.append(where + MSG_NO_CATEGORIES)
        if spec.type != "category" and spec.categories is not None:
            problems.append(where + MSG_CATEGORIES_ON_TYPE.format(type=spec.type))
        if spec.type in ("boolean", "category") and (spec.min is not None or spec.max is not None):
            problems.append(where + MSG_RANGE_ON_TYPE.format(type=spec.type))
        if (
            spec.min is not None
            and spec.max is not None
            and spec.type
            not in (
                "boolean",
                "category",
            )
        ):
            try:
                if _comparable(spec.min, spec.type) > _comparable(spec.max, spec.type):
                    problems.append(where + MSG_RANGE.format(min=spec.min, max=spec.max))
            except ValueError as exc:
                problems.append(where + f"min/max are not valid {spec.type} values: {exc}")
        if spec.categories and len(set(spec.categories)) != len(spec.categories):
            dupes = sorted(c for c, n in Counter(spec.categories).items() if n > 1)
            problems.append(where + f"duplicate categories {dupes}")
    for source_name, source in schema.sources.items():
        if source.consent_required and source.consent_column not in known_fields:
            problems.append(
                f"source {source_name!r}: consent_column {source.consent_column!r} "
                "must name a boolean field of the schema"
            )
    for label in schema.labels:
        if label.eligibility is not None:
            for ref in rule_fields(label.eligibility.rule):
                if ref not in known_fields:
                    problems.append(
                        f"label {label.name!r}: eligibility "
                        + MSG_UNKNOWN_FIELD_REF.format(name=ref)
                    )
    for group in schema.audit_groups:
        refs = rule_fields(group.rule) if group.rule is not None else [str(group.field)]
        for ref in refs:
            if ref not in known_fields:
                problems.append(
                    f"audit group {group.name!r}: " + MSG_UNKNOWN_FIELD_REF.format(name=ref)
                )
        if group.bins:
            for band in group.bins:
                if band.min > band.max:
                    problems.append(
                        f"audit group {group.name!r} (bin {band.name!r}): "
                        + MSG_RANGE.format(min=band.min, max=band.max)
                    )
    problems.extend(_split_problems(schema, known_fields))
    problems.extend(_reason_label_problems(schema))
    for attr in ("id_column", "split_date_column", "treatment_column", "outcome_column"):
        ref = getattr(schema, attr)
        if ref is not None and attr != "id_column" and ref not in known_fields:
            problems.append(f"{attr}: " + MSG_UNKNOWN_FIELD_REF.format(name=ref))
    return problems


def load_schema(path: str | Path | None = None) -> Schema:
    """Read and check a schema file; the default Finnish register schema when ``path`` is None.

    Raises
    ------
    SchemaError
        The file cannot be read or parsed, or breaks any rule; every problem is listed.
    """
    schema_path = Path(path) if path is not None else DEFAULT_SCHEMA_PATH
    try:
        raw = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaError(schema_path, [f"cannot read file: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise SchemaError(schema_path, [f"not valid YAML: {exc}"]) from exc
    return schema_from_dict(raw, origin=schema_path)


def schema_from_dict(raw: Any, *, origin: str | Path = "<dict>") -> Schema:
    """Build and check a schema from already-parsed data (e.g. JSON stored with a model)."""
    if not isinstance(raw, dict):
        raise SchemaError(origin, ["the top level must be a mapping"])
    try:
        schema = Schema.model_validate(raw)
    except ValidationError as exc:
        raise SchemaError(origin, _pydantic_problems(exc, raw)) from exc
    problems = _semantic_problems(schema)
    if problems:
        raise SchemaError(origin, problems)
    return schema
