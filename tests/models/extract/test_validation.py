"""Extract validation: every problem kind, all at once, no coercion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.extract.column_parsing import EXPECTED_INTEGER
from models.extract.problems import (
    MSG_DUPLICATE_COLUMN,
    MSG_DUPLICATE_ID,
    MSG_LABEL_MISSING,
    MSG_LABEL_NOT_BINARY,
    MSG_MISSING_COLUMN,
    MSG_MISSING_LABEL_COLUMN,
    MSG_MISSING_VALUE,
    MSG_NO_ROWS,
    MSG_NOT_A_BOOLEAN,
    MSG_NOT_A_DATE,
    MSG_NOT_A_NUMBER,
    MSG_NOT_AN_INTEGER,
    MSG_NOT_TEXT,
    MSG_OUT_OF_RANGE,
    MSG_TIME_OF_DAY,
    MSG_UNKNOWN_CATEGORY,
    ProblemKind,
)
from models.extract.report import render_problems, render_profile
from models.extract.validation import (
    ExtractValidationError,
    load_validated_extract,
    read_extract,
    validate_frame,
)
from models.schema import Schema
from tests.support.sample_extracts import (
    EXTRA_COLUMN,
    IDENTITY_CODE,
    only_problem,
    text_sample,
)

# -- clean extracts --------------------------------------------------------------------


def test_canonical_frame_passes_unchanged(schema: Schema, canonical_frame: pd.DataFrame) -> None:
    result = validate_frame(canonical_frame, schema)
    assert result.ok, render_problems(result.problems)
    assert result.frame is not None
    pd.testing.assert_frame_equal(result.frame, canonical_frame)


def test_canonical_dtypes(schema: Schema, text_frame: pd.DataFrame) -> None:
    result = validate_frame(text_frame, schema)
    frame = result.frame
    assert frame is not None, render_problems(result.problems)
    expected_kind = {"number": "float64", "integer": "float64", "boolean": "boolean"}
    for spec in schema.fields:
        dtype = frame[spec.name].dtype
        if spec.type == "category":
            assert pd.api.types.is_object_dtype(dtype), spec.name
            assert all(isinstance(v, str) or v is None for v in frame[spec.name]), spec.name
        elif spec.type == "date":
            assert dtype == np.dtype("datetime64[ns]"), spec.name
        else:
            assert str(dtype) == expected_kind[spec.type], spec.name
    for column in schema.label_columns:
        assert frame[column].dtype == np.int8
    for column in schema.oracle_columns:
        assert frame[column].dtype == np.float64
    assert pd.api.types.is_object_dtype(frame["client_ref"].dtype)
    assert all(isinstance(v, str) for v in frame["client_ref"])
    assert frame["language_level"].iloc[1] is None
    assert np.isnan(frame["years_in_finland"].iloc[1])
    assert frame["chronic_illness"].iloc[1] is pd.NA
    known = list(frame.columns[: len(frame.columns) - 1])
    assert known[0] == "client_ref"
    assert known[1 : 1 + len(schema.fields)] == [spec.name for spec in schema.fields]


def test_text_and_typed_extracts_give_the_same_frame(
    schema: Schema, canonical_frame: pd.DataFrame, text_frame: pd.DataFrame
) -> None:
    from_text = validate_frame(text_frame, schema).frame
    assert from_text is not None
    pd.testing.assert_frame_equal(
        from_text.drop(columns=EXTRA_COLUMN), canonical_frame.drop(columns=EXTRA_COLUMN)
    )
    # Columns the schema does not know pass through as they are: text stays text.
    assert list(from_text[EXTRA_COLUMN]) == list(text_frame[EXTRA_COLUMN])


def test_csv_and_parquet_round_trip_to_the_same_frame(
    schema: Schema, canonical_frame: pd.DataFrame, tmp_path: Path
) -> None:
    csv_path, parquet_path = tmp_path / "extract.csv", tmp_path / "extract.parquet"
    canonical_frame.to_csv(csv_path, index=False)
    canonical_frame.to_parquet(parquet_path, index=False)
    from_csv = load_validated_extract(csv_path, schema)
    from_parquet = load_validated_extract(parquet_path, schema)
    pd.testing.assert_frame_equal(from_parquet, canonical_frame)
    pd.testing.assert_frame_equal(
        from_csv.drop(columns=EXTRA_COLUMN), from_parquet.drop(columns=EXTRA_COLUMN)
    )


def test_profile(schema: Schema, text_frame: pd.DataFrame) -> None:
    profile = validate_frame(text_frame, schema).profile
    assert profile.rows == 6
    assert profile.columns == text_frame.shape[1]
    assert set(profile.missing_share) == {spec.name for spec in schema.fields}
    assert profile.missing_share["years_in_finland"] == pytest.approx(1 / 6)
    assert profile.missing_share["age"] == 0.0
    assert profile.label_prevalence["need_pay_subsidy"] == pytest.approx(0.5)
    assert profile.ignored_columns == [EXTRA_COLUMN]
    text = render_profile(profile, source="extract.csv")
    assert "6 rows" in text
    assert "years_in_finland" in text
    assert "need_pay_subsidy" in text
    assert EXTRA_COLUMN in text


# -- each problem kind -----------------------------------------------------------------


def test_missing_column(schema: Schema, text_frame: pd.DataFrame) -> None:
    result = validate_frame(text_frame.drop(columns="gender"), schema)
    problem = only_problem(result)
    assert (problem.column, problem.kind, problem.message) == (
        "gender",
        ProblemKind.MISSING_COLUMN,
        MSG_MISSING_COLUMN,
    )
    assert result.frame is None


def test_missing_label_column(schema: Schema, text_frame: pd.DataFrame) -> None:
    problem = only_problem(validate_frame(text_frame.drop(columns="need_work_trial"), schema))
    assert (problem.column, problem.kind) == ("need_work_trial", ProblemKind.MISSING_COLUMN)
    assert problem.message == MSG_MISSING_LABEL_COLUMN


def test_labels_may_be_absent_when_not_required(schema: Schema, text_frame: pd.DataFrame) -> None:
    unlabelled = text_frame.drop(columns=schema.label_columns + schema.oracle_columns)
    assert not validate_frame(unlabelled, schema).ok
    result = validate_frame(unlabelled, schema, require_labels=False)
    assert result.ok, render_problems(result.problems)
    assert result.profile.label_prevalence == {}
    # Present label columns are still checked.
    unlabelled["need_pay_subsidy"] = ["0", "1", "2", "0", "1", "0"]
    problem = only_problem(validate_frame(unlabelled, schema, require_labels=False))
    assert problem.kind == ProblemKind.INVALID_LABEL


@pytest.mark.parametrize(
    ("column", "values", "kind", "message", "rows"),
    [
        ("work_experience_years", {2: "abc"}, ProblemKind.WRONG_TYPE, MSG_NOT_A_NUMBER, (3,)),
        ("kyky_health", {0: "2,5", 4: "NaN"}, ProblemKind.WRONG_TYPE, MSG_NOT_A_NUMBER, (1, 5)),
        ("age", {1: "30.5"}, ProblemKind.WRONG_TYPE, MSG_NOT_AN_INTEGER, (2,)),
        ("age", {3: " 30"}, ProblemKind.WRONG_TYPE, MSG_NOT_A_NUMBER, (4,)),
        ("driving_licence", {5: "yes"}, ProblemKind.WRONG_TYPE, MSG_NOT_A_BOOLEAN, (6,)),
        (
            "registered_on",
            {0: "2021-02-30", 2: "01.03.2021"},
            ProblemKind.WRONG_TYPE,
            MSG_NOT_A_DATE,
            (1, 3),
        ),
        ("age", {3: "250", 4: "-1"}, ProblemKind.OUT_OF_RANGE, MSG_OUT_OF_RANGE, (4, 5)),
        ("registered_on", {1: "2031-01-01"}, ProblemKind.OUT_OF_RANGE, MSG_OUT_OF_RANGE, (2,)),
        ("true_need_work_trial", {0: "1.5"}, ProblemKind.OUT_OF_RANGE, MSG_OUT_OF_RANGE, (1,)),
        (
            "municipality",
            {0: "Helsinki", 3: "turku"},
            ProblemKind.UNKNOWN_CATEGORY,
            MSG_UNKNOWN_CATEGORY,
            (1, 4),
        ),
        ("gender", {2: ""}, ProblemKind.MISSING_VALUE, MSG_MISSING_VALUE, (3,)),
        (
            "need_pay_subsidy",
            {0: "2", 1: "yes", 2: "1.0"},
            ProblemKind.INVALID_LABEL,
            MSG_LABEL_NOT_BINARY,
            (1, 2, 3),
        ),
        ("need_pay_subsidy", {4: ""}, ProblemKind.MISSING_VALUE, MSG_LABEL_MISSING, (5,)),
        ("client_ref", {5: ""}, ProblemKind.MISSING_VALUE, MSG_MISSING_VALUE, (6,)),
    ],
    ids=[
        "not-a-number",
        "decimal-comma-and-nan-text",
        "integer-with-fraction",
        "number-with-space",
        "not-a-boolean",
        "not-a-date",
        "out-of-range",
        "date-out-of-range",
        "oracle-out-of-range",
        "unknown-category",
        "non-nullable-missing",
        "label-not-binary",
        "label-missing",
        "id-missing",
    ],
)
def test_each_problem_kind(
    schema: Schema,
    text_frame: pd.DataFrame,
    column: str,
    values: dict[int, str],
    kind: ProblemKind,
    message: str,
    rows: tuple[int, ...],
) -> None:
    for position, value in values.items():
        text_frame.loc[position, column] = value
    result = validate_frame(text_frame, schema)
    problem = only_problem(result)
    assert problem.column == column
    assert problem.kind == kind
    assert problem.message == message.format(count=len(values))
    assert problem.count == len(values)
    assert problem.rows == rows
    assert problem.expected
    if kind != ProblemKind.MISSING_VALUE:
        assert problem.examples == tuple(values.values())
    assert result.frame is None


def test_out_of_range_says_the_range(schema: Schema, text_frame: pd.DataFrame) -> None:
    text_frame.loc[0, "age"] = "71"
    problem = only_problem(validate_frame(text_frame, schema))
    assert problem.expected == "between 16 and 70"


def test_integer_with_fraction_is_never_rounded(schema: Schema, text_frame: pd.DataFrame) -> None:
    text_frame.loc[0, "children_under_18"] = "3.5"
    text_frame.loc[1, "children_under_18"] = "3.0"  # whole: accepted as 3
    result = validate_frame(text_frame, schema)
    problem = only_problem(result)
    assert (problem.kind, problem.rows, problem.expected) == (
        ProblemKind.WRONG_TYPE,
        (1,),
        EXPECTED_INTEGER,
    )
    assert result.frame is None


def test_text_missing_markers_are_not_missing(schema: Schema, text_frame: pd.DataFrame) -> None:
    text_frame.loc[0, "years_in_finland"] = "NA"  # nullable, but only "" means missing
    text_frame.loc[0, "language_level"] = "null"
    result = validate_frame(text_frame, schema)
    kinds = {(p.column, p.kind) for p in result.problems}
    assert kinds == {
        ("years_in_finland", ProblemKind.WRONG_TYPE),
        ("language_level", ProblemKind.UNKNOWN_CATEGORY),
    }


def test_booleans_accept_true_false_one_zero_in_any_case(
    schema: Schema, text_frame: pd.DataFrame
) -> None:
    text_frame["driving_licence"] = ["TRUE", "false", "1", "0", "True", "FALSE"]
    frame = validate_frame(text_frame, schema).frame
    assert frame is not None
    assert list(frame["driving_licence"]) == [True, False, True, False, True, False]


def test_duplicate_ids(schema: Schema, text_frame: pd.DataFrame) -> None:
    text_frame.loc[3, "client_ref"] = text_frame.loc[0, "client_ref"]
    text_frame.loc[5, "client_ref"] = text_frame.loc[0, "client_ref"]
    problem = only_problem(validate_frame(text_frame, schema))
    assert (problem.column, problem.kind) == ("client_ref", ProblemKind.DUPLICATE_ID)
    assert problem.count == 3
    assert problem.rows == (1, 4, 6)
    assert problem.message == MSG_DUPLICATE_ID.format(count=3, distinct=1)
    assert problem.examples == ("c00000",)


def test_no_rows(schema: Schema, text_frame: pd.DataFrame) -> None:
    problem = only_problem(validate_frame(text_frame.iloc[0:0], schema))
    assert (problem.column, problem.kind, problem.message) == (
        None,
        ProblemKind.NO_ROWS,
        MSG_NO_ROWS,
    )


def test_duplicate_column(schema: Schema, text_frame: pd.DataFrame) -> None:
    doubled = pd.concat([text_frame, text_frame[["age"]]], axis=1)
    problem = only_problem(validate_frame(doubled, schema))
    assert (problem.column, problem.kind) == ("age", ProblemKind.DUPLICATE_COLUMN)
    assert problem.message == MSG_DUPLICATE_COLUMN.format(count=2)


def test_duplicated_csv_header_is_not_renamed(schema: Schema, tmp_path: Path) -> None:
    frame = text_sample(schema)
    path = tmp_path / "extract.csv"
    pd.concat([frame, frame[["gender"]]], axis=1).to_csv(path, index=False)
    problem = only_problem(validate_frame(read_extract(path), schema))
    assert (problem.column, problem.kind) == ("gender", ProblemKind.DUPLICATE_COLUMN)


# -- all problems at once --------------------------------------------------------------


def test_all_problems_are_reported_in_one_run(schema: Schema, text_frame: pd.DataFrame) -> None:
    broken = text_frame.drop(columns=["citizenship", "need_startup_grant"])
    broken.loc[0, "age"] = "abc"
    broken.loc[1, "age"] = "99"
    broken.loc[2, "work_ability_score"] = "11"
    broken.loc[3, "municipality"] = "Tampere"
    broken.loc[4, "gender"] = ""
    broken.loc[5, "need_pay_subsidy"] = "2"
    broken.loc[0, "registered_on"] = "1.1.2021"
    broken.loc[1, "client_ref"] = broken.loc[2, "client_ref"]
    broken["hetu"] = ["", "", IDENTITY_CODE, "", "", ""]
    result = validate_frame(broken, schema)
    found = {(problem.column, problem.kind) for problem in result.problems}
    assert found == {
        ("citizenship", ProblemKind.MISSING_COLUMN),
        ("need_startup_grant", ProblemKind.MISSING_COLUMN),
        ("age", ProblemKind.WRONG_TYPE),
        ("age", ProblemKind.OUT_OF_RANGE),
        ("work_ability_score", ProblemKind.OUT_OF_RANGE),
        ("municipality", ProblemKind.UNKNOWN_CATEGORY),
        ("gender", ProblemKind.MISSING_VALUE),
        ("need_pay_subsidy", ProblemKind.INVALID_LABEL),
        ("registered_on", ProblemKind.WRONG_TYPE),
        ("client_ref", ProblemKind.DUPLICATE_ID),
        ("hetu", ProblemKind.IDENTITY_CODE),
    }
    assert len(result.problems) == len(found)
    assert result.frame is None
    with pytest.raises(ExtractValidationError) as caught:
        raise ExtractValidationError(result, source="extract.csv")
    message = str(caught.value)
    assert "extract.csv" in message
    assert f"{len(found)} problem(s)" in message
    for problem in result.problems:
        assert problem.message in message
    assert caught.value.problems == result.problems


# -- typed frames ----------------------------------------------------------------------


def test_typed_values_are_checked_without_coercion(
    schema: Schema, canonical_frame: pd.DataFrame
) -> None:
    frame = canonical_frame.copy()
    frame["age"] = [30.0, 30.5, 40.0, 50.0, 60.0, 70.0]
    frame["driving_licence"] = [0, 1, 2, 1, 0, 1]
    stamps = ["2021-01-01 08:30"] + ["2021-01-02"] * 5
    frame["registered_on"] = pd.to_datetime(stamps, format="ISO8601").astype("datetime64[ns]")
    frame["client_ref"] = pd.Series([1, "c2", "c3", "c4", "c5", "c6"], dtype=object)
    frame["need_pay_subsidy"] = np.array([0, 1, 2, 0, 1, 0], dtype=np.int64)
    result = validate_frame(frame, schema)
    found = {(p.column, p.message, p.rows) for p in result.problems}
    assert found == {
        ("age", MSG_NOT_AN_INTEGER.format(count=1), (2,)),
        ("driving_licence", MSG_NOT_A_BOOLEAN.format(count=1), (3,)),
        ("registered_on", MSG_TIME_OF_DAY.format(count=1), (1,)),
        ("client_ref", MSG_NOT_TEXT.format(count=1), (1,)),
        ("need_pay_subsidy", MSG_LABEL_NOT_BINARY.format(count=1), (3,)),
    }


def test_other_typed_representations_are_accepted(
    schema: Schema, canonical_frame: pd.DataFrame
) -> None:
    frame = canonical_frame.copy()
    frame["age"] = pd.array([16, 17, 18, 19, 20, 21], dtype="Int64")
    frame["driving_licence"] = np.array([1, 0, 1, 0, 1, 0], dtype=np.int8)
    frame["business_plan"] = np.array([True, False] * 3)
    frame["gender"] = pd.Categorical(["female", "male"] * 3)
    frame["digital_skills"] = pd.Series(["basic", "good"] * 3, dtype="str")
    frame["need_pay_subsidy"] = np.array([True, False] * 3)
    result = validate_frame(frame, schema)
    assert result.frame is not None, render_problems(result.problems)
    assert list(result.frame["age"]) == [16.0, 17.0, 18.0, 19.0, 20.0, 21.0]
    assert result.frame["driving_licence"].dtype == "boolean"
    assert result.frame["gender"].dtype == object
    assert result.frame["need_pay_subsidy"].dtype == np.int8


def test_numbers_in_a_category_field_are_unknown_categories(
    schema: Schema, canonical_frame: pd.DataFrame
) -> None:
    canonical_frame["gender"] = pd.Series([1, "male", "female", 2, "male", "female"], dtype=object)
    problem = only_problem(validate_frame(canonical_frame, schema))
    assert (problem.kind, problem.rows, problem.examples) == (
        ProblemKind.UNKNOWN_CATEGORY,
        (1, 4),
        ("1", "2"),
    )


# -- loading a file ----------------------------------------------------------------------


def test_load_validated_extract_raises_with_every_problem(
    schema: Schema, text_frame: pd.DataFrame, tmp_path: Path
) -> None:
    text_frame.loc[0, "age"] = "3.5"
    text_frame.loc[1, "gender"] = "unknown"
    path = tmp_path / "extract.csv"
    text_frame.to_csv(path, index=False)
    with pytest.raises(ExtractValidationError) as caught:
        load_validated_extract(path, schema)
    assert str(path) in str(caught.value)
    assert {p.column for p in caught.value.problems} == {"age", "gender"}
    assert isinstance(caught.value, ValueError)
