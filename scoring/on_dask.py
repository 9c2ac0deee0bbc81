"""The same batch scoring on a Dask cluster: ``tarve score --dask ADDRESS|local``.

The extract is read as a Dask dataframe (``dd.read_parquet``, or ``dd.read_csv`` as
text with nothing but the empty string missing), and both passes run per partition
with ``map_partitions``: the check (the shared validator and the feed-guard profile,
merged on the client exactly like local chunks) and the scoring (the same
:func:`models.ranking.rank_frame` and output builder as the local path). Each
partition's part is written by its worker into ``<out>.parts``; at the end the parts
become the output, a partitioned Parquet dataset (a directory of
``part-<partition>.parquet`` files), renamed into place at once.

The model travels to the workers as its artifact files (LightGBM text and JSON, never
a pickle), and each worker loads it once. Workers must see the extract and the output
directory at the same paths (a shared file system); a cluster of your own is reached
with its scheduler address (see docs/scoring.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.benefit import benefit_table
from models.drift import DriftPolicy, ObservedProfile, ProfileAccumulator, ReferenceProfile
from models.extract.validation import ExtractValidationError, validate_frame
from models.model import ServiceNeedModel, load_model
from models.ranking import rank_frame
from scoring.output import OutputBuilder
from scoring.reading import extract_format
from scoring.run import (
    CheckOutcome,
    ModelHandle,
    ScoreOptions,
    judge_feed,
    sidecar_path,
)
from scoring.summary import ScoreSummary, ServiceCounts, chunk_counts, merge_counts
from scoring.validation import ChunkedValidation, id_hashes
from scoring.writer import PARTS_SUFFIX, PartWriter, atomic_write_text

LOCAL = "local"
LOCAL_WORKERS = 2
CSV_BLOCK = "64MB"
_MODELS: dict[str, ServiceNeedModel] = {}


def artifact_files(directory: Path) -> dict[str, bytes]:
    """Read the model artifact's files (text and JSON), to ship to workers."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.suffix in (".txt", ".json")
    }


def worker_model(files: dict[str, bytes]) -> ServiceNeedModel:
    """Load the model on a worker (written to a private directory, once per process)."""
    digest = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(files.items()))).hexdigest()
    model = _MODELS.get(digest)
    if model is None:
        directory = Path(tempfile.mkdtemp(prefix="tarve_model_"))
        for name, content in files.items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_bytes(content)
        model = _MODELS[digest] = load_model(directory)
    return model


def _read(data: Path) -> Any:
    import dask.dataframe as dd

    if extract_format(data) == "parquet":
        return dd.read_parquet(str(data), split_row_groups=True)
    return dd.read_csv(
        str(data), dtype=str, keep_default_na=False, na_filter=False, blocksize=CSV_BLOCK
    )


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    for name in frame.columns:
        if str(frame[name].dtype) in ("string", "string[pyarrow]", "large_string[pyarrow]"):
            frame[name] = frame[name].astype(object)
    return frame


