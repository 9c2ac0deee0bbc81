"""The synthetic register: determinism, schema conformance, calibration, ground truth, bias.

Two 20,000-row registers (bias on and off, same seed) are generated once per module;
everything else reads them. The learnability test fits LightGBM with one thread.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.groups import audit_group_values
from models.rules import evaluate_rule
from models.schema import Schema, load_schema, schema_from_dict
from training import cli_synth
from training.synth import (
    CALIBRATION_TARGETS,
    HISTORICAL_BIAS,
    UNTREATED_COLUMN,
    effect_column,
    generate_register,
    write_register,
)
from training.synth.bias import MSG_NO_AUDIT_GROUP
from training.synth.export import MSG_UNSUPPORTED_FORMAT
from training.synth.generate import MSG_ROWS, MSG_UNKNOWN_FIELDS, MSG_UNKNOWN_SERVICES
from training.synth.needs import CASEWORKER_RECALL
from training.synth.targets import calibration_report

ROWS = 20_000
SEED = 2021
PREVALENCE_RANGE = (0.03, 0.40)
ORACLE_AUC_RANGE = (0.70, 0.95)
SINGLE_FIELD_MARGIN = 0.02
"""A multi-field model must beat the best single field by at least this much AUC."""
IDENTITY_CODE = re.compile(r"\b\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]\b")
"""A Finnish personal identity code (henkilötunnus), e.g. 131052-308T."""


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema()


@pytest.fixture(scope="module")
def register() -> pd.DataFrame:
    return generate_register(ROWS, seed=SEED)


@pytest.fixture(scope="module")
def unbiased_register() -> pd.DataFrame:
    return generate_register(ROWS, seed=SEED, bias=False)


def _eligible(schema: Schema, frame: pd.DataFrame, service: str) -> np.ndarray:
    label = schema.label_by_name[service]
    if label.eligibility is None:
        return np.ones(len(frame), dtype=bool)
    return evaluate_rule(label.eligibility.rule, frame)


def _immigrant(schema: Schema, frame: pd.DataFrame) -> np.ndarray:
    group = next(g for g in schema.audit_groups if g.name == HISTORICAL_BIAS.audit_group)
    return np.asarray(audit_group_values(group, frame) == "yes")


def _model_matrix(schema: Schema, frame: pd.DataFrame) -> pd.DataFrame:
    columns: dict[str, object] = {}
    for spec in schema.input_fields:
        values = frame[spec.name]
        if spec.type == "category":
            columns[spec.name] = pd.Categorical(values.to_numpy(), categories=spec.categories)
        else:
            columns[spec.name] = values.astype("float64")
    return pd.DataFrame(columns, index=frame.index)


# --- determinism ------------------------------------------------------------------------


def test_same_seed_gives_the_same_frame_and_another_seed_does_not() -> None:
    first = generate_register(2_000, seed=7)
    pd.testing.assert_frame_equal(first, generate_register(2_000, seed=7))
    other = generate_register(2_000, seed=8)
    assert not first.drop(columns="client_ref").equals(other.drop(columns="client_ref"))
    assert (first["age"] != other["age"]).mean() > 0.5


def test_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match=re.escape(MSG_ROWS.format(rows=0))):
        generate_register(0, seed=1)


# --- schema conformance -----------------------------------------------------------------


def test_every_schema_field_label_oracle_and_effect_column_is_present(
    register: pd.DataFrame, schema: Schema
) -> None:
    expected = ["client_ref", *(spec.name for spec in schema.fields)]
    assert list(register.columns[: len(expected)]) == expected
    for label in schema.labels:
        assert register[label.column].dtype == np.int8
        assert set(np.unique(register[label.column])) <= {0, 1}
        assert register[str(label.oracle_column)].dtype == np.float64
        assert register[effect_column(label.name)].dtype == np.float64
    assert register[UNTREATED_COLUMN].dtype == np.float64
    assert register["client_ref"].is_unique
    assert register["client_ref"].str.fullmatch(r"C\d{7}").all()


def test_fields_have_canonical_dtypes(register: pd.DataFrame, schema: Schema) -> None:
    expected = {
        "number": "float64",
        "integer": "float64",
        "boolean": "boolean",
        "category": "object",
        "date": "datetime64[ns]",
    }
    for spec in schema.fields:
        assert str(register[spec.name].dtype) == expected[spec.type], spec.name
        if spec.type == "category":
            values = register[spec.name].dropna()
            assert values.map(type).eq(str).all(), spec.name


def test_values_respect_schema_ranges_categories_and_nullability(
    register: pd.DataFrame, schema: Schema
) -> None:
    for spec in schema.fields:
        values = register[spec.name]
        if not spec.nullable:
            assert values.notna().all(), spec.name
        present = values.dropna()
        if spec.type in ("number", "integer"):
            assert present.min() >= float(spec.min if spec.min is not None else -np.inf)
            assert present.max() <= float(spec.max if spec.max is not None else np.inf)
            if spec.type == "integer":
                assert (present == np.round(present)).all(), spec.name
        elif spec.type == "category":
            assert set(present) <= set(spec.categories or []), spec.name
        elif spec.type == "date":
            assert present.min() >= pd.Timestamp(str(spec.min))
            assert present.max() <= pd.Timestamp(str(spec.max))


def test_related_fields_are_coherent(register: pd.DataFrame) -> None:
    foreign = register["foreign_background"].astype(bool)
    years = register["years_in_finland"]
    assert years[~foreign].isna().all()
    assert years[foreign].notna().all()
    assert (years[foreign] <= register["age"][foreign]).all()
    assert (register["work_experience_years"] <= register["age"] - 15).all()
    no_degree = register["education_level"].isin(["none_or_unknown", "basic"])
    assert register["months_since_graduation"][no_degree].isna().all()
    assert register["months_since_graduation"][~no_degree].notna().all()
    never_worked = register["occupation_group"] == "none"
    assert register["months_since_last_job"][never_worked].isna().all()
    assert (register["work_experience_years"][never_worked] == 0).all()
    long_term = register["unemployment_months"] >= 12
    on_subsidy = register["benefit_type"] == "labour_market_subsidy"
    assert on_subsidy[long_term].mean() > 2 * on_subsidy[~long_term].mean()
    graduated_young = register["months_since_graduation"] / 12 <= register["age"]
    assert graduated_young[~no_degree].all()


# --- calibration ------------------------------------------------------------------------


@pytest.mark.parametrize("target", CALIBRATION_TARGETS, ids=lambda t: t.name)
def test_calibrated_shares_meet_their_targets(register: pd.DataFrame, target: object) -> None:
    report = {result.name: result for result in calibration_report(register)}
    result = report[target.name]  # type: ignore[attr-defined]
    assert result.within_tolerance, (
        f"{result.description}: {result.achieved:.3f} vs {result.target:.3f}"
    )


# --- labels and the ground truth ----------------------------------------------------------


def test_label_prevalences_are_realistic(register: pd.DataFrame, schema: Schema) -> None:
    low, high = PREVALENCE_RANGE
    for label in schema.labels:
        prevalence = register[label.column].mean()
        assert low <= prevalence <= high, f"{label.name}: {prevalence:.3f}"


def test_eligibility_rules_are_respected(register: pd.DataFrame, schema: Schema) -> None:
    restricted = [label for label in schema.labels if label.eligibility is not None]
    assert restricted
    for label in restricted:
        ineligible = ~_eligible(schema, register, label.name)
        assert ineligible.any()
        assert (register[label.column][ineligible] == 0).all(), label.name
        assert (register[str(label.oracle_column)][ineligible] == 0).all(), label.name
        assert (register[effect_column(label.name)][ineligible] == 0).all(), label.name
        assert not (register["received_service"][ineligible] == label.name).any(), label.name


def test_oracle_predicts_recorded_labels_usefully_but_not_perfectly(
    register: pd.DataFrame, schema: Schema
) -> None:
    low, high = ORACLE_AUC_RANGE
    for label in schema.labels:
        # Restricted services: among the eligible (the rule itself is known and exact).
        eligible = _eligible(schema, register, label.name)
        auc = roc_auc_score(
            register[label.column][eligible], register[str(label.oracle_column)][eligible]
        )
        assert low <= auc <= high, f"{label.name}: oracle AUC {auc:.3f}"


def _single_field_codes(values: pd.Series) -> np.ndarray:
    """Integer codes of one field: its categories, or 20 quantile bins, missing apart."""
    if not pd.api.types.is_numeric_dtype(values) or isinstance(values.dtype, pd.BooleanDtype):
        keys = values.astype(object).fillna("missing").astype(str).to_numpy()
    else:
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        edges = np.unique(np.nanquantile(numbers, np.linspace(0, 1, 21)))
        keys = np.digitize(numbers, edges[1:-1]).astype(np.float64)
        keys[np.isnan(numbers)] = -1.0
    return np.unique(keys, return_inverse=True)[1]


def _best_single_field_auc(
    codes: dict[str, np.ndarray], target: np.ndarray, fold: np.ndarray, rows: np.ndarray
) -> float:
    """Cross-fitted: each row scored by its field value's label rate in the other half."""
    best = 0.0
    for code in codes.values():
        score = np.empty(len(target))
        for train in (fold, ~fold):
            count = np.bincount(code[train], minlength=code.max() + 1)
            positives = np.bincount(code[train], weights=target[train], minlength=code.max() + 1)
            rate = np.where(count > 0, positives / np.maximum(count, 1), target[train].mean())
            score[~train] = rate[code[~train]]
        best = max(best, roc_auc_score(target[rows], score[rows]))
    return best


