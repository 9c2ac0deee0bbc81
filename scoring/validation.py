"""Validate an extract chunk by chunk with the shared validator, and report as for a whole file.

Each chunk goes through :func:`models.extract.validate_frame`; the problems of all
chunks are merged into one list, as if the file had been validated at once: counts
add up, row numbers are those of the whole file, examples are the first few distinct
ones (never identity-code-like values: the validator withholds them). Problems of the
file's structure (a missing or duplicated column, an identity code as a column name)
are the same in every chunk and reported once. Client references repeated across
chunks are found from 64-bit hashes of the ids, so no id is kept in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from models.extract.problems import (
    EXAMPLE_SAMPLE_SIZE,
    MSG_DUPLICATE_ID,
    MSG_IDENTITY_CODE_NAME,
    ROW_SAMPLE_SIZE,
    Problem,
    ProblemKind,
)
from models.extract.validation import (
    EXPECTED_UNIQUE_ID,
    ExtractProfile,
    ValidationResult,
    validate_frame,
)
from models.schema import Schema

STRUCTURE_KINDS = {ProblemKind.NO_ROWS, ProblemKind.MISSING_COLUMN, ProblemKind.DUPLICATE_COLUMN}
_NUMBER = re.compile(r"\d+")


def _is_structural(problem: Problem) -> bool:
    return problem.kind in STRUCTURE_KINDS or problem.message == MSG_IDENTITY_CODE_NAME


@dataclass
class _Merged:
    first: Problem
    numbers: list[int]
    count: int
    rows: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def add(self, problem: Problem, offset: int) -> None:
        numbers = [int(text) for text in _NUMBER.findall(problem.message)]
        self.numbers = [a + b for a, b in zip(self.numbers, numbers, strict=False)]
        self.count += problem.count
        self._take(problem, offset)

    def _take(self, problem: Problem, offset: int) -> None:
        for row in problem.rows:
            if len(self.rows) < ROW_SAMPLE_SIZE:
                self.rows.append(row + offset)
        for example in problem.examples:
            if example not in self.examples and len(self.examples) < EXAMPLE_SAMPLE_SIZE:
                self.examples.append(example)

    def problem(self) -> Problem:
        numbers = iter(self.numbers)
        message = _NUMBER.sub(lambda _: str(next(numbers)), self.first.message)
        return replace(
            self.first,
            message=message,
            count=self.count,
            rows=tuple(self.rows),
            examples=tuple(self.examples),
        )


def id_hashes(frame: pd.DataFrame, schema: Schema) -> np.ndarray | None:
    """64-bit hashes of the client references (0 where missing), or None without ids."""
    id_column = schema.id_column
    if id_column is None or id_column not in frame.columns:
        return None
    ids = frame[id_column]
    present = ids.notna().to_numpy(dtype=bool)
    hashes = pd.util.hash_array(ids.astype(str).to_numpy(dtype=object))
    return np.where(present, hashes, np.uint64(0))


class ChunkedValidation:
    """Validate chunks one after another; then :meth:`result` for the whole extract.

    Parameters
    ----------
    schema : Schema
        The schema the extract must follow (labels are not required: scoring).
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.rows = 0
        self.columns = 0
        self._structural: list[Problem] = []
        self._merged: dict[tuple[object, ...], _Merged] = {}
        self._order: list[tuple[object, ...]] = []
        self._missing: dict[str, int] = {}
        self._ignored: list[str] = []
        self._id_hashes: list[np.ndarray] = []

    def add(self, frame: pd.DataFrame, *, offset: int) -> pd.DataFrame | None:
        """Validate one chunk (rows ``offset + 1 ...``); its canonical frame if it is clean."""
        result = validate_frame(frame, self.schema, require_labels=False)
        clean = self.add_result(result, id_hashes(frame, self.schema), offset=offset)
        return result.frame if clean else None

    def add_result(
        self, result: ValidationResult, hashes: np.ndarray | None, *, offset: int
    ) -> bool:
        """Merge one chunk's validation (done here or on a Dask worker); True if clean."""
        rows = result.profile.rows
        first = self.rows == 0 and not self._order and not self._structural
        self.rows += rows
        self.columns = result.profile.columns
        if first:
            self._ignored = list(result.profile.ignored_columns)
        for name, share in result.profile.missing_share.items():
            self._missing[name] = self._missing.get(name, 0) + round(share * rows)
        clean = True
        for problem in result.problems:
            if problem.kind == ProblemKind.DUPLICATE_ID:
                continue  # found across chunks below
            clean = False
            if _is_structural(problem):
                if first:
                    self._structural.append(problem)
                continue
            key = (problem.column, problem.kind, _NUMBER.sub("#", problem.message))
            merged = self._merged.get(key)
            if merged is None:
                numbers = [int(text) for text in _NUMBER.findall(problem.message)]
                merged = _Merged(problem, numbers, problem.count)
                merged._take(problem, offset)
                self._merged[key] = merged
                self._order.append(key)
            else:
                merged.add(problem, offset)
        if hashes is not None:
            self._id_hashes.append(hashes)
        return clean

    def _duplicate_ids(self) -> Problem | None:
        if not self._id_hashes or self.schema.id_column is None:
            return None
        hashes = np.concatenate(self._id_hashes)
        unique, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
        repeated = (counts[inverse] > 1) & (hashes != 0)
        if not repeated.any():
            return None
        count = int(repeated.sum())
        distinct = int(np.count_nonzero((counts > 1) & (unique != 0)))
        return Problem(
            column=self.schema.id_column,
            kind=ProblemKind.DUPLICATE_ID,
            message=MSG_DUPLICATE_ID.format(count=count, distinct=distinct),
            count=count,
            rows=tuple(int(row) + 1 for row in np.flatnonzero(repeated)[:ROW_SAMPLE_SIZE]),
            expected=EXPECTED_UNIQUE_ID,
        )

    def result(self) -> ValidationResult:
        """Every problem of the extract so far, and its profile (no frame)."""
        problems = list(self._structural)
        problems += [self._merged[key].problem() for key in self._order]
        duplicate = self._duplicate_ids()
        if duplicate is not None:
            problems.append(duplicate)
        profile = ExtractProfile(
            rows=self.rows,
            columns=self.columns,
            missing_share={
                name: (missing / self.rows if self.rows else 0.0)
                for name, missing in self._missing.items()
            },
            label_prevalence={},
            ignored_columns=self._ignored,
        )
        return ValidationResult(problems, profile, None)
