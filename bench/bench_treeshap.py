"""TreeSHAP throughput: tarve's kernel side by side with LightGBM's ``pred_contrib`` and shap.

For each model (the default ``make run`` model, and one with 300 trees per service):
rows per second for one row at a time and for blocks of rows, single thread and all
cores, for

- ``tarve``: :class:`models.treeshap.TreeShapExplainer` (contributions and raw scores
  of all services in one call);
- ``pred_contrib``: LightGBM's own TreeSHAP, one booster per service; one row at a time
  through the ``SingleRowFast`` C API (today's tarve API path), blocks through
  ``Booster.predict(pred_contrib=True)`` (plus the ``raw_score`` call it needs);
- ``shap``: ``shap.TreeExplainer(booster).shap_values`` per service, for reference.

Also the memory of the precomputed tables and the load (precompute + compile) time.
Rates are the best of ``--repeat`` timed runs, by wall clock and, in parentheses, by
the process's CPU time (rows per CPU second; other work on the machine disturbs it
less); the load average is printed before and after each model's timings. Usage::

    python bench/bench_treeshap.py [--model DIR] [--rows 50000] [--repeat 3]
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

TARGET_SINGLE_ROW_SPEEDUP = 5.0
TARGET_BATCH_ROWS_PER_SECOND = 2000.0
TARGET_TABLE_MB = 200.0


def train_model(workdir: Path, *, rows: int) -> Path:
    """``tarve synth`` + ``tarve train`` through the Python API (no MLflow)."""
    from training.config import TrainConfig
    from training.pipeline import train
    from training.synth import generate_register

    register = generate_register(rows, seed=1)
    changes: dict[str, object] = {"output_dir": str(workdir / "model-default")}
    changes["tracking"] = {"enabled": False}
    changes["progress"] = False
    result = train(register, config=TrainConfig().updated(changes))
    return Path(result.artifact_dir)


def boosters_with_trees(directory: Path, *, rows: int, trees: int) -> list[Any]:
    """Refit the default model's services with exactly ``trees`` trees each.

    The pipeline keeps the best iteration (early stopping), so a 300-tree model is
    fitted here with the default booster parameters and no early stopping.
    """
    import lightgbm as lgb

    from models.model import ServiceNeedModel
    from training.config import BoosterConfig
    from training.synth import generate_register

    model = ServiceNeedModel.load(directory)
    frame = generate_register(rows, seed=1)
    matrix = model.encoder.encode_frame(frame)
    params = BoosterConfig().lightgbm_params()
    columns = model.schema.label_columns
    boosters = []
    for column in columns:
        dataset = lgb.Dataset(
            matrix,
            frame[column].to_numpy(dtype=np.float64),
            feature_name=model.encoder.feature_names,
            categorical_feature=model.encoder.categorical_features,
        )
        boosters.append(lgb.train(params, dataset, num_boost_round=trees))
    return boosters


def best_rate(run: Callable[[], None], rows: int, *, repeat: int) -> tuple[float, float]:
    """Rows per second of the fastest of ``repeat`` runs of ``run`` (which does ``rows``).

    Two figures: by wall clock, and by this process's CPU time (all its threads), which
    other processes on a loaded machine disturb much less than the wall clock.
    """
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        run()
        best_wall = min(best_wall, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu_started)
    return rows / best_wall, rows / max(best_cpu, 1e-9)


def bench_model(
    label: str, directory: Path, *, repeat: int, boosters: list[Any] | None = None
) -> dict[str, float]:
    import numba

    try:
        import shap
    except ImportError:  # reference only
        shap = None

    from models.model import ServiceNeedModel
    from models.single_row import SingleRowPredictors
    from models.treeshap import TreeShapExplainer
    from training.synth import generate_register

    model = ServiceNeedModel.load(directory)
    if boosters is None:
        boosters = [model.boosters[name] for name in model.services]
    trees = sum(b.num_trees() for b in boosters)
    matrix = model.encoder.encode_frame(generate_register(4000, seed=99))
    cores = numba.get_num_threads()

    started = time.perf_counter()
    explainer = TreeShapExplainer.from_boosters(boosters)
    load_seconds = time.perf_counter() - started
    facts = explainer.describe()
    load = os.getloadavg()
    print(
        f"\n== {label}: {len(boosters)} services, {trees} trees, {matrix.shape[1]} features;"
        f" load average {load[0]:.1f} {load[1]:.1f}"
    )
    print(
        f"   tables {facts['table_bytes'] / 1e6:.1f} MB, leaves by mode "
        f"{facts['leaves_by_mode']}; load {load_seconds:.2f} s (precompute "
        f"{facts['precompute_seconds']:.2f} s, compile/cache {facts['compile_seconds']:.2f} s)"
    )
    # exactness on the rows used here
    expected = np.stack([b.predict(matrix[:500], pred_contrib=True) for b in boosters], 1)
    error = float(np.abs(explainer.contributions(matrix[:500]) - expected).max())
    print(f"   max |tarve - pred_contrib| on 500 rows: {error:.1e}")

    single = SingleRowPredictors(boosters, matrix.shape[1])
    one_rows = [np.ascontiguousarray(matrix[i]) for i in range(300)]

    def tarve_rows() -> None:
        for row in one_rows:
            explainer.explain_row(row)

    def pred_contrib_rows() -> None:
        for row in one_rows:
            single.contributions(row)
            single.raw_scores(row)

    shap_explainers = [shap.TreeExplainer(b) for b in boosters] if shap is not None else []
    if shap is None:
        print("   shap is not installed: its column is left empty")

    def shap_rows() -> None:
        for row in one_rows[:20]:
            for tree_explainer in shap_explainers:
                tree_explainer.shap_values(row[np.newaxis])

    block = matrix[:2000]

    def tarve_block(threads: int) -> Callable[[], None]:
        def run() -> None:
            explainer.explain(block, num_threads=threads)

        return run

    def pred_contrib_block(threads: int) -> Callable[[], None]:
        def run() -> None:
            for b in boosters:
                b.predict(block, pred_contrib=True, num_threads=threads)
                b.predict(block, raw_score=True, num_threads=threads)

        return run

    def shap_block() -> None:
        for tree_explainer in shap_explainers:
            tree_explainer.shap_values(block[:200])

    rates = {
        "one row, 1 thread: tarve": best_rate(tarve_rows, len(one_rows), repeat=repeat),
        "one row, 1 thread: pred_contrib": best_rate(
            pred_contrib_rows, len(one_rows), repeat=repeat
        ),
        "block, 1 thread: tarve": best_rate(tarve_block(1), len(block), repeat=repeat),
        "block, 1 thread: pred_contrib": best_rate(
            pred_contrib_block(1), len(block), repeat=repeat
        ),
        f"block, {cores} cores: tarve": best_rate(tarve_block(cores), len(block), repeat=repeat),
        f"block, {cores} cores: pred_contrib": best_rate(
            pred_contrib_block(cores), len(block), repeat=repeat
        ),
    }
    if shap_explainers:
        rates["one row, 1 thread: shap"] = best_rate(shap_rows, 20, repeat=1)
        rates["block, 1 thread: shap"] = best_rate(shap_block, 200, repeat=1)
    load = os.getloadavg()
    print(f"   load average after the timings: {load[0]:.1f} {load[1]:.1f}")
    print(
        f"   {'rows/s: wall clock (CPU time)':>34} {'tarve':>16} {'pred_contrib':>16}"
        f" {'shap':>12} {'tarve/pc':>14}"
    )
    for case in ("one row, 1 thread", "block, 1 thread", f"block, {cores} cores"):
        tarve = rates[f"{case}: tarve"]
        lightgbm = rates[f"{case}: pred_contrib"]
        reference = rates.get(f"{case}: shap")
        shown = f"{reference[0]:5.0f} ({reference[1]:4.0f})" if reference else f"{'':12}"
        print(
            f"   {case:>34} {tarve[0]:7.0f} ({tarve[1]:6.0f})"
            f" {lightgbm[0]:7.0f} ({lightgbm[1]:6.0f}) {shown}"
            f" {tarve[0] / lightgbm[0]:5.1f}x ({tarve[1] / lightgbm[1]:4.1f}x)"
        )
    return {
        "speedup_single": rates["one row, 1 thread: tarve"][0]
        / rates["one row, 1 thread: pred_contrib"][0],
        "speedup_single_cpu": rates["one row, 1 thread: tarve"][1]
        / rates["one row, 1 thread: pred_contrib"][1],
        "batch_all_cores": rates[f"block, {cores} cores: tarve"][0],
        "table_mb": facts["table_bytes"] / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="the default model (artifact directory)")
    parser.add_argument("--rows", type=int, default=50_000, help="synthetic rows to train on")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores; load average {load[0]:.1f} {load[1]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-treeshap-") as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("TARVE_HOME", str(workdir / "home"))
        default = args.model or train_model(workdir, rows=args.rows)
        results = {"default": bench_model("default model", default, repeat=args.repeat)}
        many = boosters_with_trees(default, rows=args.rows, trees=300)
        results["300"] = bench_model(
            "300 trees per service", default, repeat=args.repeat, boosters=many
        )
    first = results["default"]
    print("\ntargets (default model):")
    checks = [
        (
            f"single thread one row >= {TARGET_SINGLE_ROW_SPEEDUP:.0f}x pred_contrib",
            min(first["speedup_single"], first["speedup_single_cpu"]) >= TARGET_SINGLE_ROW_SPEEDUP,
            f"{first['speedup_single']:.1f}x wall clock, "
            f"{first['speedup_single_cpu']:.1f}x CPU time",
        ),
        (
            f"batch with reasons >= {TARGET_BATCH_ROWS_PER_SECOND:.0f} rows/s, all cores",
            first["batch_all_cores"] >= TARGET_BATCH_ROWS_PER_SECOND,
            f"{first['batch_all_cores']:.0f} rows/s",
        ),
        (
            f"tables <= {TARGET_TABLE_MB:.0f} MB",
            first["table_mb"] <= TARGET_TABLE_MB,
            f"{first['table_mb']:.1f} MB",
        ),
    ]
    for text, ok, figure in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {text}: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