def test_no_single_field_gives_a_label_away(register: pd.DataFrame, schema: Schema) -> None:
    """Cross-fitted on two halves: the best one-field score vs a multi-field LightGBM."""
    matrix = _model_matrix(schema, register)
    fold = np.arange(len(register)) % 2 == 0
    codes = {name: _single_field_codes(register[name]) for name in matrix.columns}
    for label in schema.labels:
        target = register[label.column].to_numpy().astype(np.float64)
        eligible = _eligible(schema, register, label.name)
        best_single = _best_single_field_auc(codes, target, fold, eligible)
        model_score = np.empty(len(register))
        for train in (fold, ~fold):
            model = lgb.LGBMClassifier(
                n_estimators=100,
                learning_rate=0.06,
                num_leaves=7,
                min_child_samples=40,
                n_jobs=1,
                verbose=-1,
            ).fit(matrix[train], target[train])
            model_score[~train] = model.predict_proba(matrix[~train])[:, 1]
        model_auc = roc_auc_score(target[eligible], model_score[eligible])
        assert model_auc >= best_single + SINGLE_FIELD_MARGIN, (
            f"{label.name}: LightGBM {model_auc:.3f} vs best single field {best_single:.3f}"
        )


# --- consent ------------------------------------------------------------------------------


def test_fields_of_a_source_are_missing_without_consent(
    register: pd.DataFrame, schema: Schema
) -> None:
    assert schema.consent_sources
    for name, source in schema.consent_sources.items():
        consent = register[str(source.consent_column)].astype(bool)
        assert 0.02 < consent.mean() < 0.98
        for spec in schema.fields_of_source(name):
            assert register[spec.name][~consent].isna().all(), spec.name
            assert register[spec.name][consent].notna().all(), spec.name


