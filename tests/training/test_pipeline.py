"""The training pipeline on the shared small model: artifact parity, no unpickling, reports."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.model import ServiceNeedModel
from tests.support import fast_train_config
from training.audit import FAIRNESS_JSON
from training.model_card import MODEL_CARD
from training.report import EVALUATION_JSON, EVALUATION_MARKDOWN
from training.steps import DATA_PROFILE


def test_loaded_artifact_predicts_exactly_what_the_trained_model_predicted(
    trained_result: Any, trained_model_dir: Path, small_register: pd.DataFrame
) -> None:
    rows = small_register.iloc[trained_result.split.test]
    in_memory = trained_result.model.predict_proba(rows)
    loaded = ServiceNeedModel.load(trained_model_dir)
    pd.testing.assert_frame_equal(loaded.predict_proba(rows), in_memory, check_exact=True)
    assert loaded.thresholds == trained_result.model.thresholds
    records = rows.head(5)[[spec.name for spec in loaded.schema.input_fields]]
    from_records = loaded.predict_matrix(loaded.encode_records(records.to_dict("records")))
    np.testing.assert_array_equal(from_records, in_memory.head(5).to_numpy())


def test_loading_never_unpickles(
    trained_model_dir: Path, small_register: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model loader tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    import _pickle

    monkeypatch.setattr(_pickle, "load", refuse)
    monkeypatch.setattr(_pickle, "loads", refuse)
    model = ServiceNeedModel.load(trained_model_dir)
    assert model.predict_proba(small_register.head(3)).shape == (3, len(model.services))
    stored = {path.suffix for path in trained_model_dir.rglob("*") if path.is_file()}
    assert stored <= {".txt", ".json", ".md", ".html"}


def test_artifact_directory_holds_reports(trained_model_dir: Path) -> None:
    for name in (EVALUATION_JSON, EVALUATION_MARKDOWN, MODEL_CARD, DATA_PROFILE, FAIRNESS_JSON):
        assert (trained_model_dir / name).is_file(), name
    report = json.loads((trained_model_dir / EVALUATION_JSON).read_text("utf-8"))
    assert report["format"] == "tarve-evaluation"
    assert report["systems"] == ["model", "oracle", "logistic", "prevalence"]
    service = next(iter(report["services"].values()))
    for key in ("roc_auc", "pr_auc", "brier", "ece", "prevalence"):
        assert key in service["model"]
    for key in ("precision_at_3", "recall_at_3", "ndcg_at_5"):
        assert key in report["ranking"]["model"]
    assert report["targets"] is not None
    card = (trained_model_dir / MODEL_CARD).read_text("utf-8")
    for heading in ("## Intended use", "## Data", "## Evaluation", "## Fairness", "## Limitations"):
        assert heading in card


def test_model_beats_the_prevalence_baseline(trained_result: Any) -> None:
    ranking = trained_result.report["ranking"]
    assert ranking["model"]["precision_at_3"] > ranking["prevalence"]["precision_at_3"]
    for entry in trained_result.report["services"].values():
        assert entry["model"]["roc_auc"] > 0.6


def test_test_split_was_not_used_for_fitting(trained_result: Any) -> None:
    sizes = trained_result.model.metadata["split"]["sizes"]
    split = trained_result.split
    assert sizes == split.sizes()
    assert not set(split.test) & set(split.train)
    assert not set(split.test) & set(split.calibration)
    assert trained_result.report["services"]["pay_subsidy"]["model"]["n"] == split.test.size


def test_bad_extract_stops_training_with_the_validators_messages(
    small_register: pd.DataFrame, tmp_path: Path
) -> None:
    from models.extract.validation import ExtractValidationError, validate_frame
    from models.schema import load_schema
    from training.pipeline import train

    broken = small_register.head(300).copy()
    broken.loc[3, "municipality"] = "stockholm"
    broken.loc[7, "age"] = 140.0
    broken = broken.drop(columns=["need_pay_subsidy"])
    expected = validate_frame(broken, load_schema()).problems
    assert len(expected) >= 3
    with pytest.raises(ExtractValidationError) as caught:
        train(broken, config=fast_train_config(output_dir=str(tmp_path / "never")))
    assert caught.value.problems == expected
    for problem in expected:
        assert problem.message in str(caught.value)
    assert not (tmp_path / "never").exists()


def test_bad_extract_file_stops_the_cli_with_exit_1(
    small_register: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.extract.validation import ExtractValidationError, load_validated_extract
    from models.schema import load_schema
    from tarve.cli import main

    broken = small_register.head(200).copy()
    broken.loc[5, "benefit_type"] = "lottery"
    path = tmp_path / "broken.parquet"
    broken.to_parquet(path)
    with pytest.raises(ExtractValidationError) as caught:
        load_validated_extract(path, load_schema())
    code = main(["train", "--data", str(path), "--no-tracking", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "training stopped" in err
    assert str(caught.value) in err


def test_calibration_keeps_or_improves_test_log_loss(
    trained_result: Any, small_register: pd.DataFrame
) -> None:
    from training.calibrate import clipped_log_loss

    model = trained_result.model
    rows = small_register.iloc[trained_result.split.test]
    raw = model.raw_scores(model.encoder.encode_frame(rows))
    calibrated = model.calibrate(raw)
    for column, spec in enumerate(model.schema.labels):
        label = rows[spec.column].to_numpy()
        before = clipped_log_loss(label, 1 / (1 + np.exp(-raw[:, column])))
        after = clipped_log_loss(label, calibrated[:, column])
        assert after <= before + 0.01, spec.name
