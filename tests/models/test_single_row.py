"""The one-row fast path gives exactly what ``Booster.predict`` gives, and falls back safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models.model as model_module
from models.model import ServiceNeedModel
from tests.support.fixture_model import random_profile, save_fixture_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ServiceNeedModel:
    directory = save_fixture_model(tmp_path_factory.mktemp("single-row") / "m", rows=1500, trees=20)
    return ServiceNeedModel.load(Path(directory))


def _rows(model: ServiceNeedModel) -> list[np.ndarray]:
    rng = np.random.default_rng(4)
    rows = []
    for index in range(60):
        profile = random_profile(model.schema, rng, missing_rate=0.4)
        consents = [] if index % 3 == 0 else ["kykyviisari", "health", "language_test"]
        rows.append(model.encode_records([profile], consents=consents))
    return rows


def test_one_row_predictions_are_bit_identical(model: ServiceNeedModel) -> None:
    for matrix in _rows(model):
        raw = model.raw_scores(matrix)
        per_field, base = model.contributions(matrix)
        for column, service in enumerate(model.services):
            booster = model.boosters[service]
            expected_raw = booster.predict(matrix, raw_score=True)
            expected = booster.predict(matrix, pred_contrib=True)
            assert raw[0, column] == expected_raw[0]
            # contributions come from tarve's TreeSHAP kernel: equal within 1e-9
            np.testing.assert_allclose(per_field[0, column], expected[0, :-1], atol=1e-9, rtol=0)
            assert base[0, column] == expected[0, -1]
    assert model._single_row is not None, "the fast path was used"


def test_many_rows_take_the_ordinary_path(model: ServiceNeedModel) -> None:
    matrix = np.vstack(_rows(model)[:5])
    raw = model.raw_scores(matrix)
    singles = np.vstack([model.raw_scores(matrix[i : i + 1]) for i in range(5)])
    assert np.array_equal(raw, singles)


def test_falls_back_when_the_c_api_is_missing(
    model: ServiceNeedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*args: object, **kwargs: object) -> None:
        raise AttributeError("no SingleRowFast in this LightGBM")

    fresh = ServiceNeedModel(
        schema=model.schema,
        boosters=model.boosters,
        calibrators=model.calibrators,
        thresholds=model.thresholds,
    )
    monkeypatch.setattr(model_module, "SingleRowPredictors", unavailable)
    matrix = _rows(model)[0]
    assert np.array_equal(fresh.raw_scores(matrix), model.raw_scores(matrix))
    assert fresh._single_row is None
    assert fresh._single_row_failed