def test_language_tests_are_mostly_taken_by_foreign_language_speakers(
    register: pd.DataFrame,
) -> None:
    tested = register["consent_language_test"].astype(bool)
    foreign_language = register["mother_tongue"] == "other"
    assert tested[foreign_language].mean() > 0.5 > 10 * tested[~foreign_language].mean()


# --- history --------------------------------------------------------------------------------


def test_history_has_heterogeneous_effects_and_a_consistent_outcome(
    register: pd.DataFrame, schema: Schema
) -> None:
    received = register["received_service"]
    effect = np.zeros(len(register))
    for label in schema.labels:
        chosen = (received == label.name).to_numpy()
        effect[chosen] = register[effect_column(label.name)].to_numpy()[chosen]
        effects = register[effect_column(label.name)][_eligible(schema, register, label.name)]
        assert effects.std() > 0.005, label.name
        need = register[str(label.oracle_column)][effects.index]
        assert np.corrcoef(effects, need)[0, 1] > 0.3, label.name
    chance = register[UNTREATED_COLUMN].to_numpy() + effect
    assert ((chance >= 0) & (chance <= 1)).all()
    outcome = register["outcome_employed_or_education_6m"].astype(bool).to_numpy()
    assert abs(outcome.mean() - chance.mean()) < 0.02
    # Confounded: those who got a service had recorded needs far more often.
    recorded_any = register[schema.label_columns].sum(axis=1) > 0
    treated = received != "none"
    assert recorded_any[treated].mean() > recorded_any[~treated].mean() + 0.2


