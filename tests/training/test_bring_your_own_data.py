"""Bring your own data: another schema and extract, trained with no code change.

The schema here shares nothing with the Finnish register: an adult-education
provider's course register with five fields, three outcome labels under other names,
no date column, no oracle and one audit group of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.model import ServiceNeedModel

SCHEMA_YAML = """
name: adult-education-courses
version: 3
id_column: learner_id
fields:
  - name: years_of_schooling
    type: number
    min: 0
    max: 25
    label: {fi: Koulutusvuodet, sv: Utbildningsår, en: Years of schooling}
  - name: district
    type: category
    categories: [north, south, east, west]
    category_labels:
      north: {fi: pohjoinen, sv: norr, en: north}
      south: {fi: etelä, sv: söder, en: south}
      east: {fi: itä, sv: öster, en: east}
      west: {fi: länsi, sv: väster, en: west}
    label: {fi: Alue, sv: Område, en: District}
  - name: weekly_hours_free
    type: integer
    min: 0
    max: 60
    nullable: true
    label: {fi: Vapaat tunnit, sv: Fria timmar, en: Free hours a week}
  - name: has_computer
    type: boolean
    label: {fi: Tietokone, sv: Dator, en: Has a computer}
  - name: sex
    type: category
    categories: [f, m]
    protected: true
    model_input: false
    label: {fi: Sukupuoli, sv: Kön, en: Sex}
labels:
  - name: it_basics
    column: outcome_it
    label: {fi: Tietotekniikan perusteet, sv: IT-grunder, en: IT basics}
  - name: finnish_course
    column: outcome_language
    label: {fi: Suomen kurssi, sv: Finskakurs, en: Finnish course}
  - name: study_skills
    column: outcome_study
    label: {fi: Opiskelutaidot, sv: Studieteknik, en: Study skills}
audit_groups:
  - name: sex
    field: sex
    label: {fi: Sukupuoli, sv: Kön, en: Sex}
"""


def _extract(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    schooling = rng.uniform(6, 20, rows).round(1)
    district = rng.choice(["north", "south", "east", "west"], rows)
    hours = rng.integers(0, 40, rows).astype(float)
    hours[rng.random(rows) < 0.1] = np.nan
    computer = rng.random(rows) < 0.7
    sex = rng.choice(["f", "m"], rows)

    def draw(logit: np.ndarray) -> np.ndarray:
        return (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            "learner_id": [f"L{i:05d}" for i in range(rows)],
            "years_of_schooling": schooling,
            "district": district,
            "weekly_hours_free": hours,
            "has_computer": computer,
            "sex": sex,
            "outcome_it": draw(1.5 - 3.0 * computer + 0.05 * np.nan_to_num(hours)),
            "outcome_language": draw(-1.0 + 1.8 * (district == "east") - 0.1 * (schooling - 12)),
            "outcome_study": draw(-2.0 + 0.25 * np.maximum(12 - schooling, 0) * 2),
        }
    )
    return frame


def test_train_a_different_schema_end_to_end_through_the_cli(
    tmp_path: Path, mlflow_tracking: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tarve.cli import main

    schema_path = tmp_path / "courses.yaml"
    schema_path.write_text(SCHEMA_YAML)
    data_path = tmp_path / "courses.csv"
    _extract(3000, seed=4).to_csv(data_path, index=False)
    config_path = tmp_path / "train.toml"
    config_path.write_text(
        "progress = false\n"
        "[lightgbm]\nnum_boost_round = 80\nlearning_rate = 0.15\nnum_threads = 1\n"
        "min_data_in_leaf = 30\n"
        "[tracking]\nshap_sample = 40\n"
    )
    out = tmp_path / "artifact"
    args = ["train", "--data", str(data_path), "--schema", str(schema_path)]
    args += ["--config", str(config_path), "--name", "courses", "--out", str(out), "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "registered: courses version 1" in printed

    model = ServiceNeedModel.load("models:/courses@candidate")
    assert model.services == ["it_basics", "finnish_course", "study_skills"]
    assert model.schema.name == "adult-education-courses"
    assert model.encoder.feature_names == [
        "years_of_schooling",
        "district",
        "weekly_hours_free",
        "has_computer",
    ]
    fresh = _extract(400, seed=9)
    frame = fresh.assign(has_computer=fresh["has_computer"].astype("boolean"))
    probabilities = model.predict_proba(frame)
    from sklearn.metrics import roc_auc_score

    for service, column in zip(model.services, model.schema.label_columns, strict=True):
        assert roc_auc_score(fresh[column], probabilities[service]) > 0.65, service
    assert (out / "fairness_audit.json").is_file()
    assert "No fairness audit" not in (out / "model_card.md").read_text("utf-8")
    assert "random" in (out / "evaluation.md").read_text("utf-8")


def test_a_schema_without_audit_groups_trains_without_an_audit(tmp_path: Path) -> None:
    import yaml

    from models.schema import schema_from_dict
    from tests.support import fast_train_config
    from training.pipeline import train

    raw = yaml.safe_load(SCHEMA_YAML)
    raw["audit_groups"] = []
    schema = schema_from_dict(raw)
    result = train(
        _extract(1500, seed=5),
        schema=schema,
        config=fast_train_config(output_dir=str(tmp_path / "model")),
    )
    assert result.fairness is None
    assert not (tmp_path / "model" / "fairness_audit.json").exists()
    assert result.report["targets"] is None
    assert result.report["systems"] == ["model", "logistic", "prevalence"]
