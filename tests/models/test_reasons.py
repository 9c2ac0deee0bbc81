"""Reasons read as a caseworker would write them, and account for every contribution.

``data/reasons_golden.md`` renders every field that can be a reason, under both
headings, with typical and missing values, in every language of the default schema:
review it by reading it. Rewrite it after a deliberate change with
``TARVE_UPDATE_GOLDEN=1 pytest tests/models/test_reasons.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.model import ServiceNeedModel
from models.reasons import format_value, other_factor_texts, reason_headings, reason_text
from models.recommend import recommend
from models.schema import LANGUAGES, FieldSpec, Schema, load_schema
from tests.support.fixture_model import fit_fixture_model, random_profile

GOLDEN = Path(__file__).parent / "data" / "reasons_golden.md"
HEADING_SERVICE = "pay_subsidy"
RAW_WORDS = ("not known", "ei tiedossa", "uppgift saknas", "_")


def _numbers(spec: FieldSpec) -> tuple[list[float], list[float]]:
    """Values shown under "raises" and under "lowers" for a numeric field."""
    low = float(spec.min if spec.min is not None else 0.0)
    high = float(spec.max if spec.max is not None else low + 10.0)
    typical = low + (high - low) * 0.3
    typical = float(round(typical)) if spec.type == "integer" else round(typical, 1)
    raises = [1.0 if low <= 1 <= high else low]
    if spec.larger_unit is not None:
        raises.append(spec.larger_unit.from_value + 6)
    return raises, [typical]


def _values(spec: FieldSpec) -> tuple[list[Any], list[Any]]:
    if spec.type == "category":
        categories = list(spec.categories or [])
        return categories, categories[-1:]
    if spec.type == "boolean":
        return [True], [False]
    raises, lowers = _numbers(spec)
    if spec.type == "integer":
        return [int(v) for v in raises], [int(v) for v in lowers]
    return raises, lowers


def render_golden(schema: Schema) -> str:
    """Every reason item, heading and other-factor line of ``schema``, per language."""
    fields = [spec for spec in schema.input_fields if spec.can_be_reason]
    lines = [
        f"# Reason texts of the schema {schema.name!r}",
        "",
        "Written by tests/models/test_reasons.py; read it as a caseworker would.",
        "Each field: typical values and a value missing from the register.",
    ]
    for lang in getattr(schema, "languages", LANGUAGES):
        headings = reason_headings(schema.label_by_name[HEADING_SERVICE], lang)
        lines += ["", f"## {lang}"]
        for direction, column in (("raises", 0), ("lowers", 1)):
            lines += ["", f"### {headings[direction]}"]
            for spec in fields:
                for value in [*_values(spec)[column], None]:
                    lines.append(f"- {reason_text(spec, value, lang)}")
        lines += ["", "### Other factors"]
        lines += [f"- {text}" for text in other_factor_texts(schema, lang).values()]
        lines += ["", "### Headings of each service"]
        for label in schema.labels:
            both = reason_headings(label, lang)
            lines.append(f"- {both['raises']} / {both['lowers']}")
    return "\n".join(lines) + "\n"


def test_golden_reason_texts() -> None:
    rendered = render_golden(load_schema())
    if os.environ.get("TARVE_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(rendered, encoding="utf-8")
    assert rendered == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("field", "value", "lang", "expected"),
    [
        ("job_applications_3m", 6, "fi", "6 hakemusta / 3 kk"),
        ("job_applications_3m", 1, "fi", "1 hakemus / 3 kk"),
        ("job_applications_3m", 6, "sv", "6 ansökningar / 3 mån"),
        ("job_applications_3m", 1, "en", "1 application in 3 months"),
        ("months_since_graduation", 420, "fi", "35 vuotta"),
        ("months_since_graduation", 30, "sv", "2,5 år"),
        ("months_since_graduation", 12, "en", "12 months"),
        ("unemployment_months", 1, "fi", "1 kuukausi"),
        ("work_ability_score", 6.5, "fi", "6,5/10"),
        ("work_experience_years", 1.0, "en", "1 year"),
        ("occupation_group", "service_sales", "en", "service and sales workers"),
        ("education_field", "general", "fi", "yleissivistävä koulutus"),
        ("driving_licence", True, "sv", "ja"),
        ("sick_leave_days_12m", None, "fi", "tietoa ei ole kirjattu"),
        ("sick_leave_days_12m", None, "en", "not recorded"),
    ],
)
def test_values_read_naturally(field: str, value: Any, lang: str, expected: str) -> None:
    spec = load_schema().field_by_name[field]
    assert format_value(spec, value, lang) == expected


@pytest.fixture(scope="module")
def small_model() -> ServiceNeedModel:
    return fit_fixture_model(rows=1200, trees=12)


def test_no_raw_code_or_unconsented_field_in_a_sample_of_5000_reasons(
    small_model: ServiceNeedModel,
) -> None:
    model = small_model
    schema = model.schema
    rng = np.random.default_rng(5)
    sources = list(schema.consent_sources)
    profiles = [random_profile(schema, rng, missing_rate=0.2) for _ in range(120)]
    consents = [[s for s in sources if rng.random() < 0.5] for _ in profiles]
    checked = 0
    for lang in getattr(schema, "languages", LANGUAGES):
        results = recommend(model, profiles, consents=consents, lang=lang, num_threads=1)
        matrix = model.encode_records(profiles, consents=consents)
        raw = model.raw_scores(matrix)
        for row, suggestions in enumerate(results):
            granted = set(consents[row])
            columns = {service: i for i, service in enumerate(model.services)}
            for suggestion in suggestions:
                if not suggestion.eligible:
                    assert suggestion.reasons == [], "the excluding rule is the reason"
                    assert suggestion.other_factors == []
                    continue
                figures = [r.contribution for r in suggestion.reasons]
                figures += [o.contribution for o in suggestion.other_factors]
                assert suggestion.base_value is not None
                total = suggestion.base_value + sum(figures)
                assert abs(total - raw[row, columns[suggestion.service]]) < 1e-9
                skipped = {o.source for o in suggestion.other_factors if o.kind == "no_consent"}
                assert skipped == set(sources) - granted
                for reason in suggestion.reasons:
                    checked += 1
                    spec = schema.field_by_name[reason.field]
                    assert spec.can_be_reason
                    assert spec.source not in schema.consent_sources or spec.source in granted
                    assert not any(word in reason.text for word in RAW_WORDS), reason.text
                    if spec.type == "category" and reason.value is not None:
                        assert reason.value_text == spec.category_label(reason.value, lang)
                        assert reason.value in (spec.category_labels or {}), "a label, not a code"
    assert checked >= 5000


def test_an_ineligible_service_has_no_reasons(small_model: ServiceNeedModel) -> None:
    profile = random_profile(small_model.schema, np.random.default_rng(1), missing_rate=0.0)
    profile.update(age=45, business_plan=False)
    [suggestions] = recommend(small_model, [profile], consents=[], lang="en")
    by_service = {s.service: s for s in suggestions}
    for service in ("youth_guidance", "startup_grant"):
        assert not by_service[service].eligible
        assert by_service[service].reasons == []
        assert by_service[service].ineligibility_reason
