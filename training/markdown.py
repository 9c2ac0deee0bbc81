"""Markdown pages (the model card, the evaluation report) from the package's templates.

The templates are Jinja2 files in ``training/templates``; the text of each page lives
there and only there. Markdown is not escaped (autoescaping applies to HTML and XML
templates only); numbers are formatted by the ``number`` filter.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

MISSING = "–"


def number(value: Any, digits: int = 3) -> str:
    """Format a figure for a table: ``–`` for None, yes/no, thousands, fixed decimals.

    Parameters
    ----------
    value : float, int, bool or None
        The figure.
    digits : int
        Decimals of a float.

    Returns
    -------
    str
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("training", "templates"),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["number"] = number
    return environment


def render(template: str, **values: Any) -> str:
    """Render one template of ``training/templates`` with ``values``.

    Parameters
    ----------
    template : str
        File name, e.g. ``model_card.md.j2``.
    **values
        The template's variables.

    Returns
    -------
    str
    """
    return _environment().get_template(template).render(**values)
