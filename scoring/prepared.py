"""What the check pass keeps for the scoring pass: encoded chunks, up to a memory budget.

The check pass validates every chunk anyway; for a clean chunk it also keeps what
ranking needs (:class:`models.ranking.PreparedFrame`: the encoded matrix, consent
flags, eligibility) and the client references, so the scoring pass neither reads nor
validates that chunk again. Chunks are kept in file order until ``budget_bytes`` is
used; the rest are read and validated again in the scoring pass, so memory stays
bounded whatever the extract's size. Nothing here is output: the feed guard still
decides before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.ranking import PreparedFrame

DEFAULT_BUDGET_BYTES = 512 << 20
_STRING_OVERHEAD = 57  # CPython's str object header (ASCII) plus the array's pointer


@dataclass(frozen=True)
class PreparedChunk:
    """Chunk ``index`` (rows ``offset + 1 ...``), ready to rank."""

    index: int
    offset: int
    prepared: PreparedFrame
    client_refs: np.ndarray

    @property
    def rows(self) -> int:
        """Number of rows."""
        return self.prepared.rows

    @property
    def nbytes(self) -> int:
        """Memory held, the client references estimated from their lengths."""
        refs = len(self.client_refs) * _STRING_OVERHEAD + sum(map(len, self.client_refs))
        return self.prepared.nbytes + refs


class PreparedCache:
    """Prepared chunks in file order, while they fit in ``budget_bytes``.

    Parameters
    ----------
    budget_bytes : int
        Memory the kept chunks may hold (0 keeps none).
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self.nbytes = 0
        self.chunks_seen = 0
        self._chunks: dict[int, PreparedChunk] = {}
        self._full = budget_bytes <= 0

    @property
    def accepting(self) -> bool:
        """Whether the next chunk may still be kept."""
        return not self._full

    def add(self, chunk: PreparedChunk) -> None:
        """Keep a chunk if it fits; once one does not, keep no later ones."""
        if self._full or self.nbytes + chunk.nbytes > self.budget_bytes:
            self._full = True
            return
        self._chunks[chunk.index] = chunk
        self.nbytes += chunk.nbytes

    def stop(self) -> None:
        """Drop every kept chunk and keep no more (e.g. the extract is invalid)."""
        self._chunks.clear()
        self.nbytes = 0
        self._full = True

    @property
    def complete(self) -> bool:
        """Whether every chunk of the extract is kept (the scoring pass need not read it)."""
        return len(self._chunks) == self.chunks_seen

    def pop(self, index: int) -> PreparedChunk | None:
        """Take chunk ``index`` out (its memory is freed once it is ranked)."""
        chunk = self._chunks.pop(index, None)
        if chunk is not None:
            self.nbytes -= chunk.nbytes
        return chunk

    def indices(self) -> list[int]:
        """Return the kept chunks' indices, in file order."""
        return sorted(self._chunks)
