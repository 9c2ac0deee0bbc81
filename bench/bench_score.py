"""bench_score: ``tarve score`` on synthetic caseloads, beside a plain LightGBM loop.

For each size (default 50,000 and 300,000 clients) and each mode (without reasons,
with reasons) the script runs, in a fresh child process each (so peak memory is that
run's own):

- ``tarve score``'s path (:func:`scoring.score_extract`, the model opened first, as
  the plain loop's is): read, validate, feed guard, rank, reasons, write Parquet,
  sidecar; rows/s end to end and peak RSS;
- the plain loop on the same model and the same rows: the extract already encoded
  (not timed), then per chunk ``booster.predict(matrix, raw_score=True)`` (without
  reasons) or ``booster.predict(matrix, pred_contrib=True)`` (with reasons) for each
  of the 12 boosters, nothing else.

Runs without reasons are repeated (``--repeat``, tarve and plain alternately; the
fastest of each counts), as the machine is shared. ``pred_contrib`` is slow: with
``--plain-rows N`` the plain loop with reasons runs on the first N rows of the same
extract (its rows/s do not depend on the count; its peak memory then does).

The ratio is tarve's rows/s over the plain loop's (1.0 = tarve costs nothing beside
LightGBM); "CPU" compares the processes' CPU seconds instead of wall time (less
sensitive to other load). Targets on a 2-core machine: without reasons >= 20,000
rows/s; with reasons the ratio to the plain loop >= 0.9. ``--memory-rows`` adds one
run without reasons on that many rows to state the peak memory (1,000,000 by default;
0 skips it).

Usage: ``python bench/bench_score.py [--sizes 50000 300000] [--reasons-sizes ...]
[--repeat 3] [--plain-rows N] [--memory-rows 1000000] [--model DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRAIN_ROWS = 20_000
CHUNK_ROWS = 20_000
TARGET_ROWS_PER_SECOND = 20_000
TARGET_RATIO = 0.9


def _peak_mib() -> float:
    """Return this process's peak RSS (VmHWM: ``ru_maxrss`` would count the parent's)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_tarve(data: str, model: str, out: str, explain: bool) -> dict[str, Any]:
    from scoring import ScoreOptions, open_model, score_extract

    handle = open_model(model)
    cpu, started = _cpu_seconds(), time.perf_counter()
    summary = score_extract(
        data, handle, out, options=ScoreOptions(explain=explain, chunk_rows=CHUNK_ROWS)
    )
    seconds = time.perf_counter() - started
    return {
        "rows": summary.rows,
        "seconds": seconds,
        "cpu": _cpu_seconds() - cpu,
        "peak_mib": _peak_mib(),
    }


