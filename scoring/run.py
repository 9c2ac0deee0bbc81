"""Score a whole extract: check it, guard the feed, rank every client, write the output.

:func:`score_extract` makes two passes over the extract, chunk by chunk, so memory
stays bounded whatever its size:

1. *check*: every chunk through the shared validator (all problems of the file are
   reported at once) and into the feed guard's profile; then the guard compares the
   extract with the model's training reference. A broken extract or a failing guard
   stops here, before any output exists (:class:`FeedRefused` carries the report;
   ``accept_drift`` with a reason goes on and records it). Clean chunks are also
   encoded and kept (:mod:`scoring.prepared`, up to a memory budget), so the second
   pass does not read and validate them again.
2. *score*: every chunk through :func:`models.ranking.rank_prepared` (the API's
   rules), into a part file; finished parts survive an interruption and ``resume``
   skips them; the parts are joined and renamed into the output at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.benefit import BenefitTable, benefit_table
from models.drift import (
    DriftPolicy,
    DriftReport,
    ObservedProfile,
    ProfileAccumulator,
    ReferenceProfile,
    compare_profiles,
    load_drift_policy,
    read_reference,
)
from models.extract.fingerprint import file_fingerprint
from models.extract.validation import ExtractValidationError
from models.model import ServiceNeedModel, load_model
from models.ranking import PreparedFrame, prepare_frame, rank_prepared
from models.registry import resolve_model_uri
from models.schema import Schema
from scoring.output import OutputBuilder
from scoring.prepared import DEFAULT_BUDGET_BYTES, PreparedCache, PreparedChunk
from scoring.reading import Chunk, ExtractChunks
from scoring.summary import ScoreSummary, ServiceCounts, chunk_counts, merge_counts
from scoring.validation import ChunkedValidation
from scoring.writer import PartWriter, atomic_write_text, output_format

DEFAULT_CHUNK_ROWS = 20_000
SIDECAR_SUFFIX = ".summary.json"
MSG_NO_REFERENCE = (
    "the model has no feed reference (feed_reference.json; trained before the feed guard): "
    "the extract cannot be checked"
)
MSG_SCHEMA_MISMATCH = "the feed reference was made for another schema ({found}, model {expected})"


class FeedRefused(Exception):
    """The feed guard refused the extract; ``report`` names every failed check."""

    def __init__(self, report: DriftReport | None, reason: str | None = None) -> None:
        self.report = report
        self.reason = reason
        self.fingerprint: str | None = None
        self.rows: int | None = None
        super().__init__(reason or "the feed guard refused the extract")


@dataclass(frozen=True)
class ScoreOptions:
    """How to score.

    Attributes
    ----------
    lang : {"fi", "sv", "en"}
    reasons : int
        Reasons per service (0 or ``explain=False``: none).
    explain : bool
        Compute TreeSHAP reasons.
    top_k : int, optional
        Suggestions kept per client (default: every service).
    chunk_rows : int
        Rows per chunk.
    num_threads : int
        LightGBM threads (0: all cores).
    accept_drift : str, optional
        Go on although the feed guard fails, for this recorded reason.
    resume : bool
        Keep the finished chunks of an interrupted run of the same job.
    keep_bytes : int
        Memory for chunks the check pass keeps encoded for the scoring pass (0: none;
        the rest are read and validated again). Does not change the output.
    """

    lang: str = "fi"
    reasons: int = 5
    explain: bool = True
    top_k: int | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    num_threads: int = 0
    accept_drift: str | None = None
    resume: bool = False
    keep_bytes: int = DEFAULT_BUDGET_BYTES

    def key(self) -> dict[str, Any]:
        """Return the options that change the output (a resume needs the same ones)."""
        return {
            "lang": self.lang,
            "reasons": self.reasons if self.explain else 0,
            "top_k": self.top_k,
            "chunk_rows": self.chunk_rows,
        }


@dataclass
class Progress:
    """Callbacks for progress output (all optional)."""

    start: Callable[[str, int | None], None] = lambda description, total: None
    advance: Callable[[int], None] = lambda rows: None
    stop: Callable[[], None] = lambda: None


@dataclass
class ModelHandle:
    """A loaded model with where it came from and its feed reference."""

    model: ServiceNeedModel
    uri: str
    directory: Path
    reference: ReferenceProfile | None

    @property
    def version(self) -> str | None:
        """The registered version (training stores it in the metadata)."""
        return self.model.version

    def describe(self) -> dict[str, Any]:
        """Name, version, URI and schema fingerprint."""
        return {
            "name": self.model.name,
            "version": self.version,
            "uri": self.uri,
            "schema_fingerprint": self.model.schema.fingerprint(),
        }


def open_model(uri: str | Path) -> ModelHandle:
    """Resolve (MLflow URI or directory) and load a model with its feed reference."""
    directory = resolve_model_uri(uri)
    return ModelHandle(load_model(directory), str(uri), directory, read_reference(directory))


@dataclass
class CheckOutcome:
    """The first pass: rows, fingerprint and the feed guard's report."""

    rows: int
    fingerprint: str
    report: DriftReport | None
    accepted_reason: str | None = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def guard_summary(self) -> dict[str, Any]:
        """Return what the sidecar and the audit log record about the guard."""
        summary: dict[str, Any] = {
            "passed": bool(self.report is not None and self.report.passed),
            "accepted_reason": self.accepted_reason,
        }
        if self.problem:
            summary["problem"] = self.problem
        if self.report is not None:
            summary.update(self.report.summary())
            summary["passed"] = self.report.passed
        return summary