# --- the historical bias -------------------------------------------------------------------


def test_bias_lowers_recorded_need_for_immigrants_only(
    register: pd.DataFrame, unbiased_register: pd.DataFrame, schema: Schema
) -> None:
    label = schema.label_by_name[HISTORICAL_BIAS.service]
    oracle = str(label.oracle_column)
    pd.testing.assert_series_equal(register[oracle], unbiased_register[oracle])
    immigrant = _immigrant(schema, register)

    def recorded_over_true(frame: pd.DataFrame, rows: np.ndarray) -> float:
        return float(frame[label.column][rows].mean() / frame[oracle][rows].mean())

    biased = recorded_over_true(register, immigrant)
    unbiased = recorded_over_true(unbiased_register, immigrant)
    others = recorded_over_true(register, ~immigrant)
    expected = HISTORICAL_BIAS.recorded_share * CASEWORKER_RECALL
    assert abs(biased - expected) < 0.08
    assert abs(unbiased - CASEWORKER_RECALL) < 0.08
    assert abs(others - CASEWORKER_RECALL) < 0.08
    # The true need itself is about as common among immigrants as among others.
    assert 0.85 < register[oracle][immigrant].mean() / register[oracle][~immigrant].mean() < 1.15


def _immigrant_selection_ratio(frame: pd.DataFrame, schema: Schema) -> float:
    """Compute the selection rate of immigrants over others (cross-fitted, recorded labels)."""
    column = schema.label_by_name[HISTORICAL_BIAS.service].column
    matrix, target = _model_matrix(schema, frame), frame[column].to_numpy()
    fold = np.arange(len(frame)) % 2 == 0
    score = np.empty(len(frame))
    for train in (fold, ~fold):
        model = lgb.LGBMClassifier(
            n_estimators=150,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=40,
            n_jobs=1,
            verbose=-1,
        ).fit(matrix[train], target[train])
        score[~train] = model.predict_proba(matrix[~train])[:, 1]
    selected = score >= np.quantile(score, 1 - target.mean())
    immigrant = _immigrant(schema, frame)
    return float(selected[immigrant].mean() / selected[~immigrant].mean())


def test_a_model_trained_on_biased_labels_under_selects_immigrants(
    register: pd.DataFrame, unbiased_register: pd.DataFrame, schema: Schema
) -> None:
    """The gap a fairness audit must find; without the bias, none beyond noise."""
    assert _immigrant_selection_ratio(register, schema) < 0.4
    assert _immigrant_selection_ratio(unbiased_register, schema) > 0.75


def test_bias_needs_its_audit_group(schema: Schema) -> None:
    raw = schema.to_dict()
    raw["audit_groups"] = [g for g in raw["audit_groups"] if g["name"] != "immigrant"]
    without_group = schema_from_dict(raw)
    message = MSG_NO_AUDIT_GROUP.format(group=HISTORICAL_BIAS.audit_group)
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_register(100, seed=1, schema=without_group)
    assert len(generate_register(100, seed=1, schema=without_group, bias=False)) == 100


# --- other schemas ---------------------------------------------------------------------------


