"""Loading the schema: the default file loads; a wrong file names the file, field and problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.schema import (
    DEFAULT_SCHEMA_PATH,
    MSG_DUPLICATE,
    MSG_NO_CATEGORIES,
    MSG_NO_CATEGORY_LABEL,
    MSG_RANGE,
    MSG_UNKNOWN_FIELD_REF,
    MSG_UNKNOWN_SOURCE,
    SchemaError,
    load_schema,
    schema_from_dict,
)

TEXT = {"fi": "teksti", "sv": "text", "en": "text"}


def tiny_schema() -> dict[str, Any]:
    """Return a small valid schema: two fields, one label, one audit group."""
    return {
        "name": "tiny",
        "id_column": "client_ref",
        "sources": {"register": {"label": TEXT}},
        "fields": [
            {"name": "age", "type": "integer", "min": 16, "max": 70, "label": TEXT},
            {
                "name": "gender",
                "type": "category",
                "categories": ["female", "male"],
                "category_labels": {"female": TEXT, "male": TEXT},
                "label": TEXT,
            },
            {
                "name": "registered_on",
                "type": "date",
                "min": "2015-01-01",
                "max": "2030-12-31",
                "label": TEXT,
            },
        ],
        "labels": [
            {
                "name": "youth_guidance",
                "column": "need_youth_guidance",
                "label": TEXT,
                "eligibility": {"rule": {"field": "age", "op": "lt", "value": 30}, "text": TEXT},
            }
        ],
        "audit_groups": [
            {"name": "under_30", "label": TEXT, "rule": {"field": "age", "op": "lt", "value": 30}}
        ],
    }


def write_schema(directory: Path, raw: dict[str, Any], name: str = "schema.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def load_error(path: Path) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        load_schema(path)
    return caught.value


def test_default_schema_loads() -> None:
    schema = load_schema()
    assert schema.id_column == "client_ref"
    assert 30 <= len(schema.fields) <= 50
    assert len(schema.labels) == 12
    assert all(label.oracle_column for label in schema.labels)
    assert load_schema(DEFAULT_SCHEMA_PATH) == schema


def test_tiny_schema_is_valid(tmp_path: Path) -> None:
    schema = load_schema(write_schema(tmp_path, tiny_schema()))
    assert [spec.name for spec in schema.fields] == ["age", "gender", "registered_on"]


def _unknown_type(raw: dict[str, Any]) -> None:
    raw["fields"][0]["type"] = "text"


def _duplicate_field(raw: dict[str, Any]) -> None:
    raw["fields"].append(copy.deepcopy(raw["fields"][1]))


def _min_above_max(raw: dict[str, Any]) -> None:
    raw["fields"][0]["min"] = 80


def _date_min_above_max(raw: dict[str, Any]) -> None:
    raw["fields"][2]["min"] = "2031-01-01"


def _unknown_source(raw: dict[str, Any]) -> None:
    raw["fields"][1]["source"] = "kela"


def _category_without_categories(raw: dict[str, Any]) -> None:
    del raw["fields"][1]["categories"]


def _audit_rule_on_unknown_field(raw: dict[str, Any]) -> None:
    raw["audit_groups"][0]["rule"]["field"] = "agee"


def _eligibility_rule_on_unknown_field(raw: dict[str, Any]) -> None:
    raw["labels"][0]["eligibility"]["rule"]["field"] = "agee"


@pytest.mark.parametrize(
    ("mutate", "where", "fragment"),
    [
        (_unknown_type, "field 'age'", "type"),
        (_duplicate_field, "field 'gender'", MSG_DUPLICATE.format(name="gender")),
        (_min_above_max, "field 'age'", MSG_RANGE.format(min=80.0, max=70.0)),
        (
            _date_min_above_max,
            "field 'registered_on'",
            MSG_RANGE.format(min="2031-01-01", max="2030-12-31"),
        ),
        (
            _unknown_source,
            "field 'gender'",
            MSG_UNKNOWN_SOURCE.format(source="kela", known=["register"]),
        ),
        (_category_without_categories, "field 'gender'", MSG_NO_CATEGORIES),
        (
            _audit_rule_on_unknown_field,
            "audit group 'under_30'",
            MSG_UNKNOWN_FIELD_REF.format(name="agee"),
        ),
        (
            _eligibility_rule_on_unknown_field,
            "label 'youth_guidance'",
            MSG_UNKNOWN_FIELD_REF.format(name="agee"),
        ),
    ],
    ids=[
        "unknown-type",
        "duplicate-field",
        "min-above-max",
        "date-min-above-max",
        "unknown-source",
        "category-without-categories",
        "audit-rule-unknown-field",
        "eligibility-rule-unknown-field",
    ],
)
def test_bad_schema_names_file_field_and_problem(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], where: str, fragment: str
) -> None:
    raw = tiny_schema()
    mutate(raw)
    path = write_schema(tmp_path, raw, name="broken.yaml")
    error = load_error(path)
    message = str(error)
    assert str(path) in message
    assert error.path == str(path)
    assert any(where in problem and fragment in problem for problem in error.problems), (
        error.problems
    )
    assert where in message
    assert fragment in message


def test_unknown_type_lists_the_allowed_types(tmp_path: Path) -> None:
    raw = tiny_schema()
    _unknown_type(raw)
    error = load_error(write_schema(tmp_path, raw))
    assert "'number'" in str(error)
    assert "'text'" in str(error)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: tiny\nfields: [unclosed\n", encoding="utf-8")
    error = load_error(path)
    assert str(path) in str(error)
    assert "not valid YAML" in str(error)


def test_missing_schema_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    error = load_error(path)
    assert str(path) in str(error)
    assert "cannot read file" in str(error)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    assert "mapping" in str(load_error(path))


def test_several_problems_in_one_file_are_all_reported(tmp_path: Path) -> None:
    raw = tiny_schema()
    _duplicate_field(raw)
    _min_above_max(raw)
    _unknown_source(raw)
    _audit_rule_on_unknown_field(raw)
    path = write_schema(tmp_path, raw)
    error = load_error(path)
    expected = [
        MSG_DUPLICATE.format(name="gender"),
        MSG_RANGE.format(min=80.0, max=70.0),
        MSG_UNKNOWN_SOURCE.format(source="kela", known=["register"]),
        MSG_UNKNOWN_FIELD_REF.format(name="agee"),
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in error.problems), fragment
        assert fragment in str(error)
    assert f"{len(error.problems)} problem(s)" in str(error)


def test_several_structural_problems_are_all_reported(tmp_path: Path) -> None:
    raw = tiny_schema()
    raw["fields"][0]["type"] = "text"
    raw["fields"][1]["type"] = "string"
    error = load_error(write_schema(tmp_path, raw))
    assert any("field 'age'" in problem for problem in error.problems)
    assert any("field 'gender'" in problem for problem in error.problems)


def test_schema_from_dict_names_its_origin() -> None:
    raw = tiny_schema()
    _min_above_max(raw)
    with pytest.raises(SchemaError, match=r"stored-model\.json"):
        schema_from_dict(raw, origin="stored-model.json")


def test_a_reason_field_needs_every_category_labelled_in_every_language(tmp_path: Path) -> None:
    raw = tiny_schema()
    raw["fields"][1]["category_labels"] = {"female": TEXT, "male": {"fi": "mies", "en": "male"}}
    error = load_error(write_schema(tmp_path, raw))
    assert any("male" in problem and "sv" in problem for problem in error.problems)
    del raw["fields"][1]["category_labels"]
    error = load_error(write_schema(tmp_path, raw))
    expected = MSG_NO_CATEGORY_LABEL.format(
        field="gender", category="female", missing="fi, sv, en", languages=["fi", "sv", "en"]
    )
    assert expected in error.problems
    assert [problem.split(" has no label")[0] for problem in error.problems] == [
        "field 'gender': category 'female'",
        "field 'gender': category 'male'",
    ]


def test_a_field_that_is_never_a_reason_needs_no_category_labels(tmp_path: Path) -> None:
    raw = tiny_schema()
    del raw["fields"][1]["category_labels"]
    raw["fields"][1]["protected"] = True
    assert load_schema(write_schema(tmp_path, raw)).field_by_name["gender"].protected
