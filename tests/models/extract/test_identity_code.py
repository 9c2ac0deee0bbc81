"""Identity codes: recognised, counted, never echoed, never accepted in an extract."""

from __future__ import annotations

import pandas as pd

from models.extract.identity_code import (
    has_valid_check_character,
    looks_like_identity_code,
    scan_identity_codes,
)
from models.extract.problems import (
    MSG_IDENTITY_CODE,
    MSG_IDENTITY_CODE_NAME,
    ProblemKind,
)
from models.extract.validation import (
    validate_frame,
)
from models.schema import Schema
from tests.support.sample_extracts import (
    IDENTITY_CODE,
    IDENTITY_CODE_BAD_CHECK,
    everything_said,
    only_problem,
)

# -- identity codes --------------------------------------------------------------------


def test_identity_code_check_character() -> None:
    assert looks_like_identity_code(IDENTITY_CODE)
    assert has_valid_check_character(IDENTITY_CODE)
    assert looks_like_identity_code(IDENTITY_CODE_BAD_CHECK)
    assert not has_valid_check_character(IDENTITY_CODE_BAD_CHECK)
    assert looks_like_identity_code("asiakas 010203A1234 soitti")
    assert looks_like_identity_code(IDENTITY_CODE.lower())
    for harmless in ("c00001", "2021-03-01", "131052308T", "1310523308T", "321052-308T", "x"):
        assert not looks_like_identity_code(harmless), harmless


def test_scan_counts_valid_and_invalid_check_characters() -> None:
    texts = pd.Series(["a", IDENTITY_CODE, "b", IDENTITY_CODE_BAD_CHECK], dtype="str")
    scan = scan_identity_codes(texts)
    assert list(scan.positions) == [1, 3]
    assert (scan.count, scan.valid_check) == (2, 1)


def test_identity_codes_in_an_unexpected_column(schema: Schema, text_frame: pd.DataFrame) -> None:
    text_frame["notes"] = ["", IDENTITY_CODE, "ok", f"hetu {IDENTITY_CODE_BAD_CHECK}", "", ""]
    result = validate_frame(text_frame, schema)
    problem = only_problem(result)
    assert (problem.column, problem.kind) == ("notes", ProblemKind.IDENTITY_CODE)
    assert problem.rows == (2, 4)
    assert problem.message == MSG_IDENTITY_CODE.format(count=2, valid=1, invalid=1)
    assert problem.examples == ()
    said = everything_said(result)
    assert IDENTITY_CODE not in said
    assert IDENTITY_CODE_BAD_CHECK not in said
    assert "308" not in said


def test_identity_codes_in_a_schema_field(schema: Schema, text_frame: pd.DataFrame) -> None:
    text_frame.loc[1, "client_ref"] = IDENTITY_CODE
    text_frame.loc[2, "municipality"] = IDENTITY_CODE_BAD_CHECK
    text_frame.loc[3, "municipality"] = "Turku"
    result = validate_frame(text_frame, schema)
    found = {(problem.column, problem.kind): problem for problem in result.problems}
    assert set(found) == {
        ("client_ref", ProblemKind.IDENTITY_CODE),
        ("municipality", ProblemKind.IDENTITY_CODE),
        ("municipality", ProblemKind.UNKNOWN_CATEGORY),
    }
    assert found[("client_ref", ProblemKind.IDENTITY_CODE)].message == MSG_IDENTITY_CODE.format(
        count=1, valid=1, invalid=0
    )
    # The column holds identity codes, so none of its values is echoed, not even "Turku".
    assert found[("municipality", ProblemKind.UNKNOWN_CATEGORY)].examples == ()
    said = everything_said(result)
    assert IDENTITY_CODE not in said
    assert IDENTITY_CODE_BAD_CHECK not in said


def test_identity_code_as_a_column_name_is_withheld(
    schema: Schema, text_frame: pd.DataFrame
) -> None:
    # A file without a header row: its first record becomes the column names.
    text_frame[IDENTITY_CODE] = ["x"] * len(text_frame)
    result = validate_frame(text_frame, schema)
    problem = only_problem(result)
    assert problem.kind == ProblemKind.IDENTITY_CODE
    assert problem.message == MSG_IDENTITY_CODE_NAME
    assert IDENTITY_CODE not in everything_said(result)


def test_identity_code_never_echoed_as_an_example(schema: Schema, text_frame: pd.DataFrame) -> None:
    # Glued with a wrong check character: not refused, but never quoted either.
    text_frame.loc[0, "age"] = f"x{IDENTITY_CODE_BAD_CHECK}"
    text_frame.loc[1, "age"] = "abc"
    result = validate_frame(text_frame, schema)
    problem = only_problem(result)
    assert problem.kind == ProblemKind.WRONG_TYPE
    assert problem.count == 2
    assert all(IDENTITY_CODE_BAD_CHECK not in example for example in problem.examples)


def test_glued_codes_with_a_valid_check_character_are_refused(
    schema: Schema, text_frame: pd.DataFrame
) -> None:
    code = IDENTITY_CODE
    glued = [f"ura{code}", f"{code}x", f"HETU{code}", f"0{code}"]
    text_frame["notes"] = [*glued, "ok", ""]
    problem = only_problem(validate_frame(text_frame, schema))
    assert (problem.column, problem.kind) == ("notes", ProblemKind.IDENTITY_CODE)
    assert problem.rows == (1, 2, 3, 4)