def test_a_schema_with_a_subset_of_fields_and_services_is_followed(schema: Schema) -> None:
    raw = schema.to_dict()
    raw["fields"] = [f for f in raw["fields"] if f["name"] not in ("driving_licence", "plan_goal")]
    raw["labels"] = [label for label in raw["labels"] if label["name"] != "startup_grant"]
    smaller = schema_from_dict(raw)
    frame = generate_register(500, seed=3, schema=smaller)
    assert "driving_licence" not in frame.columns
    assert "plan_goal" not in frame.columns
    assert "need_startup_grant" not in frame.columns
    assert "startup_grant" not in set(frame["received_service"])


def test_a_schema_with_unknown_fields_or_services_is_refused(schema: Schema) -> None:
    raw = schema.to_dict()
    raw["fields"].append(
        {"name": "shoe_size", "type": "number", "label": raw["fields"][0]["label"]}
    )
    with pytest.raises(ValueError, match=re.escape(MSG_UNKNOWN_FIELDS.format(names=["shoe_size"]))):
        generate_register(10, seed=1, schema=schema_from_dict(raw))
    raw = schema.to_dict()
    raw["labels"].append({**raw["labels"][0], "name": "coffee", "column": "need_coffee"})
    raw["labels"][-1].pop("oracle_column", None)
    with pytest.raises(ValueError, match=re.escape(MSG_UNKNOWN_SERVICES.format(names=["coffee"]))):
        generate_register(10, seed=1, schema=schema_from_dict(raw))


# --- privacy ------------------------------------------------------------------------------------


def test_no_value_looks_like_a_personal_identity_code(
    register: pd.DataFrame, tmp_path: Path
) -> None:
    assert IDENTITY_CODE.search("asiakas 131052-308T") is not None  # the pattern works
    for name in register.columns:
        text = register[name].astype(str)
        assert not text.str.contains(IDENTITY_CODE).any(), name
    path = write_register(register.head(5_000), tmp_path / "register.csv")
    assert IDENTITY_CODE.search(path.read_text(encoding="utf-8")) is None


# --- files and the command line -------------------------------------------------------------------


def test_csv_uses_plain_dates_booleans_and_empty_missing(tmp_path: Path) -> None:
    frame = generate_register(300, seed=5)
    path = write_register(frame, tmp_path / "register.csv")
    text = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(text.columns) == list(frame.columns)
    assert text["registered_on"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(text["foreign_background"]) == {"true", "false"}
    assert set(text["chronic_illness"]) <= {"true", "false", ""}
    assert (text["years_in_finland"] == "").to_numpy().tolist() == frame[
        "years_in_finland"
    ].isna().tolist()
    assert text["age"].str.fullmatch(r"\d+").all()  # integers without ".0"


def test_files_pass_validation_and_round_trip(tmp_path: Path, schema: Schema) -> None:
    validation = pytest.importorskip("models.extract.validation")
    frame = generate_register(500, seed=6)
    columns = ["client_ref", *(s.name for s in schema.fields)]
    columns += schema.label_columns + schema.oracle_columns
    for suffix in (".csv", ".parquet"):
        path = write_register(frame, tmp_path / f"register{suffix}")
        loaded = validation.load_validated_extract(path, schema)
        pd.testing.assert_frame_equal(loaded[columns], frame[columns], check_exact=False)


def test_unsupported_extension_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "register.xlsx"
    with pytest.raises(ValueError, match=re.escape(MSG_UNSUPPORTED_FORMAT.format(path=target))):
        write_register(generate_register(10, seed=1), target)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tarve")
    cli_synth.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_cli_writes_the_register_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "register.parquet"
    assert _cli(["synth", "--rows", "400", "--seed", "3", "--out", str(out), "--no-bias"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 400 rows" in printed
    assert "historical bias: off" in printed
    written = pd.read_parquet(out)
    assert len(written) == 400
    expected = generate_register(400, seed=3, bias=False)
    assert (written["need_labour_market_training"] == expected["need_labour_market_training"]).all()


def test_cli_refuses_an_unknown_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(["synth", "--rows", "10", "--out", str(tmp_path / "register.json")]) == 2
    assert "use a .csv or .parquet file name" in capsys.readouterr().err
