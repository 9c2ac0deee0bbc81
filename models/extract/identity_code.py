"""Finnish personal identity codes (henkilötunnus): recognise them so they never get in.

tarve never needs, stores or logs a personal identity code; clients are referred to by
a pseudonymous reference. The validator uses this module to refuse any extract column
whose values look like identity codes, and to keep such values out of every message.

The format is ``DDMMYYCZZZQ``: day, month and two-digit year of birth; a century sign
(``+`` 1800s; ``-``, ``Y``, ``X``, ``W``, ``V``, ``U`` 1900s; ``A``-``F`` 2000s); a
three-digit individual number; and a check character, ``CHECK_CHARACTERS[int(DDMMYYZZZ)
% 31]``. A value *looks like* an identity code when it contains this pattern (with a
plausible day and month) as a separate token, whatever its check character: a code
with a wrong check character is still personal data, typed in wrong.

The rule, everywhere a value enters (see docs/reliability.md):

- **Identifiers** (``client_ref``, key names, ``recommendation_request_id``, column
  names, every value of an uploaded or read file): refused when they contain the
  pattern as a separate token (any check character), or *anywhere* (glued to other
  characters: ``ura131052-308T``, ``131052-308Tx``, ``0131052-308T``) with a valid
  check character (:func:`contains_identity_code`).
- **Free text** (feedback comments, and every other string of a JSON body): first
  normalised (:func:`normalise_free_text`: Unicode NFKC so full-width digits become
  digits, zero-width and soft-hyphen characters removed, dashes unified, whitespace
  around the century sign dropped), then scanned with the identifier rule and also
  for the code written without a century sign (``131052308T``, valid check character)
  (:func:`free_text_has_identity_code`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURY_SIGNS = "+-ABCDEFYXWVU"
IDENTITY_CODE_LENGTH = 11

# RE2-compatible (no look-around) so that pandas can run it inside pyarrow.
# Groups: day, month, year, century sign, individual number, check character.
_CODE_PARTS = (
    r"(0[1-9]|[12][0-9]|3[01])(0[1-9]|1[0-2])([0-9]{2})"
    r"([-+A-FU-Y])([0-9]{3})([0-9A-Z])"
)
_TOKEN = r"(?i)(?:^|[^0-9A-Z]){code}(?:[^0-9A-Z]|$)"
IDENTITY_CODE_PATTERN = _TOKEN.format(code=_CODE_PARTS.replace("(", "(?:"))
_IDENTITY_CODE_PARTS = _TOKEN.format(code=_CODE_PARTS)
_IDENTITY_CODE_RE = re.compile(_IDENTITY_CODE_PARTS)
# Anywhere, even glued to other letters or digits: for keeping values out of messages.
_ANYWHERE_PATTERN = "(?i)" + _CODE_PARTS.replace("(", "(?:")
_IDENTITY_CODE_ANYWHERE_RE = re.compile("(?i)" + _CODE_PARTS)
WITHHELD = "<withheld>"
# Every occurrence, overlapping ones too (``0131052-308T`` holds a code from its 2nd digit).
_OVERLAPPING_RE = re.compile("(?i)(?=" + _CODE_PARTS + ")")
_BARE_CODE_RE = re.compile(
    r"(?i)(?=(0[1-9]|[12][0-9]|3[01])(0[1-9]|1[0-2])([0-9]{2})([0-9]{3})([0-9A-Z]))"
)
# Characters that hide a code from a scan without changing how it reads.
_INVISIBLE = dict.fromkeys(
    map(
        ord, "\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
    ),
    None,
)
_DASHES_RE = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d]")
_SPACED_SIGN_RE = re.compile(r"([0-9])\s*([-+A-FU-Ya-fu-y])\s*([0-9]{3})")
_SPACED_BARE_RE = re.compile(r"([0-9]{6})\s+([0-9]{3}[0-9A-Za-z])")
# A quick test that a text cannot hold a code in any form: fewer than 9 digits in it.
_NINE_DIGITS_RE = re.compile(r"(?:[0-9][^0-9]*){9}")


def looks_like_identity_code(text: str) -> bool:
    """Whether ``text`` contains something shaped like a personal identity code.

    Parameters
    ----------
    text : str
        Any value; the check character need not be valid.

    Returns
    -------
    bool
        True when the pattern ``DDMMYYCZZZQ`` occurs as a separate token.
    """
    return _IDENTITY_CODE_RE.search(text) is not None


def may_contain_identity_code(text: str) -> bool:
    """Whether ``text`` contains the identity-code shape anywhere, even inside a longer token.

    Broader than :func:`looks_like_identity_code` (which decides whether a column is
    refused); used to keep values out of messages, where caution costs nothing.
    """
    return _IDENTITY_CODE_ANYWHERE_RE.search(text) is not None


def _valid(day: str, month: str, year: str, number: str, check: str) -> bool:
    return CHECK_CHARACTERS[int(day + month + year + number) % 31] == check.upper()


def contains_identity_code(text: str) -> bool:
    """Whether an identifier holds an identity code (the identifier rule).

    True when the pattern occurs as a separate token (any check character, as
    :func:`looks_like_identity_code`) or anywhere, glued to other characters, with a
    valid check character (``ura131052-308T``, ``131052-308Tx``, ``0131052-308T``).
    """
    if len(text) < IDENTITY_CODE_LENGTH:
        return False
    if _IDENTITY_CODE_RE.search(text) is not None:
        return True
    for match in _OVERLAPPING_RE.finditer(text):
        day, month, year, _sign, number, check = match.groups()
        if _valid(day, month, year, number, check):
            return True
    return False


def normalise_free_text(text: str) -> str:
    """``text`` as a scan should see it: NFKC, no invisible characters, tight separators."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = _DASHES_RE.sub("-", text)
    text = _SPACED_SIGN_RE.sub(r"\1\2\3", text)
    return _SPACED_BARE_RE.sub(r"\1\2", text)