def _check_partition(
    frame: pd.DataFrame,
    files: dict[str, bytes],
    reference_json: str | None,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    model = worker_model(files)
    raw = _canonical(frame)
    result = validate_frame(raw, model.schema, require_labels=False)
    observed = None
    if reference_json is not None and result.frame is not None:
        reference = ReferenceProfile.model_validate_json(reference_json)
        observed = ProfileAccumulator(reference, model.schema).profile_of(result.frame)
    payload = {
        "result": type(result)(result.problems, result.profile, None),
        "hashes": id_hashes(raw, model.schema),
        "observed": observed,
    }
    number = (partition_info or {}).get("number", 0)
    return pd.DataFrame({"number": [number], "payload": [payload]})


def _score_partition(
    frame: pd.DataFrame,
    files: dict[str, bytes],
    options: ScoreOptions,
    parts: str,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    model = worker_model(files)
    number = int((partition_info or {}).get("number", 0))
    writer = PartWriter.attach(Path(parts))
    if not writer.is_done(number):
        canonical = validate_frame(_canonical(frame), model.schema, require_labels=False).frame
        if canonical is None:
            raise ValueError(f"partition {number} no longer passes validation")
        explain = options.explain and options.reasons > 0
        ranked = rank_frame(
            model,
            canonical,
            explain=explain,
            top_reasons=options.reasons,
            num_threads=options.num_threads or 1,
        )
        ids = canonical[model.schema.id_column].to_numpy(dtype=object)
        benefit = benefit_table(
            model, ranked.matrix, ranked.eligible, num_threads=options.num_threads or 1
        )
        table = OutputBuilder(model, lang=options.lang, top_k=options.top_k).table(
            ids, ranked, explain=explain, benefit=benefit
        )
        writer.write(number, table, chunk_counts(model.services, ranked, benefit))
    counts = {name: value.model_dump() for name, value in writer.counts(number).items()}
    return pd.DataFrame({"number": [number], "rows": [len(frame)], "counts": [counts]})


def _client(address: str) -> Any:
    from distributed import Client, LocalCluster

    if address == LOCAL:
        cluster = LocalCluster(
            n_workers=LOCAL_WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster)
    return Client(address)


def _publish(parts: Path, out: Path, partitions: int) -> None:
    staging = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for number in range(partitions):
        name = f"part-{number:06d}.parquet"
        os.replace(parts / name, staging / name)
    previous = out.with_name(f"{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, previous)
    os.replace(staging, out)
    shutil.rmtree(previous, ignore_errors=True)
    shutil.rmtree(parts, ignore_errors=True)


def _check_on_dask(
    frame: Any,
    files: dict[str, bytes],
    handle: ModelHandle,
    data: Path,
    *,
    options: ScoreOptions,
    policy: DriftPolicy,
) -> CheckOutcome:
    """Pass 1 on the cluster: validate every partition and judge the feed, or raise."""
    schema = handle.model.schema
    reference_json = handle.reference.model_dump_json() if handle.reference else None
    check_meta = pd.DataFrame(
        {"number": pd.Series([], dtype=int), "payload": pd.Series([], dtype=object)}
    )
    checked = (
        frame.map_partitions(_check_partition, files, reference_json, meta=check_meta)
        .compute()
        .sort_values("number")
    )
    validation = ChunkedValidation(schema)
    observed: ObservedProfile | None = None
    offset = 0
    for payload in checked["payload"]:
        result = payload["result"]
        validation.add_result(result, payload["hashes"], offset=offset)
        offset += result.profile.rows
        if payload["observed"] is not None:
            observed = (
                payload["observed"] if observed is None else observed.merge(payload["observed"])
            )
    outcome = validation.result()
    if not outcome.ok:
        raise ExtractValidationError(outcome, source=data)

    def merged() -> ObservedProfile:
        assert observed is not None
        return observed

    return judge_feed(handle, data, validation.rows, merged, options=options, policy=policy)


def _summary(
    handle: ModelHandle,
    check: CheckOutcome,
    totals: dict[str, ServiceCounts],
    *,
    data: Path,
    out: Path,
    options: ScoreOptions,
    address: str,
    partitions: int,
    resumed: int,
    started: float,
    started_at: str,
) -> ScoreSummary:
    """Return the run's summary (the sidecar) from the partitions' counts."""
    seconds = time.perf_counter() - started
    services = handle.model.services
    summary = ScoreSummary(
        output=str(out),
        output_format="parquet-dataset",
        rows=check.rows,
        output_rows=int(np.sum([c.clients for c in totals.values()]) // max(len(totals), 1))
        * (options.top_k or len(services))
        if totals
        else 0,
        model=handle.describe(),
        extract={"path": str(data), "fingerprint": check.fingerprint, "rows": check.rows},
        feed_guard=check.guard_summary(),
        options={**options.key(), "num_threads": options.num_threads, "scheduler": address},
        services={name: totals[name].describe() for name in services if name in totals},
        started_at=started_at,
        seconds=round(seconds, 3),
        rows_per_second=check.rows / seconds if seconds > 0 else 0.0,
        chunks=partitions,
        chunks_resumed=resumed,
        backend="dask",
    )
    return summary


def _score_partitions(
    frame: Any,
    files: dict[str, bytes],
    handle: ModelHandle,
    check: CheckOutcome,
    out: Path,
    parts: Path,
    options: ScoreOptions,
) -> tuple[pd.DataFrame, int]:
    """Pass 2 on the cluster: each partition scored into its part; the counts, resumed parts."""
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = PartWriter(
        out,
        run_key={
            "extract": check.fingerprint,
            "model": handle.describe(),
            **options.key(),
            "dask": True,
        },
        resume=options.resume,
        part_format="parquet",
    )
    score_meta = pd.DataFrame(
        {
            "number": pd.Series([], dtype=int),
            "rows": pd.Series([], dtype=int),
            "counts": pd.Series([], dtype=object),
        }
    )
    scored = (
        frame.map_partitions(_score_partition, files, options, str(parts), meta=score_meta)
        .compute()
        .sort_values("number")
    )
    return scored, len(writer.resumed)


def score_on_dask(
    data: str | Path,
    handle: ModelHandle,
    out: str | Path,
    *,
    address: str,
    options: ScoreOptions,
    policy: DriftPolicy,
    client: Any = None,
) -> ScoreSummary:
    """Validate, guard and score an extract on a Dask cluster (see the module docstring).

    Parameters
    ----------
    data : str or Path
        The extract (CSV or Parquet), visible to every worker at this path.
    handle : ModelHandle
        The opened model (its files are shipped to the workers).
    out : str or Path
        The output directory (a partitioned Parquet dataset).
    address : str
        A scheduler address (``tcp://host:8786``) or ``"local"`` for a local cluster.
    options : ScoreOptions
    policy : DriftPolicy
    client : distributed.Client, optional
        An existing client (then ``address`` is not used).

    Returns
    -------
    ScoreSummary
        Also written to ``<out>.summary.json``.

    Raises
    ------
    models.extract.ExtractValidationError, FeedRefused
        Before any output is written.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    data, out = Path(data).resolve(), Path(out).resolve()
    parts = out.with_name(out.name + PARTS_SUFFIX)
    own_client = client is None
    client = client or _client(address)
    try:
        files = artifact_files(handle.directory)
        frame = _read(data)
        check = _check_on_dask(frame, files, handle, data, options=options, policy=policy)
        scored, resumed = _score_partitions(frame, files, handle, check, out, parts, options)
    finally:
        if own_client:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None and address == LOCAL:
                cluster.close()
    totals: dict[str, ServiceCounts] = {}
    for counts in scored["counts"]:
        merge_counts(totals, {k: ServiceCounts.model_validate(v) for k, v in counts.items()})
    _publish(parts, out, len(scored))
    summary = _summary(
        handle,
        check,
        totals,
        data=data,
        out=out,
        options=options,
        address=address,
        partitions=len(scored),
        resumed=resumed,
        started=started,
        started_at=started_at,
    )
    atomic_write_text(sidecar_path(out), summary.model_dump_json(indent=2))
    return summary
