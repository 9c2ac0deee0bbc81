"""``GET /v1/model/explanations``: caseworkers and auditors read the population view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.service.conftest import Api, make_settings
from tests.support.fixture_model import fit_fixture_model, random_profile
from training.explanations import population_explanations


@pytest.fixture(scope="module")
def explained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = fit_fixture_model(rows=800, trees=8, version="explained-1")
    rng = np.random.default_rng(4)
    matrix = model.encode_records([random_profile(model.schema, rng) for _ in range(100)])
    model.metadata["population_explanations"] = population_explanations(model, matrix)
    return model.save(tmp_path_factory.mktemp("explained") / "m")


def test_caseworkers_and_auditors_get_the_explanations(
    start_api: Callable[..., Api], explained_model_dir: Path, sqlite_url: str
) -> None:
    api = start_api(make_settings(explained_model_dir, sqlite_url))
    for role in ("caseworker", "auditor"):
        response = api.get("/v1/model/explanations", role=role)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"]["version"] == "explained-1"
        assert body["rows"] == 100
        assert body["unit"] == "log-odds"
        service = next(iter(body["services"].values()))
        assert service["fields"][0]["mean_abs"] >= service["fields"][-1]["mean_abs"]
        assert "share_of_mean_abs" in service["protected_attributes"]
    assert api.get("/v1/model/explanations", role="admin").status_code == 403


def test_a_model_without_them_answers_404(api: Api) -> None:
    response = api.get("/v1/model/explanations")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
