"""The feed guard: the failures seen in practice are stopped, a fresh sample is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.drift import (
    DriftPolicy,
    ReferenceProfile,
    build_reference,
    check_frame,
    load_drift_policy,
    read_reference,
    render_drift_report,
)
from models.drift.compare import (
    BEYOND_RANGE,
    CONSTANT,
    MISSING_SHARE,
    PSI,
    SOURCE_WITH_DATA,
    UNSEEN_CATEGORIES,
)
from models.extract import validate_frame
from models.schema import Schema, load_schema

FRESH_ROWS = 1500
SEEDS = range(1000, 1020)


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema()


def canonical(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    result = validate_frame(frame, schema, require_labels=False)
    assert result.frame is not None, result.problems
    return result.frame


@pytest.fixture(scope="module")
def reference(small_register: pd.DataFrame, schema: Schema) -> ReferenceProfile:
    return build_reference(canonical(small_register, schema), schema)


@pytest.fixture(scope="module")
def fresh(schema: Schema) -> pd.DataFrame:
    from training.synth import generate_register

    return canonical(generate_register(FRESH_ROWS, seed=77), schema)


def failed_statistics(frame: pd.DataFrame, reference: ReferenceProfile, schema: Schema) -> set[Any]:
    report = check_frame(frame, reference, schema)
    assert not report.passed
    return {(finding.field, finding.statistic) for finding in report.failures}


def test_training_stores_the_reference(trained_model_dir: Path) -> None:
    stored = read_reference(trained_model_dir)
    assert stored is not None
    assert stored.rows > 0
    assert "work_ability_score" in stored.fields
    assert stored.sources["kykyviisari"].share_with_data > 0.1
    assert stored.consent_columns["kykyviisari"] == "consent_kykyviisari"


def test_no_false_alarm_over_20_fresh_samples(reference: ReferenceProfile, schema: Schema) -> None:
    from training.synth import generate_register

    for seed in SEEDS:
        report = check_frame(
            canonical(generate_register(FRESH_ROWS, seed=seed), schema), reference, schema
        )
        assert report.passed, (seed, render_drift_report(report))


def test_failed_join_whole_source_missing(
    fresh: pd.DataFrame, reference: ReferenceProfile, schema: Schema
) -> None:
    broken = fresh.copy()
    for name in reference.sources["health"].fields:
        broken[name] = pd.NA if broken[name].dtype == "boolean" else np.nan
    found = failed_statistics(broken, reference, schema)
    assert ("source:health", SOURCE_WITH_DATA) in found
    assert ("chronic_illness", MISSING_SHARE) in found


def test_swapped_codes_between_groups(
    fresh: pd.DataFrame, reference: ReferenceProfile, schema: Schema
) -> None:
    broken = fresh.copy()
    broken["foreign_background"] = ~broken["foreign_background"]
    assert ("foreign_background", PSI) in failed_statistics(broken, reference, schema)
    swapped = fresh.copy()
    swapped["mother_tongue"] = swapped["mother_tongue"].map(
        {"fi": "other", "other": "fi", "sv": "sv"}
    )
    assert ("mother_tongue", PSI) in failed_statistics(swapped, reference, schema)


def test_shifted_codes(fresh: pd.DataFrame, reference: ReferenceProfile, schema: Schema) -> None:
    levels = schema.field_by_name["education_level"].categories or []
    shift = {level: levels[min(i + 1, len(levels) - 1)] for i, level in enumerate(levels)}
    broken = fresh.copy()
    broken["education_level"] = broken["education_level"].map(shift)
    assert ("education_level", PSI) in failed_statistics(broken, reference, schema)


def test_unit_change_months_given_as_days(
    fresh: pd.DataFrame, reference: ReferenceProfile, schema: Schema
) -> None:
    broken = fresh.copy()
    broken["unemployment_months"] = broken["unemployment_months"] * 30
    found = failed_statistics(broken, reference, schema)
    assert {("unemployment_months", PSI), ("unemployment_months", BEYOND_RANGE)} <= found


def test_column_filled_with_a_default(
    fresh: pd.DataFrame, reference: ReferenceProfile, schema: Schema
) -> None:
    broken = fresh.copy()
    broken["work_experience_years"] = 0.0
    assert ("work_experience_years", CONSTANT) in failed_statistics(broken, reference, schema)
    defaulted = fresh.copy()
    defaulted["municipality"] = "helsinki"
    assert ("municipality", CONSTANT) in failed_statistics(defaulted, reference, schema)


def test_category_never_seen_in_training(
    fresh: pd.DataFrame, small_register: pd.DataFrame, schema: Schema
) -> None:
    training = canonical(small_register, schema)
    training = training[training["municipality"] != "kauniainen"]
    reference = build_reference(training, schema)
    broken = fresh.copy()
    broken.loc[broken.index[:200], "municipality"] = "kauniainen"
    assert ("municipality", UNSEEN_CATEGORIES) in failed_statistics(broken, reference, schema)


def test_report_names_field_statistic_reference_and_new_value(
    fresh: pd.DataFrame, reference: ReferenceProfile, schema: Schema
) -> None:
    broken = fresh.copy()
    broken["unemployment_months"] = broken["unemployment_months"] * 30
    text = render_drift_report(check_frame(broken, reference, schema))
    line = next(line for line in text.splitlines() if "beyond_training_range" in line)
    assert "unemployment_months" in line
    assert "[0, " in line  # the training range
    assert "outside" in line


def test_policy_file_overrides_defaults(
    tmp_path: Path, fresh: pd.DataFrame, reference: ReferenceProfile, schema: Schema
) -> None:
    assert load_drift_policy() == DriftPolicy()
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("psi_max: 100\njs_distance_max: null\nconstant_fails: false\n")
    policy = load_drift_policy(policy_file)
    broken = fresh.copy()
    broken["work_experience_years"] = 0.0
    assert check_frame(broken, reference, schema, policy).passed  # thresholds relaxed
    policy_file.write_text("psi_maximum: 1\n")
    with pytest.raises(ValueError, match="invalid feed-guard policy"):
        load_drift_policy(policy_file)
