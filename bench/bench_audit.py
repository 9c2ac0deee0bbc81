"""Benchmark: the full fairness audit at production scale, next to its 60 s target.

200,000 clients x 12 services x 8 audit attributes plus their 28 pairs, with every
interval (Wilson, Newcombe, Katz, DeLong, the ECE bootstrap), comparisons, flags and the
report. Side by side, fairlearn's ``MetricFrame`` computing the same plain metrics
(no intervals) as a baseline: it takes seconds per service and partition, so it is
timed on a few partitions and extrapolated (``--full-baseline`` runs all of them), and
its bootstrap intervals are timed on a smaller sample.

Run: ``.venv/bin/python bench/bench_audit.py [--rows N] [--services S]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np
import pandas as pd

TARGET_SECONDS = 60.0
ATTRIBUTES = {
    "under_30": (["yes", "no"], [0.3, 0.7]),
    "immigrant": (["yes", "no"], [0.2, 0.8]),
    "recent_graduate": (["yes", "no"], [0.1, 0.9]),
    "no_vocational_education": (["yes", "no"], [0.35, 0.65]),
    "long_term_unemployed": (["yes", "no"], [0.3, 0.7]),
    "gender": (["female", "male", "other"], [0.49, 0.49, 0.02]),
    "mother_tongue": (["fi", "sv", "other"], [0.74, 0.05, 0.21]),
    "age_band": (["16-24", "25-29", "30-44", "45-54", "55+"], [0.15, 0.15, 0.3, 0.22, 0.18]),
}


def simulate(rows: int, services: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    groups = pd.DataFrame(
        {name: rng.choice(values, rows, p=p) for name, (values, p) in ATTRIBUTES.items()}
    )
    names = [f"service_{i:02d}" for i in range(services)]
    scores = pd.DataFrame(rng.beta(1.2, 6.0, (rows, services)), columns=names)
    # Isotonic calibration makes step functions: round to give realistic ties.
    scores = scores.round(3)
    labels = pd.DataFrame(
        (rng.random((rows, services)) < scores.to_numpy()).astype(np.int8), columns=names
    )
    return {"labels": labels, "scores": scores, "decisions": scores.ge(0.25), "groups": groups}


def bench_tarve(data: dict[str, pd.DataFrame]) -> tuple[float, object]:
    from fairness import run_audit

    start = time.perf_counter()
    report = run_audit(**data, metadata={"name": "bench", "version": "0"})  # type: ignore[arg-type]
    return time.perf_counter() - start, report


def _fairlearn_metric_frames(
    data: dict[str, pd.DataFrame], service: str, features: list[str]
) -> None:
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import precision_score, roc_auc_score

    y_true = data["labels"][service].to_numpy()
    decision_metrics = {
        "n": count,
        "base_rate": lambda y, p: float(np.mean(y)),
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "precision": lambda y, p: precision_score(y, p, zero_division=0),
    }
    score_metrics = {
        "roc_auc": roc_auc_score,
        "mean_score": lambda y, s: float(np.mean(s)),
        "calibration_gap": lambda y, s: float(np.mean(s) - np.mean(y)),
    }
    sensitive = data["groups"][features]
    MetricFrame(
        metrics=decision_metrics,
        y_true=y_true,
        y_pred=data["decisions"][service].to_numpy().astype(int),
        sensitive_features=sensitive,
    )
    MetricFrame(
        metrics=score_metrics,
        y_true=y_true,
        y_pred=data["scores"][service].to_numpy(),
        sensitive_features=sensitive,
    )


def bench_fairlearn(data: dict[str, pd.DataFrame], *, full: bool) -> tuple[float, int, int]:
    """Seconds for the timed partitions, how many were timed, and how many exist."""
    services = list(data["labels"].columns)
    attributes = list(data["groups"].columns)
    partitions = [[a] for a in attributes] + [
        list(p) for p in itertools.combinations(attributes, 2)
    ]
    jobs = [(s, p) for s in services for p in partitions]
    timed = jobs if full else [(services[0], partitions[0]), (services[0], partitions[-1])]
    start = time.perf_counter()
    for service, features in timed:
        _fairlearn_metric_frames(data, service, features)
    return time.perf_counter() - start, len(timed), len(jobs)


def bench_fairlearn_bootstrap(data: dict[str, pd.DataFrame], rows: int, boots: int) -> float:
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

    service = data["labels"].columns[0]
    start = time.perf_counter()
    MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate},
        y_true=data["labels"][service].to_numpy()[:rows],
        y_pred=data["decisions"][service].to_numpy()[:rows].astype(int),
        sensitive_features=data["groups"]["immigrant"].to_numpy()[:rows],
        n_boot=boots,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--services", type=int, default=12)
    parser.add_argument("--full-baseline", action="store_true", help="time every MetricFrame")
    parser.add_argument("--boot-rows", type=int, default=20_000)
    parser.add_argument("--boots", type=int, default=20)
    args = parser.parse_args()

    data = simulate(args.rows, args.services)
    attributes = data["groups"].shape[1]
    pairs = attributes * (attributes - 1) // 2
    print(
        f"fairness audit benchmark: {args.rows:,} rows x {args.services} services x "
        f"{attributes} attributes + {pairs} pairs ({os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f})"
    )
    seconds, report = bench_tarve(data)
    verdict = "within" if seconds <= TARGET_SECONDS else "OVER"
    print(
        f"  tarve audit, all metrics + intervals + flags + report: {seconds:7.1f} s   "
        f"(target {TARGET_SECONDS:.0f} s: {verdict})"
    )
    start = time.perf_counter()
    from fairness import render_html

    page = render_html(report)
    text = report.to_json()  # type: ignore[attr-defined]
    print(
        f"  rendering JSON ({len(text) / 1e6:.1f} MB) and HTML ({len(page) / 1e6:.1f} MB):"
        f"     {time.perf_counter() - start:7.1f} s"
    )
    baseline, timed, total = bench_fairlearn(data, full=args.full_baseline)
    label = "measured" if timed == total else f"extrapolated from {timed} of {total}"
    estimate = baseline / timed * total
    print(
        f"  fairlearn MetricFrame, same plain metrics, no intervals: {estimate:7.1f} s   "
        f"({label} service x partition frames, {baseline / timed:.1f} s each)"
    )
    boot = bench_fairlearn_bootstrap(data, args.boot_rows, args.boots)
    print(
        f"  fairlearn MetricFrame bootstrap, 2 metrics, 1 attribute, {args.boot_rows:,} rows, "
        f"{args.boots} replicates: {boot:.1f} s ({boot / args.boots:.2f} s per replicate)"
    )
    return 0 if seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
