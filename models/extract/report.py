"""Plain-text rendering of validation problems and of an extract profile.

The one place that turns a validation outcome into text for people: the ``tarve
validate`` command prints it, and :class:`~models.extract.validation.ExtractValidationError`
uses it as its message, so training and batch scoring logs read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from models.extract.problems import Problem

if TYPE_CHECKING:
    from models.extract.validation import ExtractProfile

WHOLE_EXTRACT = "(extract)"
NOTHING_CHANGED = "nothing was coerced or dropped"


def _rows_text(problem: Problem) -> str:
    if not problem.rows:
        return "-"
    listed = ", ".join(str(row) for row in problem.rows)
    return listed + (", ..." if problem.count > len(problem.rows) else "")


def render_problem(problem: Problem) -> str:
    """Two lines: where and what, then rows, expectation and examples."""
    column = problem.column if problem.column is not None else WHOLE_EXTRACT
    details = [f"rows: {_rows_text(problem)}", f"expected: {problem.expected or '-'}"]
    if problem.examples:
        details.append("examples: " + ", ".join(repr(value) for value in problem.examples))
    return f"{column} [{problem.kind}] {problem.message}\n    " + " | ".join(details)


def render_problems(problems: Sequence[Problem], *, source: str | None = None) -> str:
    """All problems as numbered text blocks, with a header naming the extract.

    Parameters
    ----------
    problems : sequence of Problem
        The problems of one validation.
    source : str, optional
        The extract's file name, shown in the header.

    Returns
    -------
    str
        Text without a trailing newline.
    """
    where = f"{source}: " if source else ""
    header = f"{where}{len(problems)} problem(s) found; {NOTHING_CHANGED}."
    blocks = [f"{number}. {render_problem(problem)}" for number, problem in enumerate(problems, 1)]
    return "\n".join([header, *blocks])


def _share(value: float) -> str:
    return f"{100 * value:5.1f} %"


def render_profile(profile: ExtractProfile, *, source: str | None = None) -> str:
    """Return the short profile of a valid extract: rows, missing shares, label prevalences.

    Fields without missing values are summarised in one line; ignored columns are
    listed by name.

    Parameters
    ----------
    profile : ExtractProfile
        The profile of a validation.
    source : str, optional
        The extract's file name, shown in the header.

    Returns
    -------
    str
        Text without a trailing newline.
    """
    where = f"{source}: " if source else ""
    lines = [
        f"{where}valid: {profile.rows:,} rows, {profile.columns} columns "
        f"({len(profile.missing_share)} fields, {len(profile.label_prevalence)} labels)."
    ]
    incomplete = {name: share for name, share in profile.missing_share.items() if share > 0}
    width = max(
        (len(name) for name in [*profile.missing_share, *profile.label_prevalence]), default=0
    )
    if incomplete:
        lines.append("Missing values (share of rows):")
        lines.extend(f"  {name:<{width}}  {_share(share)}" for name, share in incomplete.items())
    complete = len(profile.missing_share) - len(incomplete)
    lines.append(f"Fields without missing values: {complete}.")
    if profile.label_prevalence:
        lines.append("Label prevalence (share of 1):")
        for name, prevalence in profile.label_prevalence.items():
            shown = _share(prevalence) if prevalence is not None else "    - "
            lines.append(f"  {name:<{width}}  {shown}")
    if profile.ignored_columns:
        lines.append(
            f"Ignored columns (not in the schema, {len(profile.ignored_columns)}): "
            + ", ".join(profile.ignored_columns)
        )
    return "\n".join(lines)
