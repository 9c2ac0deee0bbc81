"""Benchmark: effect estimates against the synthetic register's true effects.

On 200,000 synthetic clients (70 % fit, 30 % held out), per service: rank correlation
and RMSE (PEHE) of estimated vs true individual effects on held-out clients, the
average effect with its interval next to the true one and the naive treated-vs-untreated
difference, coverage of the group-effect intervals over the true group effects; then
the policy value of allocation rules under the history's capacities (benefit rule,
oracle, need rules, as given, no service). Last, the hidden-confounder experiment: the
motivation measurements (Kykyviisari's motivation score, job applications, plan goal)
are withheld from the estimator, so motivation becomes an unobserved confounder; the
bench shows how far the averages move and whether DoubleML's omitted-variable bounds
still cover the truth.

Run: ``.venv/bin/python bench/bench_impact.py [--rows N] [--seed S] [--no-hidden]``
"""

from __future__ import annotations

import argparse
import time

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.features import FeatureEncoder
from models.schema import Schema, load_schema
from training.effects.estimate import fit_effects
from training.effects.evaluate import policy_values, recovery
from training.synth.generate import effect_column, generate_register

MOTIVATION_PROXIES = ("kyky_motivation", "job_applications_3m", "plan_goal")
TARGET_OF_ORACLE_GAIN = 0.5
TARGET_COVERAGE = 0.90
THREADS = 2


def hide_fields(schema: Schema, names: tuple[str, ...]) -> Schema:
    fields = [
        spec.model_copy(update={"model_input": False}) if spec.name in names else spec
        for spec in schema.fields
    ]
    return schema.model_copy(update={"fields": fields})


