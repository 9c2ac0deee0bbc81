"""MLflow: run, registered version, aliases, pyfunc, promote, in a temporary store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.model import ServiceNeedModel
from tests.support import fast_train_config
from training.promote import (
    TAG_OVERRIDE_BY,
    TAG_OVERRIDE_REASON,
    PromotionRefused,
    promote,
)
from training.tracking import TAG_FAIRNESS_VERDICT

NAME = "tarve-test-model"
STRICT_POLICY = "tpr_gap_max: 0.0\nfpr_gap_max: 0.0\ncalibration_gap_max: 0.0\nuncertain: block\n"
LENIENT_POLICY = "tpr_gap_max: 1.0\nfpr_gap_max: 1.0\ncalibration_gap_max: 1.0\n"


@pytest.fixture(scope="module")
def tracked(
    small_register: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One tracked, registered training run in a module-wide temporary store."""
    import mlflow

    from training.pipeline import train

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TARVE_HOME", str(root / "home"))
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        config = fast_train_config(
            output_dir=str(root / "artifact"),
            tracking={"enabled": True, "registered_model_name": NAME, "shap_sample": 40},
        )
        result = train(small_register.head(2500), config=config)
        yield result
        mlflow.set_tracking_uri(None)


def test_run_version_and_candidate_alias_exist(tracked: Any) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    run = client.get_run(tracked.run_id)
    assert run.data.params["lightgbm.num_leaves"] == "15"
    assert "model_precision_at_3" in run.data.metrics
    assert "test_pay_subsidy_roc_auc" in run.data.metrics
    folders = {item.path for item in client.list_artifacts(tracked.run_id)}
    assert {"evaluation", "plots", "data", "schema", "fairness", "model_card.md"} <= folders
    plots = {Path(item.path).name for item in client.list_artifacts(tracked.run_id, "plots")}
    assert "calibration_pay_subsidy.png" in plots
    assert "shap_pay_subsidy.png" in plots
    version = client.get_model_version(NAME, tracked.model_version)
    assert version.run_id == tracked.run_id
    assert TAG_FAIRNESS_VERDICT in version.tags
    assert (
        str(client.get_model_version_by_alias(NAME, "candidate").version) == tracked.model_version
    )
    assert tracked.model.metadata["version"] == tracked.model_version


def test_models_uri_loads_the_same_model(tracked: Any, small_register: pd.DataFrame) -> None:
    rows = small_register.tail(50)
    loaded = ServiceNeedModel.load(f"models:/{NAME}@candidate")
    expected = tracked.model.predict_proba(rows)
    pd.testing.assert_frame_equal(loaded.predict_proba(rows), expected, check_exact=True)
    assert loaded.version == tracked.model_version


def test_pyfunc_predicts_the_same_probabilities(tracked: Any, small_register: pd.DataFrame) -> None:
    import mlflow

    from training.tracking import pyfunc_frame

    rows = small_register.tail(20)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}/{tracked.model_version}")
    served = pyfunc.predict(pyfunc_frame(rows, tracked.model.schema))
    expected = tracked.model.predict_proba(rows)
    assert list(served.columns) == tracked.model.services
    np.testing.assert_allclose(served.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_promote_refuses_a_failing_audit_naming_each_failure(tracked: Any, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT_POLICY)
    with pytest.raises(PromotionRefused) as caught:
        promote(tracked.model_version, name=NAME, policy=strict)
    assert caught.value.failures
    for line in caught.value.failures:
        assert line.split(":")[0] in tracked.model.services
        assert line in str(caught.value)
    aliases = MlflowClient().get_registered_model(NAME).aliases
    assert "production" not in aliases


def test_promote_cli_refuses_with_exit_1(
    tracked: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tarve.cli import main

    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT_POLICY)
    args = ["promote", "--version", tracked.model_version, "--name", NAME, "--policy", str(strict)]
    assert main(args) == 1
    assert "refusing to move alias 'production'" in capsys.readouterr().err


def test_override_promotes_and_records_who_when_why(tracked: Any, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from training.promote import read_version_audit

    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT_POLICY)
    result = promote(
        tracked.model_version,
        name=NAME,
        policy=strict,
        override_reason="pilot with caseworker review of every suggestion",
        by="auditor-anna",
    )
    assert result.override is not None
    client = MlflowClient()
    assert str(client.get_registered_model(NAME).aliases["production"]) == tracked.model_version
    tags = client.get_model_version(NAME, tracked.model_version).tags
    assert tags[TAG_OVERRIDE_BY] == "auditor-anna"
    assert tags[TAG_OVERRIDE_REASON].startswith("pilot with caseworker review")
    audit, _ = read_version_audit(NAME, tracked.model_version)
    assert audit is not None
    assert audit.overrides[-1].reason.startswith("pilot with caseworker review")
    assert ServiceNeedModel.load(f"models:/{NAME}@production").version == tracked.model_version


def test_promote_passes_under_a_lenient_policy(tracked: Any, tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(LENIENT_POLICY)
    result = promote(tracked.model_version, name=NAME, policy=lenient, alias="staging")
    assert result.failures == []
    assert result.override is None


def test_promote_by_alias_resolves_the_version_behind_it(tracked: Any, tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(LENIENT_POLICY)
    result = promote("@candidate", name=NAME, policy=lenient, alias="staging")
    assert str(result.version) == str(tracked.model_version)


def test_promote_unknown_version_is_an_error(tracked: Any) -> None:
    with pytest.raises(LookupError, match="has no version 999"):
        promote("999", name=NAME)


def test_models_list_shows_versions_and_aliases(
    tracked: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tarve.cli import main

    assert main(["models", "list", "--name", NAME]) == 0
    listing = capsys.readouterr().out
    line = next(row for row in listing.splitlines() if row.split()[0] == tracked.model_version)
    assert "candidate" in line


def test_pyfunc_accepts_integer_columns_as_int64(
    tracked: Any, small_register: pd.DataFrame
) -> None:
    """An extract read by pandas has int64 integer columns; the signature accepts them."""
    import mlflow

    from training.tracking import pyfunc_frame

    rows = pyfunc_frame(small_register.tail(20), tracked.model.schema)
    integers = [spec.name for spec in tracked.model.schema.input_fields if spec.type == "integer"]
    complete = [name for name in integers if rows[name].notna().all()]
    frame = rows.astype(dict.fromkeys(complete, "int64"))
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}/{tracked.model_version}")
    served = pyfunc.predict(frame)
    expected = tracked.model.predict_proba(small_register.tail(20))
    assert complete
    np.testing.assert_allclose(served.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_pyfunc_refuses_float64_for_a_complete_integer_field(
    tracked: Any, small_register: pd.DataFrame
) -> None:
    """A ``long`` column refuses float64 (MLflow never narrows); ``pyfunc_frame`` gives int64."""
    import mlflow

    rows = small_register.tail(20)
    columns = [spec.name for spec in tracked.model.schema.input_fields]
    frame = rows[columns].reset_index(drop=True)
    for spec in tracked.model.schema.input_fields:
        if spec.type in ("boolean", "category"):
            frame[spec.name] = frame[spec.name].astype(object).where(frame[spec.name].notna(), None)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}/{tracked.model_version}")
    with pytest.raises(Exception, match="int64"):
        pyfunc.predict(frame)
