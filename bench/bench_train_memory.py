"""Peak memory of ``tarve train`` on a large register (default 1,000,000 rows).

The register is generated in a separate process and written to Parquet first, so the
generator's memory is not counted. Then ``tarve train`` runs in a subprocess (with
tracking into a temporary MLflow store) and its peak resident set size is read from
``getrusage(RUSAGE_CHILDREN)``. Target (issue 3): under 4 GB.

``--max-rounds`` caps the boosting rounds to keep the run short; peak memory is set by
the data, the matrices and the datasets, not by the number of trees.

    .venv/bin/python bench/bench_train_memory.py [--rows N] [--max-rounds R] [--data FILE]
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

ROOT = Path(__file__).resolve().parents[1]
TARGET_BYTES = 4 * 1024**3
DEFAULT_ROWS = 1_000_000


def _peak_children_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-rounds", type=int, default=None)
    parser.add_argument("--data", type=Path, help="use this register instead of generating")
    args = parser.parse_args(argv)
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench_train_memory_") as scratch:
        workdir = Path(scratch)
        data = args.data
        if data is None:
            data = workdir / "register.parquet"
            synth = [sys.executable, "-m", "tarve", "synth", "--rows", str(args.rows)]
            synth += ["--seed", str(args.seed), "--out", str(data)]
            subprocess.run(
                synth,
                cwd=ROOT,
                env=environment,
                check=True,
                capture_output=True,
            )
        generator_peak = _peak_children_bytes()
        command = [sys.executable, "-m", "tarve", "train", "--data", str(data)]
        command += ["--out", str(workdir / "model"), "--quiet"]
        if args.max_rounds:
            config = workdir / "train.yaml"
            config.write_text(f"lightgbm:\n  num_boost_round: {args.max_rounds}\n")
            command += ["--config", str(config)]
        environment["TARVE_HOME"] = str(workdir / "home")
        environment.pop("MLFLOW_TRACKING_URI", None)
        started = time.perf_counter()
        completed = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            raise SystemExit(f"tarve train failed:\n{completed.stderr[-4000:]}")
        peak = _peak_children_bytes()
        if peak <= generator_peak:
            print("note: the generator's peak was larger; the training peak is at most this")
        verdict = "meets" if peak < TARGET_BYTES else "MISSES"
        print(
            f"tarve train on {args.rows if args.data is None else data} rows: {seconds:.0f} s, "
            f"peak RSS {peak / 1024**3:.2f} GiB ({verdict} target < 4 GiB)"
            + (f"; rounds capped at {args.max_rounds}" if args.max_rounds else "")
        )
        out_dir = ROOT / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "bench_train_memory.json").write_text(
            json.dumps(
                {
                    "rows": args.rows,
                    "seconds": seconds,
                    "peak_rss_bytes": peak,
                    "max_rounds": args.max_rounds,
                    "target_bytes": TARGET_BYTES,
                },
                indent=2,
            ),
            "utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