def need_model_scores(train: pd.DataFrame, test: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Fit a plain LightGBM need model per service on the recorded labels; score ``test``."""
    encoder = FeatureEncoder(schema)
    x_train, x_test = encoder.encode_frame(train), encoder.encode_frame(test)
    columns = []
    for label in schema.labels:
        booster = lgb.train(
            {
                "objective": "binary",
                "learning_rate": 0.1,
                "num_leaves": 31,
                "verbose": -1,
                "num_threads": THREADS,
                "max_bin": 63,
            },
            lgb.Dataset(
                x_train,
                train[label.column].to_numpy(),
                feature_name=encoder.feature_names,
                categorical_feature=encoder.categorical_features,
            ),
            100,
        )
        columns.append(booster.predict(x_test))
    return np.column_stack(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-hidden", action="store_true", help="skip the hidden-confounder run")
    args = parser.parse_args()
    schema = load_schema()
    started = time.perf_counter()
    frame = generate_register(args.rows, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    in_train = rng.random(len(frame)) < 0.7
    train = frame[in_train].reset_index(drop=True)
    test = frame[~in_train].reset_index(drop=True)
    print(
        f"register: {len(frame):,} clients ({len(train):,} fit, {len(test):,} held out), "
        f"{time.perf_counter() - started:.1f} s"
    )

    t0 = time.perf_counter()
    fit = fit_effects(train, schema, seed=args.seed, num_threads=THREADS)
    print(
        f"effect models: {len(fit.services)} services fitted in {time.perf_counter() - t0:.1f} s"
        f"{'; skipped ' + str(fit.skipped) if fit.skipped else ''}"
    )
    results, table = recovery(fit, train, test)

    print(
        "\nIndividual effects on held-out clients (probability points; true sd = spread "
        "of the true effects)"
    )
    print(
        f"{'service':26s} {'estimable':>9s} {'rank r':>7s} {'PEHE':>7s} {'true sd':>7s} "
        f"{'true mean':>9s} {'est mean':>8s}"
    )
    for r in results:
        print(
            f"{r.service:26s} {r.estimable_share:9.1%} {r.rank_correlation:7.3f} {r.pehe:7.4f} "
            f"{r.true_sd:7.4f} {r.true_mean:+9.4f} {r.estimated_mean:+8.4f}"
        )

    print(
        "\nAverage effect vs no service (fit clients inside support), 95 % CI; naive = "
        "treated minus untreated outcome rate; bounds = DoubleML omitted-variable bounds "
        "(cf_y = cf_d = 0.03)"
    )
    print(
        f"{'service':26s} {'true':>7s} {'DR estimate [95 % CI]':>26s} {'in CI':>5s} "
        f"{'naive':>7s} {'bounds':>18s} {'groups covered':>14s}"
    )
    ate_in = groups_total = groups_covered = 0
    for r in results:
        inside = r.ate_lower <= r.ate_true <= r.ate_upper
        ate_in += inside
        groups_total += r.group_intervals
        groups_covered += r.group_covered
        print(
            f"{r.service:26s} {r.ate_true:+7.4f} {r.ate:+8.4f} [{r.ate_lower:+.4f}, "
            f"{r.ate_upper:+.4f}] {'yes' if inside else 'NO':>5s} {r.naive_difference:+7.4f} "
            f"[{r.ate_bound_lower:+.3f}, {r.ate_bound_upper:+.3f}] "
            f"{r.group_covered:>6d}/{r.group_intervals:<6d}"
        )
    coverage = groups_covered / max(groups_total, 1)
    print(
        f"ATE intervals covering the truth: {ate_in}/{len(results)}; group-effect intervals: "
        f"{groups_covered}/{groups_total} = {coverage:.1%} (target >= {TARGET_COVERAGE:.0%})"
    )
    naive_error = np.mean([abs(r.naive_difference - r.ate_true) for r in results])
    dr_error = np.mean([abs(r.ate - r.ate_true) for r in results])
    print(f"mean |error| of the average effect: naive {naive_error:.4f}, DR {dr_error:.4f}")

    t0 = time.perf_counter()
    need_scores = {
        "model": need_model_scores(train, test, schema),
        "true_need": np.column_stack(
            [
                test[label.oracle_column].to_numpy(float)
                for label in schema.labels
                if label.oracle_column
            ]
        ),
    }
    values = policy_values(
        test, table, need_scores=need_scores, treatment_column=str(schema.treatment_column)
    )
    base, oracle = values["no_service"], values["oracle"]
    print(
        f"\nPolicy value on held-out clients (true mean outcome probability; capacities = "
        f"the history's count of each service) [{time.perf_counter() - t0:.1f} s]"
    )
    for name, label in [
        ("no_service", "no service"),
        ("as_given", "as actually given"),
        ("need_model", "need rule (need-model ranking)"),
        ("need_true_need", "need rule (true need, oracle)"),
        ("benefit", "benefit rule (estimated benefit)"),
        ("oracle", "oracle (true effects)"),
    ]:
        value = values[name]
        share = (value - base) / (oracle - base) if oracle > base else float("nan")
        print(f"  {label:36s} {value:.4f}  gain {value - base:+.4f}  {share:6.1%} of oracle gain")
    benefit_share = (values["benefit"] - base) / (oracle - base)
    beats = values["benefit"] > max(values["need_model"], values["need_true_need"])
    print(
        f"targets: benefit rule >= {TARGET_OF_ORACLE_GAIN:.0%} of oracle gain: "
        f"{'met' if benefit_share >= TARGET_OF_ORACLE_GAIN else 'MISSED'} ({benefit_share:.1%}); "
        f"beats need ranking: {'met' if beats else 'MISSED'}; "
        f"group coverage >= {TARGET_COVERAGE:.0%}: "
        f"{'met' if coverage >= TARGET_COVERAGE else 'MISSED'} ({coverage:.1%})"
    )

    if not args.no_hidden:
        t0 = time.perf_counter()
        hidden = fit_effects(
            train,
            hide_fields(schema, MOTIVATION_PROXIES),
            seed=args.seed,
            num_threads=THREADS,
            final_stage=None,
        )
        print(
            f"\nHidden confounder: motivation measurements {list(MOTIVATION_PROXIES)} withheld "
            f"[{time.perf_counter() - t0:.1f} s]"
        )
        print(
            f"{'service':26s} {'true':>7s} {'with':>8s} {'hidden':>8s} {'shift':>8s} "
            f"{'CI covers':>9s} {'bounds':>18s} {'bounds cover':>12s} {'RV':>6s}"
        )
        covered_ci = covered_bounds = 0
        for r in results:
            if r.service not in hidden.services:
                continue
            h = hidden.services[r.service]
            true = float(train[effect_column(r.service)].to_numpy(float)[h.rows].mean())
            a = h.average
            in_ci = a.lower <= true <= a.upper
            in_bounds = (a.bound_lower or -1) <= true <= (a.bound_upper or 1)
            covered_ci += in_ci
            covered_bounds += in_bounds
            print(
                f"{r.service:26s} {true:+7.4f} {r.ate:+8.4f} {a.estimate:+8.4f} "
                f"{a.estimate - r.ate:+8.4f} {'yes' if in_ci else 'NO':>9s} "
                f"[{a.bound_lower:+.3f}, {a.bound_upper:+.3f}] "
                f"{'yes' if in_bounds else 'NO':>12s} {a.robustness_value:6.3f}"
            )
        print(
            f"with motivation hidden: CI covers the truth {covered_ci}/{len(hidden.services)}, "
            f"omitted-variable bounds cover it {covered_bounds}/{len(hidden.services)}"
        )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
