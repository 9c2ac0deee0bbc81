"""A register that is not the Finnish one: draft, validate, train, serve and audit it.

A small census-like extract (English only, "?" for missing values, a predefined split
column, three 0/1 labels) goes through the commands a data scientist would run, with
no code change: ``tarve schema draft`` writes the schema, a few edits a person would
make (the split, a protected attribute and its audit group), ``tarve validate``,
``tarve train``, the API (``lang=en`` served, ``fi`` refused) and ``tarve audit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

LABELS = ("needs_training", "needs_placement", "needs_counselling")


def census_extract(rows: int, *, seed: int) -> pd.DataFrame:
    """Census-like rows as text, "?" where a value is unknown; ``sample`` is the split."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 80, rows)
    workclass = rng.choice([" Private", " Self-emp", " Gov"], rows, p=[0.7, 0.15, 0.15])
    education_num = rng.integers(1, 17, rows)
    hours = rng.integers(5, 70, rows)
    sex = rng.choice([" Female", " Male"], rows)
    capital_gain = rng.exponential(500, rows).round(2)

    def draw(logit: np.ndarray) -> np.ndarray:
        return (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            "person": [f"P{i:05d}" for i in range(rows)],
            "age": age.astype(str),
            "workclass": workclass,
            "education_num": education_num.astype(str),
            "hours_per_week": hours.astype(str),
            "capital_gain": capital_gain.astype(str),
            "sex": sex,
            "sample": np.where(rng.random(rows) < 0.25, "test", "train"),
            "needs_training": draw(1.5 - 0.25 * education_num),
            "needs_placement": draw(-1.0 + 0.04 * (hours - 40) + 1.0 * (workclass == " Gov")),
            "needs_counselling": draw(-2.0 + 0.04 * (age - 17)),
        }
    )
    for column in ("workclass", "hours_per_week"):
        frame.loc[rng.random(rows) < 0.08, column] = "?"
    return frame


def _edit_draft(path: Path) -> None:
    """Make the edits a person makes to the draft: split, protected attribute, audit group."""
    raw = yaml.safe_load(path.read_text("utf-8"))
    for field in raw["fields"]:
        field["label"] = {"en": field["name"].replace("_", " ").capitalize()}
        if field["name"] == "sample":
            field["model_input"] = False
        if field["name"] == "sex":
            field["protected"] = True
            field["model_input"] = False
    raw["split"] = {"column": "sample", "train": ["train"], "test": ["test"]}
    raw["audit_groups"] = [{"name": "sex", "field": "sex", "label": {"en": "Sex"}}]
    raw["description"] = {
        "population": {"en": "Adults in a public census sample."},
        "label_meaning": {"en": "A need an adviser recorded."},
        "intended_use": {"en": "Testing tarve on a register of another country."},
    }
    path.write_text(yaml.safe_dump(raw, sort_keys=False), "utf-8")


@pytest.fixture
def trained(
    tmp_path: Path, mlflow_tracking: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """Draft, edit, validate and train; return the paths."""
    from tarve.cli import main

    data = tmp_path / "census.csv"
    census_extract(3000, seed=3).to_csv(data, index=False)
    schema = tmp_path / "census.yaml"
    draft = ["schema", "draft", "--data", str(data), "--id", "person", "--out", str(schema)]
    for label in LABELS:
        draft += ["--label", label]
    assert main(draft) == 0
    assert main(["validate", "--data", str(data), "--schema", str(schema)]) == 0
    _edit_draft(schema)
    assert main(["validate", "--data", str(data), "--schema", str(schema)]) == 0
    config = tmp_path / "train.toml"
    config.write_text(
        "progress = false\n"
        "[lightgbm]\nnum_boost_round = 60\nlearning_rate = 0.15\nnum_threads = 1\n"
        "min_data_in_leaf = 30\n[tracking]\nshap_sample = 40\n"
    )
    out = tmp_path / "artifact"
    train = ["train", "--data", str(data), "--schema", str(schema), "--config", str(config)]
    assert main([*train, "--name", "census", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    return {"data": data, "schema": schema, "out": out, "tmp": tmp_path}


def test_the_draft_loads_and_the_extract_validates_against_it(tmp_path: Path) -> None:
    from models.extract.validation import read_extract, validate_frame
    from models.schema import load_schema
    from tarve.cli import main

    data = tmp_path / "census.csv"
    census_extract(400, seed=1).to_csv(data, index=False)
    out = tmp_path / "draft.yaml"
    args = ["schema", "draft", "--data", str(data), "--label", "needs_training", "--out", str(out)]
    assert main(args) == 0
    schema = load_schema(out)
    assert schema.languages == ["en"]
    assert schema.missing_values == ["?"]
    kinds = {spec.name: spec.type for spec in schema.fields}
    assert kinds["age"] == "integer"
    assert kinds["capital_gain"] == "number"
    assert kinds["workclass"] == "category"
    assert schema.field_by_name["hours_per_week"].nullable
    assert schema.field_by_name["workclass"].categories == [" Gov", " Private", " Self-emp"]
    assert schema.field_by_name["age"].label.get("en") == "TODO age"
    assert validate_frame(read_extract(data), schema).ok


def test_a_foreign_register_trains_serves_and_audits(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from models.model import ServiceNeedModel
    from service.app import create_app
    from service.auth import Role, create_key
    from service.settings import Settings
    from tarve.cli import main

    model = ServiceNeedModel.load("models:/census@candidate")
    assert model.services == list(LABELS)
    assert "sex" not in model.encoder.feature_names
    assert "sample" not in model.encoder.feature_names
    evaluation = (trained["out"] / "evaluation.md").read_text("utf-8")
    assert "column(sample)" in evaluation
    card = (trained["out"] / "model_card.md").read_text("utf-8")
    assert "Adults in a public census sample." in card
    assert "caseworkers of public employment services" not in card

    settings = Settings(
        model_uri=str(trained["out"]),
        database_url=f"sqlite:///{trained['tmp'] / 'api.db'}",
        key_cache_seconds=0,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        _, token = create_key(app.state.database, name="census-caseworker", role=Role.CASEWORKER)
        headers = {"Authorization": f"Bearer {token}"}
        profile = {
            "age": 45,
            "workclass": " Private",
            "education_num": 9,
            "hours_per_week": None,
            "capital_gain": 0.0,
        }
        body = {"client_ref": "census-1", "profile": profile}
        answer = client.post("/v1/recommendations", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["lang"] == "en"  # the schema's only language, not the default fi
        assert {item["service"] for item in answer.json()["suggestions"]} == set(LABELS)
        refused = client.post("/v1/recommendations?lang=fi", json=body, headers=headers)
        assert refused.status_code == 422
        openapi = client.get("/openapi.json").json()
        lang = openapi["components"]["schemas"]["RecommendationRequest"]["properties"]["lang"]
        allowed = lang["anyOf"][0]
        assert allowed.get("enum", [allowed.get("const")]) == ["en"]  # one value: a const

    capsys.readouterr()
    audit = ["audit", "--model", str(trained["out"]), "--data", str(trained["data"])]
    audit += ["--out", str(trained["tmp"] / "audit")]
    assert main(audit) in (0, 1)
    printed = capsys.readouterr().out
    assert "verdict" in printed.lower()