def free_text_has_identity_code(text: str) -> bool:
    """Whether free text holds an identity code in any of the forms people write it.

    The text is normalised (:func:`normalise_free_text`), then scanned with the
    identifier rule (:func:`contains_identity_code`) and for the code written without
    its century sign (``131052308T``, ``131052 308T``) with a valid check character.
    """
    if text.isascii() and _NINE_DIGITS_RE.search(text) is None:
        return False
    text = normalise_free_text(text)
    if contains_identity_code(text):
        return True
    for match in _BARE_CODE_RE.finditer(text):
        day, month, year, number, check = match.groups()
        if _valid(day, month, year, number, check):
            return True
    return False


def withhold_identity_codes(text: str) -> str:
    """``text`` with everything shaped like an identity code replaced by ``<withheld>``."""
    return _IDENTITY_CODE_ANYWHERE_RE.sub(WITHHELD, text)


def expected_check_character(birth_date: str, individual_number: str) -> str:
    """Return the check character for ``DDMMYY`` and ``ZZZ`` (both strings of digits)."""
    return CHECK_CHARACTERS[int(birth_date + individual_number) % 31]


def has_valid_check_character(text: str) -> bool:
    """Whether the first identity-code-shaped token in ``text`` has a correct check character.

    Parameters
    ----------
    text : str
        A value that :func:`looks_like_identity_code`.

    Returns
    -------
    bool
        False also when ``text`` holds no identity-code-shaped token at all.
    """
    match = _IDENTITY_CODE_RE.search(text)
    if match is None:
        return False
    day, month, year, _sign, number, check = match.groups()
    return expected_check_character(day + month + year, number) == check.upper()


@dataclass(frozen=True)
class IdentityCodeScan:
    """Where identity-code-shaped values occur in a column.

    Attributes
    ----------
    positions : numpy.ndarray
        0-based positions (in the scanned series' index) of matching values.
    valid_check : int
        How many of them carry a correct check character.
    """

    positions: np.ndarray
    valid_check: int

    @property
    def count(self) -> int:
        """How many values look like identity codes."""
        return len(self.positions)


def scan_identity_codes(texts: pd.Series) -> IdentityCodeScan:
    """Find identity-code-shaped values in a series of strings.

    Parameters
    ----------
    texts : pandas.Series
        Non-missing string values, indexed by their row position.

    Returns
    -------
    IdentityCodeScan
        The positions of matches and how many have a valid check character.
    """
    none = IdentityCodeScan(np.array([], dtype=np.int64), 0)
    long_enough = (texts.str.len() >= IDENTITY_CODE_LENGTH).to_numpy(dtype=bool)
    if not long_enough.any():
        return none
    candidates = texts[long_enough]
    shaped = candidates.str.contains(_ANYWHERE_PATTERN, regex=True).to_numpy(dtype=bool)
    if not shaped.any():
        return none
    matched = candidates[shaped]
    holds = np.fromiter((contains_identity_code(text) for text in matched), bool, len(matched))
    if not holds.any():
        return none
    matched = matched[holds]
    valid = sum(_has_valid_code(text) for text in matched)
    return IdentityCodeScan(matched.index.to_numpy(dtype=np.int64), int(valid))


def _has_valid_code(text: str) -> bool:
    return any(_valid(*match.group(1, 2, 3, 5, 6)) for match in _OVERLAPPING_RE.finditer(text))
