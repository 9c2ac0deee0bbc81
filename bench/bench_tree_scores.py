"""Predictions without reasons: ``models.tree_scores`` side by side with ``Booster.predict``.

On the default ``make run`` model (trained here unless ``--model`` is given), for the
12 need boosters and for the effect models' boosters (propensity: any service, which
service; one final stage per service): rows per second of raw scores for a block of
rows on one thread and on all cores, and for one row at a time, tarve's one-pass
kernel against LightGBM's ``predict(raw_score=True)`` over the same boosters (one row:
LightGBM's ``SingleRowFast`` C API, what the API uses). Every run also checks that the
two agree bit for bit. There is no target of its own: it shows where the speed of
``tarve score`` without reasons (``bench/bench_score.py``) comes from. Usage::

    python bench/bench_tree_scores.py [--model DIR] [--rows 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BLOCK_ROWS = 50_000
ONE_ROWS = 2_000


def best_seconds(call: Callable[[], Any], repeat: int) -> float:
    """Return the fastest of ``repeat`` timed calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def lightgbm_raw(boosters: list[Any], matrix: np.ndarray, threads: int) -> np.ndarray:
    """Raw scores of every booster through ``Booster.predict``, side by side."""
    columns = [
        np.asarray(b.predict(matrix, raw_score=True, num_threads=threads)).reshape(len(matrix), -1)
        for b in boosters
    ]
    return np.column_stack(columns)


def bench_set(name: str, boosters: list[Any], matrix: np.ndarray, repeat: int) -> None:
    from models.single_row import RAW_SCORE, SingleRowPredictor
    from models.tree_scores import TreeScores

    started = time.perf_counter()
    scores = TreeScores.from_boosters(boosters)
    scores.warm_up()
    load = time.perf_counter() - started
    trees = sum(b.num_trees() for b in boosters)
    equal = np.array_equal(scores.raw(matrix), lightgbm_raw(boosters, matrix, 0))
    print(f"\n== {name}: {len(boosters)} boosters, {trees} trees; load {load:.2f} s")
    print(f"   raw scores bit-identical to Booster.predict on {len(matrix):,} rows: {equal}")
    print(f"   {'rows/s':>30s} {'tarve':>10s} {'predict':>10s} {'ratio':>7s}")
    for threads in (1, 2):
        ours = best_seconds(lambda t=threads: scores.raw(matrix, num_threads=t), repeat)
        theirs = best_seconds(lambda t=threads: lightgbm_raw(boosters, matrix, t), repeat)
        label = f"block of {len(matrix):,}, {threads} thread{'s' if threads > 1 else ''}"
        print(
            f"   {label:>30s} {len(matrix) / ours:>10,.0f} {len(matrix) / theirs:>10,.0f} "
            f"{theirs / ours:>6.1f}x"
        )
    rows = [np.ascontiguousarray(row) for row in matrix[:ONE_ROWS]]
    single = [SingleRowPredictor(b, kind=RAW_SCORE, num_features=matrix.shape[1]) for b in boosters]

    def one_by_one_lightgbm() -> None:
        for row in rows:
            for predictor in single:
                predictor.predict_into(row, np.empty(predictor.width))

    def one_by_one_tarve() -> None:
        for row in rows:
            scores.raw(row[np.newaxis], num_threads=1)

    ours = best_seconds(one_by_one_tarve, repeat)
    theirs = best_seconds(one_by_one_lightgbm, repeat)
    print(
        f"   {'one row at a time, 1 thread':>30s} {ONE_ROWS / ours:>10,.0f} "
        f"{ONE_ROWS / theirs:>10,.0f} {theirs / ours:>6.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="the default model (artifact directory)")
    parser.add_argument("--rows", type=int, default=50_000, help="synthetic rows to train on")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores; load average {load[0]:.1f} {load[1]:.1f}")
    from bench_treeshap import train_model

    from models.model import ServiceNeedModel
    from training.synth import generate_register

    with tempfile.TemporaryDirectory(prefix="bench-tree-scores-") as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("TARVE_HOME", str(workdir / "home"))
        directory = args.model or train_model(workdir, rows=args.rows)
        model = ServiceNeedModel.load(directory)
        matrix = np.ascontiguousarray(
            model.encoder.encode_frame(generate_register(BLOCK_ROWS, seed=7))
        )
        bench_set("need models", [model.boosters[s] for s in model.services], matrix, args.repeat)
        if model.effects is not None:
            effects = model.effects
            boosters = [effects.propensity.activation, effects.propensity.choice]
            boosters += [] if effects.baseline is None else [effects.baseline]
            boosters += [effect.scored_booster for effect in effects.effects.values()]
            bench_set("effect models", boosters, matrix, args.repeat)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.1f} {load[1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