def guard_verdict(
    handle: ModelHandle,
    observed_report: Callable[[ReferenceProfile], DriftReport],
    *,
    accept_drift: str | None,
) -> tuple[DriftReport | None, str | None]:
    """Run the guard; raise :class:`FeedRefused` unless it passes or drift is accepted."""
    reference = handle.reference
    if reference is None:
        if not accept_drift:
            raise FeedRefused(None, MSG_NO_REFERENCE)
        return None, MSG_NO_REFERENCE
    if reference.schema_fingerprint != handle.model.schema.fingerprint():
        message = MSG_SCHEMA_MISMATCH.format(
            found=reference.schema_fingerprint, expected=handle.model.schema.fingerprint()
        )
        if not accept_drift:
            raise FeedRefused(None, message)
        return None, message
    report = observed_report(reference)
    if not report.passed and not accept_drift:
        raise FeedRefused(report)
    return report, None


def check_extract(
    data: Path,
    handle: ModelHandle,
    *,
    policy: DriftPolicy,
    options: ScoreOptions,
    progress: Progress | None = None,
    keep: PreparedCache | None = None,
) -> CheckOutcome:
    """Pass 1: validate every chunk, profile it, run the feed guard.

    With ``keep``, clean chunks are also prepared for ranking and kept there (all are
    dropped as soon as a chunk has a problem: the run stops before scoring anyway).

    Raises
    ------
    models.extract.ExtractReadError
        The file cannot be read.
    models.extract.ExtractValidationError
        The extract breaks the schema (every problem of the file is listed).
    FeedRefused
        The feed guard failed and drift was not accepted.
    """
    progress = progress or Progress()
    schema = handle.model.schema
    chunks = ExtractChunks(data, chunk_rows=options.chunk_rows)
    validation = ChunkedValidation(schema)
    accumulator = (
        ProfileAccumulator(handle.reference, schema) if handle.reference is not None else None
    )
    progress.start("checking the extract", chunks.rows())
    seen = False
    for chunk in chunks:
        seen = True
        frame = validation.add(chunk.frame, offset=chunk.offset)
        if frame is not None and accumulator is not None:
            accumulator.update(frame)
        if keep is not None:
            keep.chunks_seen += 1
            if frame is None:
                keep.stop()
            elif keep.accepting:
                keep.add(_prepared_chunk(handle.model, chunk, frame))
        progress.advance(len(chunk.frame))
    if not seen:
        validation.add(chunks.empty_frame(), offset=0)
    progress.stop()
    chunks.check_complete()
    result = validation.result()
    if not result.ok:
        raise ExtractValidationError(result, source=data)

    def observed() -> ObservedProfile:
        assert accumulator is not None
        return accumulator.observed

    return judge_feed(handle, data, validation.rows, observed, options=options, policy=policy)


