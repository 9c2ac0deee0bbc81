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
Rates are the best of ``--repeat`` timed runs (wall clock; this script prints the load
average, as other work on the machine lowers every figure). Usage::

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


def best_rate(run: Callable[[], None], rows: int, *, repeat: int) -> float:
    """Rows per second of the fastest of ``repeat`` runs of ``run`` (which does ``rows``)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return rows / best


def bench_model(
    label: str, directory: Path, *, repeat: int, boosters: list[Any] | None = None
) -> dict[str, float]:
    import numba
    import shap

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
    print(f"\n== {label}: {len(boosters)} services, {trees} trees, {matrix.shape[1]} features")
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

    shap_explainers = [shap.TreeExplainer(b) for b in boosters]

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
        "one row, 1 thread: shap": best_rate(shap_rows, 20, repeat=1),
        "block, 1 thread: tarve": best_rate(tarve_block(1), len(block), repeat=repeat),
        "block, 1 thread: pred_contrib": best_rate(
            pred_contrib_block(1), len(block), repeat=repeat
        ),
        f"block, {cores} cores: tarve": best_rate(tarve_block(cores), len(block), repeat=repeat),
        f"block, {cores} cores: pred_contrib": best_rate(
            pred_contrib_block(cores), len(block), repeat=repeat
        ),
        "block, 1 thread: shap": best_rate(shap_block, 200, repeat=1),
    }
    print(f"   {'rows/s':>44} {'tarve':>10} {'pred_contrib':>13} {'shap':>8} {'tarve/pc':>9}")
    for case in ("one row, 1 thread", "block, 1 thread", f"block, {cores} cores"):
        tarve = rates[f"{case}: tarve"]
        lightgbm = rates[f"{case}: pred_contrib"]
        reference = rates.get(f"{case}: shap")
        shown = f"{reference:8.0f}" if reference is not None else f"{'':8}"
        print(f"   {case:>44} {tarve:10.0f} {lightgbm:13.0f} {shown} {tarve / lightgbm:8.1f}x")
    return {
        "speedup_single": rates["one row, 1 thread: tarve"]
        / rates["one row, 1 thread: pred_contrib"],
        "batch_all_cores": rates[f"block, {cores} cores: tarve"],
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
            first["speedup_single"] >= TARGET_SINGLE_ROW_SPEEDUP,
            f"{first['speedup_single']:.1f}x",
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
