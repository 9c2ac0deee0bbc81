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
"""

from __future__ import annotations

import re
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
_IDENTITY_CODE_ANYWHERE_RE = re.compile("(?i)" + _CODE_PARTS)
WITHHELD = "<withheld>"


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
    matches = candidates.str.contains(IDENTITY_CODE_PATTERN, regex=True).to_numpy(dtype=bool)
    if not matches.any():
        return none
    matched = candidates[matches]
    parts = matched.str.extract(_IDENTITY_CODE_PARTS, expand=True)
    digits = (parts[0] + parts[1] + parts[2] + parts[4]).astype("int64").to_numpy()
    alphabet = np.array(list(CHECK_CHARACTERS))
    expected = alphabet[digits % 31]
    actual = parts[5].str.upper().to_numpy(dtype=object)
    valid = int(np.sum(expected == actual))
    return IdentityCodeScan(matched.index.to_numpy(dtype=np.int64), valid)
