"""Fingerprints that identify the data a model was trained on or an audit saw."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd


def data_fingerprint(*frames: pd.DataFrame) -> str:
    """``sha256:<hex>`` over the column names and row hashes of the frames."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update("\x1f".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def file_fingerprint(path: str | Path) -> str:
    """``sha256:<hex>`` of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()