def judge_feed(
    handle: ModelHandle,
    data: Path,
    rows: int,
    observed: Callable[[], ObservedProfile],
    *,
    options: ScoreOptions,
    policy: DriftPolicy,
) -> CheckOutcome:
    """Return the feed guard's verdict on a valid extract (:func:`guard_verdict`).

    ``observed`` gives the extract's profile (asked for only when the model has a
    reference). Raises :class:`FeedRefused`, with the extract's fingerprint and rows,
    when the guard stops the run.
    """
    fingerprint = file_fingerprint(data)

    def report_of(reference: ReferenceProfile) -> DriftReport:
        return compare_profiles(reference, observed(), policy)

    try:
        report, problem = guard_verdict(handle, report_of, accept_drift=options.accept_drift)
    except FeedRefused as refused:
        refused.fingerprint, refused.rows = fingerprint, rows
        raise
    return CheckOutcome(
        rows=rows,
        fingerprint=fingerprint,
        report=report,
        accepted_reason=options.accept_drift
        if (problem or not report or not report.passed)
        else None,
        problem=problem,
    )


def sidecar_path(out: Path) -> Path:
    """``<out>.summary.json``."""
    return out.with_name(out.name + SIDECAR_SUFFIX)


def _client_refs(schema: Schema, frame: pd.DataFrame, offset: int) -> np.ndarray:
    """Return the id column's values, or file row numbers when there is no id column."""
    if schema.id_column:
        # A copy: a view would keep the chunk's whole block of text columns alive.
        return frame[schema.id_column].to_numpy(dtype=object, copy=True)
    return np.arange(offset + 1, offset + len(frame) + 1).astype(str)


def _prepared_chunk(model: ServiceNeedModel, chunk: Chunk, frame: pd.DataFrame) -> PreparedChunk:
    return PreparedChunk(
        chunk.index,
        chunk.offset,
        prepare_frame(model, frame),
        _client_refs(model.schema, frame, chunk.offset),
    )


def pending_chunks(
    data: Path, options: ScoreOptions, keep: PreparedCache | None
) -> Iterator[Chunk | PreparedChunk]:
    """Yield the chunks to score in file order: kept ones as they are, the rest read anew."""
    if keep is not None and keep.complete:
        for index in keep.indices():
            ready = keep.pop(index)
            assert ready is not None
            yield ready
        return
    for chunk in ExtractChunks(data, chunk_rows=options.chunk_rows):
        kept = keep.pop(chunk.index) if keep is not None else None
        yield kept if kept is not None else chunk


def score_chunks(
    chunks: Iterator[Chunk | PreparedChunk],
    handle: ModelHandle,
    options: ScoreOptions,
    writer: PartWriter,
    progress: Progress,
) -> tuple[int, dict[str, ServiceCounts]]:
    """Pass 2: rank every chunk not finished yet and write its part; returns chunks, counts.

    A :class:`~scoring.reading.Chunk` (not kept by the check pass) is validated again;
    a :class:`~scoring.prepared.PreparedChunk` is ranked as it is.
    """
    model = handle.model
    builder = OutputBuilder(model, lang=options.lang, top_k=options.top_k)
    validation = ChunkedValidation(model.schema)
    explain = options.explain and options.reasons > 0
    totals: dict[str, ServiceCounts] = {}
    count = 0
    for chunk in chunks:
        count += 1
        rows = chunk.rows if isinstance(chunk, PreparedChunk) else len(chunk.frame)
        if writer.is_done(chunk.index):
            merge_counts(totals, writer.counts(chunk.index))
            progress.advance(rows)
            continue
        if isinstance(chunk, PreparedChunk):
            prepared = chunk
        else:
            frame = validation.add(chunk.frame, offset=chunk.offset)
            if frame is None:  # the file changed since the check
                raise ExtractValidationError(validation.result(), source=str(chunk.index))
            prepared = _prepared_chunk(model, chunk, frame)
        ranked = rank_prepared(
            model,
            prepared.prepared,
            explain=explain,
            top_reasons=options.reasons,
            num_threads=options.num_threads,
            raw_scores=None if prepared.raw_scores is None else prepared.raw_scores.result(),
        )
        benefit = (
            prepared.benefit.result()
            if prepared.benefit is not None
            else benefit_table(
                model, ranked.matrix, ranked.eligible, num_threads=options.num_threads
            )
        )
        table = builder.table(prepared.client_refs, ranked, explain=explain, benefit=benefit)
        counts = chunk_counts(model.services, ranked, benefit)
        writer.write(chunk.index, table, counts)
        merge_counts(totals, counts)
        progress.advance(rows)
    return count, totals


