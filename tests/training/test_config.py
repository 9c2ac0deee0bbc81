"""Training config: embedded defaults, YAML and TOML files, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import TrainConfig, load_config


def test_defaults_without_a_file() -> None:
    config = load_config(None)
    assert config == TrainConfig()
    assert config.threshold.rule == "max_f1"
    assert config.tracking.registered_model_name == "tarve-service-need"
    assert config.tracking.alias == "candidate"


def test_yaml_and_toml_override_a_subset(tmp_path: Path) -> None:
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text("lightgbm:\n  learning_rate: 0.1\nthreshold:\n  rule: prevalence\n")
    toml_file = tmp_path / "train.toml"
    toml_file.write_text('[lightgbm]\nlearning_rate = 0.1\n[threshold]\nrule = "prevalence"\n')
    for path in (yaml_file, toml_file):
        config = load_config(path)
        assert config.lightgbm.learning_rate == 0.1
        assert config.lightgbm.num_leaves == TrainConfig().lightgbm.num_leaves
        assert config.threshold.rule == "prevalence"


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("lightgbm:\n  learning_rat: 0.1\nsplit:\n  test_fraction: 2\n")
    with pytest.raises(ValueError, match="invalid training config") as caught:
        load_config(path)
    assert "lightgbm.learning_rat" in str(caught.value)
    assert "split.test_fraction" in str(caught.value)


def test_fractions_must_leave_training_rows() -> None:
    with pytest.raises(ValueError, match="must be below 1"):
        TrainConfig().updated({"split": {"test_fraction": 0.5, "calibration_fraction": 0.5}})
