"""What can be wrong with a register extract: problem kinds, message templates, records.

A :class:`Problem` describes one kind of fault in one column (or in the whole
extract): how many values are affected, the first few row numbers and a few example
values. Row numbers count data rows from 1, header excluded: row 1 is the first record
after the header (line 2 of a CSV file without blank lines or multi-line values).
Values that look like personal identity codes are never kept as examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ROW_SAMPLE_SIZE = 5
EXAMPLE_SAMPLE_SIZE = 3
EXAMPLE_MAX_CHARS = 40


class ProblemKind(StrEnum):
    """The kinds of problem the validator reports."""

    NO_ROWS = "no_rows"
    MISSING_COLUMN = "missing_column"
    DUPLICATE_COLUMN = "duplicate_column"
    IDENTITY_CODE = "identity_code"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_CATEGORY = "unknown_category"
    MISSING_VALUE = "missing_value"
    INVALID_LABEL = "invalid_label"
    DUPLICATE_ID = "duplicate_id"


# Message templates (tests match them). `{count}` is the number of affected values.
MSG_NO_ROWS = "the extract has no data rows"
MSG_MISSING_COLUMN = "column is missing"
MSG_MISSING_LABEL_COLUMN = "label column is missing (use --no-labels to validate without labels)"
MSG_DUPLICATE_COLUMN = "column appears {count} times"
MSG_IDENTITY_CODE = (
    "{count} value(s) look like Finnish personal identity codes (henkilötunnus), "
    "{valid} with a valid check character and {invalid} without; values withheld"
)
MSG_IDENTITY_CODE_NAME = (
    "the column name looks like a Finnish personal identity code (a file without a "
    "header row?); name withheld"
)
MSG_NOT_A_NUMBER = "{count} value(s) are not numbers"
MSG_NOT_AN_INTEGER = "{count} value(s) have a fraction but the field holds whole numbers"
MSG_NOT_A_BOOLEAN = "{count} value(s) are not booleans"
MSG_NOT_A_DATE = "{count} value(s) are not dates in the form YYYY-MM-DD"
MSG_TIME_OF_DAY = "{count} value(s) carry a time of day but the field holds dates"
MSG_NOT_TEXT = "{count} value(s) are not text"
MSG_OUT_OF_RANGE = "{count} value(s) are outside the allowed range"
MSG_UNKNOWN_CATEGORY = "{count} value(s) are not among the allowed categories"
MSG_MISSING_VALUE = "{count} value(s) are missing but the field may not be missing"
MSG_LABEL_NOT_BINARY = "{count} label value(s) are not 0 or 1"
MSG_LABEL_MISSING = "{count} label value(s) are missing; a label column must be complete"
MSG_DUPLICATE_ID = "{count} rows share {distinct} id value(s); each client must appear once"

WITHHELD_COLUMN_NAME = "<column {position}: name withheld>"


@dataclass(frozen=True)
class Problem:
    """One kind of fault in one column of an extract.

    Attributes
    ----------
    column : str or None
        The column's name (withheld when it looks like an identity code); None for a
        problem of the whole extract.
    kind : ProblemKind
        What is wrong.
    message : str
        A sentence saying what is wrong, with the count; never contains a value.
    count : int
        Affected values (rows); for a whole-column problem, the number of columns.
    rows : tuple of int
        The first few affected row numbers (1-based data rows, header excluded).
    expected : str
        What the schema expects instead.
    examples : tuple of str
        The first few distinct offending values, never identity-code-like ones.
    """

    column: str | None
    kind: ProblemKind
    message: str
    count: int = 1
    rows: tuple[int, ...] = ()
    expected: str = ""
    examples: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as JSON-ready data."""
        return {
            "column": self.column,
            "kind": str(self.kind),
            "message": self.message,
            "count": self.count,
            "rows": list(self.rows),
            "expected": self.expected,
            "examples": list(self.examples),
        }
