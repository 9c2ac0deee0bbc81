"""Benchmark ``tarve train`` against plain ``lightgbm.train`` on the same matrix.

Side by side in one run, on a synthetic register of 300,000 rows (``--rows``):

* **plain**: the same 12 LightGBM models fitted with ``lightgbm.train`` as a data
  scientist would write it: per service a fresh ``lgb.Dataset`` of the training
  matrix, the calibration matrix as the early-stopping set, the same parameters. The
  register is read and encoded beforehand and not timed.
* **tarve train**: the command itself in a subprocess (Python start-up, imports,
  validation, split, encoding, fitting, calibration, evaluation with baselines and the
  oracle, fairness audit, plots, MLflow run and registration in a temporary store).

The plain fit runs before and after ``tarve train``; the ratio uses their mean, so a
change in machine load during the run affects both sides. Target (issue 3): ratio
<= 1.5. Also prints the quality targets of the run's evaluation report.

    .venv/bin/python bench/bench_train.py [--rows N] [--seed S] [--data FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The plain fit gets the OpenMP wait policy that `tarve train` sets for its own run
# (training.runtime); set before LightGBM loads in this process.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

TARGET_RATIO = 1.5
DEFAULT_ROWS = 300_000


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def plain_fit(data: Path) -> dict[str, Any]:
    """Fit the 12 models with plain ``lightgbm.train``; time only the fitting."""
    import lightgbm as lgb
    import numpy as np
    import pandas as pd

    from models.features import FeatureEncoder
    from models.schema import load_schema
    from training.config import TrainConfig
    from training.split import split_rows

    schema = load_schema()
    config = TrainConfig()
    frame = pd.read_parquet(data)
    split = split_rows(frame, schema=schema, config=config.split)
    encoder = FeatureEncoder(schema)
    matrix = encoder.encode_frame(frame)
    train_x, calibration_x = matrix[split.train], matrix[split.calibration]
    labels = frame[schema.label_columns].to_numpy(dtype=np.float64)
    params = config.lightgbm.lightgbm_params()
    rounds = {}
    started = time.perf_counter()
    for column, label in enumerate(schema.labels):
        train_set = lgb.Dataset(
            train_x,
            label=labels[split.train, column],
            feature_name=encoder.feature_names,
            categorical_feature=encoder.categorical_features,
        )
        valid_set = lgb.Dataset(
            calibration_x, label=labels[split.calibration, column], reference=train_set
        )
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=config.lightgbm.num_boost_round,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(config.lightgbm.early_stopping_rounds, verbose=False)],
        )
        rounds[label.name] = booster.best_iteration
    return {"seconds": time.perf_counter() - started, "best_iterations": rounds}


def plain_fit_in_child(data: Path) -> dict[str, Any]:
    """Run :func:`plain_fit` in a fresh process.

    So this process holds no LightGBM threads or matrices while ``tarve train`` runs
    (measured: they slowed it by about 15 s).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(plain_fit, data).result()


def tarve_train(data: Path, workdir: Path) -> dict[str, Any]:
    """Run ``tarve train`` in a subprocess with a private MLflow store; time it."""
    environment = dict(os.environ)
    environment["TARVE_HOME"] = str(workdir / "home")
    environment.pop("MLFLOW_TRACKING_URI", None)
    out = workdir / "model"
    command = [sys.executable, "-m", "tarve", "train", "--data", str(data)]
    command += ["--out", str(out), "--quiet"]
    started = time.perf_counter()
    completed = subprocess.run(
        command, env=environment, cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"tarve train failed:\n{completed.stderr[-4000:]}")
    report = json.loads((out / "evaluation.json").read_text("utf-8"))
    return {"seconds": seconds, "report": report, "stdout": completed.stdout}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--data", type=Path, help="use this register instead of generating")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_train_") as scratch:
        workdir = Path(scratch)
        data = args.data
        if data is None:
            from training.synth import generate_register

            data = workdir / "register.parquet"
            generate_register(args.rows, seed=args.seed).to_parquet(data)
        print(f"register: {data} | cores: {os.cpu_count()} | load before: {_load_average()}")
        first = plain_fit_in_child(data)
        print(f"plain lightgbm.train (1st): {first['seconds']:.1f} s | load {_load_average()}")
        tarve = tarve_train(data, workdir)
        print(f"tarve train:                {tarve['seconds']:.1f} s | load {_load_average()}")
        second = plain_fit_in_child(data)
        print(f"plain lightgbm.train (2nd): {second['seconds']:.1f} s | load {_load_average()}")
        plain = (first["seconds"] + second["seconds"]) / 2
        ratio = tarve["seconds"] / plain
        verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
        print(f"ratio tarve / plain: {ratio:.2f} ({verdict} target <= {TARGET_RATIO})")
        report = tarve["report"]
        targets = report.get("targets")
        if targets:
            worst = min(targets["services"].items(), key=lambda item: item[1]["auc_ratio"])
            beats = all(item["above_logistic"] for item in targets["services"].values())
            print(
                f"quality: worst AUC/oracle {worst[1]['auc_ratio']:.3f} ({worst[0]}); "
                f"all above logistic: {beats}; precision@3/oracle "
                f"{targets['precision_ratio']:.3f}; all targets met: {targets['passed']}"
            )
        results = {
            "rows": args.rows if args.data is None else None,
            "plain_seconds": [first["seconds"], second["seconds"]],
            "tarve_seconds": tarve["seconds"],
            "ratio": ratio,
            "target_ratio": TARGET_RATIO,
            "targets": targets,
            "ranking": report["ranking"],
        }
        out_dir = ROOT / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "bench_train.json").write_text(json.dumps(results, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
