"""The registry module: one way to find the MLflow store, URIs, versions and aliases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models import registry
from tests.support import fast_train_config

NAME = "registry-test"
ROWS = 1500
# MLflow copies the URIs it is given (and the active experiment) into these variables.
MLFLOW_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")


@pytest.fixture
def fresh_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow as a new process sees it: no tracking or registry URI set in code or env."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)
    for variable in MLFLOW_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(scope="module")
def home_with_model(
    small_register: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Return a TARVE_HOME whose embedded MLflow store holds one trained, registered version."""
    from training.pipeline import train

    root = tmp_path_factory.mktemp("registry")
    home = root / "home"
    data = root / "register.parquet"
    small_register.head(ROWS).to_parquet(data)
    training_cwd = root / "training-cwd"
    training_cwd.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TARVE_HOME", str(home))
        for variable in MLFLOW_VARIABLES:
            patch.delenv(variable, raising=False)
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        patch.chdir(training_cwd)
        config = fast_train_config(
            output_dir=str(root / "artifact"),
            tracking={
                "enabled": True,
                "registered_model_name": NAME,
                "plots": False,
                "shap_sample": 20,
            },
        )
        result = train(small_register.head(ROWS), config=config)
        yield {
            "home": home,
            "data": data,
            "root": root,
            "training_cwd": training_cwd,
            "version": result.model_version,
        }


@pytest.fixture
def in_home(
    home_with_model: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, Any]:
    """Only ``TARVE_HOME`` set, run from a working directory of its own (the test's own)."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.setenv("TARVE_HOME", str(home_with_model["home"]))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(elsewhere)
    return {**home_with_model, "cwd": elsewhere}


@pytest.mark.usefixtures("fresh_mlflow")
def test_audit_of_a_models_alias_uri_uses_tarve_home(in_home: dict[str, Any]) -> None:
    from tarve.cli import main

    out = in_home["cwd"] / "audit"
    status = main(
        [
            "audit",
            "--model",
            f"models:/{NAME}@candidate",
            "--data",
            str(in_home["data"]),
            "--out",
            str(out),
        ]
    )
    assert status == 0
    assert (out / "audit.json").is_file()
    assert not (in_home["cwd"] / "mlflow.db").exists()
    assert not (in_home["training_cwd"] / "mlflow.db").exists()
    assert not (in_home["cwd"] / "mlruns").exists()


@pytest.mark.usefixtures("fresh_mlflow")
def test_registry_reads_versions_aliases_and_tags(in_home: dict[str, Any]) -> None:
    version = in_home["version"]
    assert registry.tracking_uri() == f"sqlite:///{in_home['home'] / 'mlflow.db'}"
    assert registry.version_for_alias(NAME, "candidate") == version
    assert registry.resolve_version(NAME, "@candidate") == version
    assert registry.aliases(NAME) == {"candidate": version}
    (listed,) = registry.list_versions(NAME)
    assert (listed.version, listed.aliases) == (version, ("candidate",))
    assert "tarve.fairness_verdict" in registry.version_tags(NAME, version)
    assert registry.next_version(NAME) == str(int(version) + 1)
    directory = registry.resolve_model_uri(registry.models_uri(NAME, version))
    assert (directory / "tarve_model.json").is_file()
    assert not (in_home["cwd"] / "mlflow.db").exists()


@pytest.mark.usefixtures("fresh_mlflow", "in_home")
def test_unknown_names_raise_lookup_errors() -> None:
    with pytest.raises(registry.RegistryLookupError):
        registry.version_for_alias(NAME, "nope")
    with pytest.raises(LookupError):
        registry.list_versions("no-such-model")
    assert registry.next_version("no-such-model") == "1"


def test_tracking_uri_prefers_mlflow_tracking_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARVE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert registry.tracking_uri() == f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    assert registry.artifact_location() == (tmp_path / "home" / "mlartifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert registry.tracking_uri() == "http://mlflow:5000"


def test_models_uris_parse_into_name_version_and_alias() -> None:
    assert registry.parse_models_uri("models:/m@production") == registry.ModelReference(
        "m", alias="production"
    )
    assert registry.parse_models_uri("models:/m/3") == registry.ModelReference("m", version="3")
    assert registry.models_uri("m", 3) == "models:/m/3"
    with pytest.raises(ValueError, match="not a models:/"):
        registry.parse_models_uri("runs:/abc/model")
    assert registry.is_mlflow_uri("runs:/abc/model")
    assert registry.is_mlflow_uri("s3://bucket/model")
    assert not registry.is_mlflow_uri("/tmp/model")
    assert registry.resolve_model_uri("/tmp/model") == Path("/tmp/model")