def child_plain(data: str, model: str, explain: bool, limit: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from models.extract import validate_frame
    from models.model import load_model

    loaded = load_model(model)
    table = pq.read_table(data)
    if limit:
        table = table.slice(0, limit)
    frame = validate_frame(table.to_pandas(), loaded.schema, require_labels=False)
    assert frame.frame is not None
    matrix = loaded.encoder.encode_frame(frame.frame)
    boosters = list(loaded.boosters.values())
    cpu, started = _cpu_seconds(), time.perf_counter()
    for start in range(0, len(matrix), CHUNK_ROWS):
        chunk = matrix[start : start + CHUNK_ROWS]
        for booster in boosters:
            if explain:
                booster.predict(chunk, pred_contrib=True)
            else:
                booster.predict(chunk, raw_score=True)
    seconds = time.perf_counter() - started
    return {
        "rows": len(matrix),
        "seconds": seconds,
        "cpu": _cpu_seconds() - cpu,
        "peak_mib": _peak_mib(),
    }


def run_child(*args: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def prepare_model(workdir: Path) -> tuple[Path, str]:
    from training.config import TrainConfig
    from training.pipeline import train
    from training.synth import generate_register

    started = time.perf_counter()
    config = TrainConfig().updated(
        {"progress": False, "output_dir": str(workdir / "model"), "tracking": {"enabled": False}}
    )
    result = train(generate_register(TRAIN_ROWS, seed=1), config=config)
    trees = sum(booster.num_trees() for booster in result.model.boosters.values())
    return result.artifact_dir, (
        f"trained on {TRAIN_ROWS:,} synthetic rows: {trees} trees over "
        f"{len(result.model.services)} services ({time.perf_counter() - started:.0f} s)"
    )


def extract(workdir: Path, rows: int) -> Path:
    from training.synth import generate_register, write_register

    path = workdir / f"caseload_{rows}.parquet"
    if not path.exists():
        write_register(generate_register(rows, seed=rows % 9973), path)
    return path


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the fastest run's figures (peak memory: the largest seen)."""
    fastest = min(runs, key=lambda run: float(run["seconds"]))
    cpu = min(float(run["cpu"]) for run in runs)
    return {**fastest, "cpu": cpu, "peak_mib": max(float(run["peak_mib"]) for run in runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 300_000])
    parser.add_argument(
        "--reasons-sizes",
        type=int,
        nargs="*",
        default=None,
        help="sizes with reasons (default: --sizes)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs without reasons")
    parser.add_argument(
        "--plain-rows", type=int, default=0, help="rows of the plain loop with reasons (0: all)"
    )
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--model", default=None, help="a model directory (default: train one)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, data, model, out, explain, limit = args.child
        result = (
            child_tarve(data, model, out, explain == "1")
            if kind == "tarve"
            else child_plain(data, model, explain == "1", int(limit))
        )
        print(json.dumps(result))
        return 0

    load = os.getloadavg()
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"bench_score {now}: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f}")
    print("command: python bench/bench_score.py " + " ".join(sys.argv[1:]))
    with tempfile.TemporaryDirectory(prefix="bench_score_") as scratch:
        workdir = Path(scratch)
        if args.model:
            model, description = Path(args.model), f"given: {args.model}"
        else:
            model, description = prepare_model(workdir)
        print(f"model: {description}")
        reasons_sizes = args.sizes if args.reasons_sizes is None else args.reasons_sizes
        cases = [(rows, False) for rows in args.sizes] + [(rows, True) for rows in reasons_sizes]
        header = (
            f"{'clients':>9} {'reasons':>7} | {'tarve rows/s':>12} {'peak MiB':>8} | "
            f"{'plain rows/s':>12} {'peak MiB':>8} {'rows':>9} | {'ratio':>5} {'CPU':>5}  target"
        )
        print(header)
        print("-" * len(header), flush=True)
        for rows, explain in cases:
            data = str(extract(workdir, rows))
            flag = "1" if explain else "0"
            limit = str(args.plain_rows if explain else 0)
            out = str(workdir / "out.parquet")
            tarve_runs, plain_runs = [], []
            for _ in range(1 if explain else max(args.repeat, 1)):
                tarve_runs.append(run_child("tarve", data, str(model), out, flag, "0"))
                plain_runs.append(run_child("plain", data, str(model), "-", flag, limit))
            ours, plain = best(tarve_runs), best(plain_runs)
            ours_rate = ours["rows"] / ours["seconds"]
            plain_rate = plain["rows"] / plain["seconds"]
            ratio = ours_rate / plain_rate
            cpu_ratio = (plain["cpu"] / plain["rows"]) / (ours["cpu"] / ours["rows"])
            target = (
                f"ratio >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}"
                if explain
                else f">= {TARGET_ROWS_PER_SECOND:,} rows/s: "
                + ("met" if ours_rate >= TARGET_ROWS_PER_SECOND else "NOT met")
            )
            print(
                f"{rows:>9,} {'yes' if explain else 'no':>7} | {ours_rate:>12,.0f} "
                f"{ours['peak_mib']:>8,.0f} | {plain_rate:>12,.0f} {plain['peak_mib']:>8,.0f} "
                f"{plain['rows']:>9,} | {ratio:>5.2f} {cpu_ratio:>5.2f}  {target}",
                flush=True,
            )
        if args.memory_rows:
            data = str(extract(workdir, args.memory_rows))
            ours = run_child("tarve", data, str(model), str(workdir / "out.parquet"), "0", "0")
            print(
                f"peak memory, {args.memory_rows:,} clients without reasons: "
                f"{ours['peak_mib']:,.0f} MiB ({ours['rows'] / ours['seconds']:,.0f} rows/s); "
                "target <= 2 GB"
            )
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
