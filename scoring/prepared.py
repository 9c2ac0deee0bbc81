"""What the check pass keeps for the scoring pass: encoded chunks, up to a memory budget.

The check pass validates every chunk anyway; for a clean chunk it also keeps what
ranking needs (:class:`models.ranking.PreparedFrame`: the encoded matrix, consent
flags, eligibility) and the client references, so the scoring pass neither reads nor
validates that chunk again. Chunks are kept in file order until ``budget_bytes`` is
used; the rest are read and validated again in the scoring pass, so memory stays
bounded whatever the extract's size. The benefit estimates of each kept chunk (and,
without reasons, its raw scores) are computed at once in a background thread (LightGBM
releases the GIL) while the check pass validates the next chunk: the two passes' work
overlaps on two cores.
Nothing here is output: the feed guard still decides before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.ranking import PreparedFrame

DEFAULT_BUDGET_BYTES = 512 << 20
_STRING_OVERHEAD = 57  # CPython's str object header (ASCII) plus the array's pointer


@dataclass
class PreparedChunk:
    """Chunk ``index`` (rows ``offset + 1 ...``), ready to rank.

    ``raw_scores`` and ``benefit``, when set, are background computations of the chunk's
    raw scores and benefit estimates.
    """

    index: int
    offset: int
    prepared: PreparedFrame
    client_refs: np.ndarray
    raw_scores: Future[np.ndarray] | None = None
    benefit: Future[Any] | None = None

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
    raw_scores : callable, optional
        Computes a matrix's raw scores; given, each kept chunk's are computed in a
        background thread. :meth:`close` stops it.
    benefit : callable, optional
        Computes a prepared frame's benefit estimates, in the same background thread.
    """

    def __init__(
        self,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        *,
        raw_scores: Callable[[np.ndarray], np.ndarray] | None = None,
        benefit: Callable[[PreparedFrame], Any] | None = None,
    ) -> None:
        self.budget_bytes = budget_bytes
        self.nbytes = 0
        self.chunks_seen = 0
        self._chunks: dict[int, PreparedChunk] = {}
        self._full = budget_bytes <= 0
        self._raw_scores = raw_scores
        self._benefit = benefit
        self._executor: ThreadPoolExecutor | None = None

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
        if self._raw_scores is None and self._benefit is None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="tarve-prepared")
        if self._raw_scores is not None:
            chunk.raw_scores = self._executor.submit(self._raw_scores, chunk.prepared.matrix)
        if self._benefit is not None:
            chunk.benefit = self._executor.submit(self._benefit, chunk.prepared)

    def stop(self) -> None:
        """Drop every kept chunk and keep no more (e.g. the extract is invalid)."""
        for chunk in self._chunks.values():
            for future in (chunk.raw_scores, chunk.benefit):
                if future is not None:
                    future.cancel()
        self._chunks.clear()
        self.nbytes = 0
        self._full = True

    def close(self) -> None:
        """Stop the background thread (a computation under way is waited for)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

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