def score_extract(
    data: str | Path,
    model: str | Path | ModelHandle,
    out: str | Path,
    *,
    options: ScoreOptions | None = None,
    policy: DriftPolicy | None = None,
    progress: Progress | None = None,
) -> ScoreSummary:
    """Validate, guard and score a whole extract; write the output and its sidecar.

    Parameters
    ----------
    data : str or Path
        The extract (CSV or Parquet).
    model : str, Path or ModelHandle
        A model directory or MLflow URI (``models:/name@alias``), or an opened model.
    out : str or Path
        The output file (``.parquet`` or ``.csv``); the sidecar is
        ``<out>.summary.json``.
    options : ScoreOptions, optional
    policy : DriftPolicy, optional
        The feed guard's thresholds (default: the built-in policy).
    progress : Progress, optional
        Progress callbacks.

    Returns
    -------
    ScoreSummary
        Also written to the sidecar.

    Raises
    ------
    models.extract.ExtractReadError, models.extract.ExtractValidationError, FeedRefused
        Before any output is written.
    """
    options = options or ScoreOptions()
    policy = policy or load_drift_policy()
    progress = progress or Progress()
    started = time.perf_counter()
    data, out = Path(data), Path(out)
    handle = model if isinstance(model, ModelHandle) else open_model(model)
    explain = options.explain and options.reasons > 0

    def raw_scores(matrix: np.ndarray) -> np.ndarray:
        return handle.model.raw_scores(matrix, num_threads=options.num_threads)

    def benefit(prepared: PreparedFrame) -> BenefitTable:
        return benefit_table(
            handle.model, prepared.matrix, prepared.eligible, num_threads=options.num_threads
        )

    keep = PreparedCache(
        options.keep_bytes, raw_scores=None if explain else raw_scores, benefit=benefit
    )
    try:
        return _check_and_score(data, handle, out, options, policy, progress, keep, started)
    finally:
        keep.close()


def _check_and_score(
    data: Path,
    handle: ModelHandle,
    out: Path,
    options: ScoreOptions,
    policy: DriftPolicy,
    progress: Progress,
    keep: PreparedCache,
    started: float,
) -> ScoreSummary:
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    check = check_extract(
        data, handle, policy=policy, options=options, progress=progress, keep=keep
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = PartWriter(
        out,
        run_key={"extract": check.fingerprint, "model": handle.describe(), **options.key()},
        resume=options.resume,
    )
    progress.start("scoring", check.rows)
    try:
        chunks, totals = score_chunks(
            pending_chunks(data, options, keep),
            handle,
            options,
            writer,
            progress,
        )
    finally:
        progress.stop()
    output_rows = writer.finish(chunks)
    seconds = time.perf_counter() - started
    summary = ScoreSummary(
        output=str(out),
        output_format=output_format(out),
        rows=check.rows,
        output_rows=output_rows,
        model=handle.describe(),
        extract={"path": str(data), "fingerprint": check.fingerprint, "rows": check.rows},
        feed_guard=check.guard_summary(),
        options={**options.key(), "num_threads": options.num_threads, "pid": os.getpid()},
        services={
            name: totals[name].describe() for name in handle.model.services if name in totals
        },
        started_at=started_at,
        seconds=round(seconds, 3),
        rows_per_second=check.rows / seconds if seconds > 0 else 0.0,
        chunks=chunks,
        chunks_resumed=len(writer.resumed),
    )
    atomic_write_text(sidecar_path(out), summary.model_dump_json(indent=2))
    return summary
