"""Register extracts: reading, validating and fingerprinting them against a schema.

An *extract* is a CSV or Parquet file with one row per jobseeker. :func:`read_extract`
reads one (the only reader: training, audits and the service use it);
:func:`validate_extract` checks every row and column against the schema and returns a
:class:`ValidationReport` that lists all problems at once; identity codes are detected
anywhere and never echoed. :func:`data_fingerprint` identifies the data a model or an
audit saw.
"""

from __future__ import annotations

from models.extract.fingerprint import data_fingerprint, file_fingerprint
from models.extract.identity_code import looks_like_identity_code, may_contain_identity_code
from models.extract.problems import Problem, ProblemKind
from models.extract.reading import ExtractReadError, read_extract
from models.extract.report import render_problems, render_profile
from models.extract.validation import (
    ExtractProfile,
    ExtractValidationError,
    ValidationResult,
    load_validated_extract,
    validate_frame,
)

__all__ = [
    "ExtractProfile",
    "ExtractReadError",
    "ExtractValidationError",
    "Problem",
    "ProblemKind",
    "ValidationResult",
    "data_fingerprint",
    "file_fingerprint",
    "load_validated_extract",
    "looks_like_identity_code",
    "may_contain_identity_code",
    "read_extract",
    "render_problems",
    "render_profile",
    "validate_frame",
]
