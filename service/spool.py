"""The durable local audit spool: audit rows kept on disk while the database is down.

When the database does not answer, :func:`service.audit_log.write_audit` appends the
rows here before the answer leaves: one JSON line per row, each with its own SHA-256
(a torn last line, from a crash mid-write, is recognised and skipped), appended with
``O_APPEND`` and ``fsync``'d, in a file of bounded size. When the database answers
again the rows are replayed in the order they were written, with
``ON CONFLICT (record_id) DO NOTHING``: replaying twice (a crash between insert and
truncate) never doubles a row. When the spool cannot take a row either (full, disk
error), the caller refuses the request with 503: never an answer without its record.

Replay moves the file aside first (``<name>.replaying``), so rows written meanwhile
go to a fresh file and stay behind the replayed ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger("service.spool")
MSG_FULL = "the audit spool is full ({size} of {limit} bytes)"
MSG_UNWRITABLE = "the audit spool cannot be written: {problem}"


class SpoolError(OSError):
    """The spool could not keep the rows (full, or the disk failed)."""


class AuditSpool:
    """An append-only, fsync'd, size-bounded file of audit rows (JSON lines).

    Parameters
    ----------
    path : Path
        The spool file (its directory is created).
    max_bytes : int
        The largest the spool may grow (both files together).
    """

    def __init__(self, path: str | Path, *, max_bytes: int) -> None:
        self.path = Path(path)
        self.replaying = self.path.with_name(self.path.name + ".replaying")
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._replay_lock = threading.Lock()

    def _size(self) -> int:
        return sum(_file_size(path) for path in (self.path, self.replaying))

    @property
    def pending(self) -> bool:
        """Whether rows wait to be replayed."""
        return self._size() > 0

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` durably (written and fsync'd when this returns).

        Raises
        ------
        SpoolError
            The spool is full or cannot be written.
        """
        lines = b"".join(_line(row) for row in rows)
        with self._lock:
            try:
                size = self._size()
                if size + len(lines) > self.max_bytes:
                    raise SpoolError(MSG_FULL.format(size=size, limit=self.max_bytes))
                self.path.parent.mkdir(parents=True, exist_ok=True)
                created = not self.path.exists()
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    written = os.write(descriptor, lines)
                    if written != len(lines):
                        raise SpoolError(MSG_UNWRITABLE.format(problem="short write"))
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
                if created:
                    _fsync_directory(self.path.parent)
            except SpoolError:
                raise
            except OSError as exc:
                raise SpoolError(MSG_UNWRITABLE.format(problem=exc)) from exc

    def replay(self, insert: Callable[[list[dict[str, Any]]], None], *, batch: int = 500) -> int:
        """Hand every spooled row, in order, to ``insert``; forget them once inserted.

        ``insert`` must be idempotent (the rows carry a unique ``record_id``). If it
        raises, the rows stay for the next replay.

        Returns
        -------
        int
            Rows handed over.
        """
        with self._replay_lock:
            with self._lock:
                if not self.replaying.exists():
                    if not self.path.exists():
                        return 0
                    os.replace(self.path, self.replaying)
            rows = read_rows(self.replaying)
            for start in range(0, len(rows), batch):
                insert(rows[start : start + batch])
            self.replaying.unlink()
            _fsync_directory(self.path.parent)
            return len(rows)


def _file_size(path: Path) -> int:
    # Replay may move or remove either file at any moment; a missing file holds nothing.
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _line(row: dict[str, Any]) -> bytes:
    body = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return (json.dumps({"sha256": digest, "row": body}, separators=(",", ":")) + "\n").encode()


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Return the intact rows of a spool file, in order (torn or altered lines skipped)."""
    rows: list[dict[str, Any]] = []
    if not path.exists():
        return rows
    skipped = 0
    for raw in path.read_bytes().splitlines():
        try:
            entry = json.loads(raw)
            body = entry["row"]
            if hashlib.sha256(body.encode("utf-8")).hexdigest() != entry["sha256"]:
                raise ValueError("checksum")
            rows.append(json.loads(body))
        except (ValueError, KeyError, TypeError):
            skipped += 1
    if skipped:
        logger.error("audit spool %s: %d damaged line(s) skipped", path, skipped)
    return rows


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
