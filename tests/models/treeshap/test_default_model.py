"""On a model trained by tarve's own pipeline (default schema, 12 services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.model import ServiceNeedModel
from models.recommend import recommend
from models.treeshap import KERNEL_PATH, PRED_CONTRIB_PATH, PredContribExplainer
from tests.support.training_runs import fast_train_config

TOLERANCE = 1e-9
SCORED_ROWS = 10_000


@pytest.fixture(scope="module")
def default_like_model(tmp_path_factory: pytest.TempPathFactory) -> ServiceNeedModel:
    """Train with the default booster settings (31 leaves, min 100 rows a leaf), fewer rounds."""
    from training.pipeline import train
    from training.synth import generate_register

    register = generate_register(6000, seed=11)
    config = fast_train_config(
        output_dir=str(tmp_path_factory.mktemp("default_like") / "model"),
        lightgbm={
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_data_in_leaf": 100,
            "num_boost_round": 80,
            "early_stopping_rounds": 20,
        },
    )
    result = train(register, config=config)
    return ServiceNeedModel.load(Path(result.artifact_dir))


@pytest.fixture(scope="module")
def scored(default_like_model: ServiceNeedModel) -> tuple[list[dict[str, Any]], np.ndarray]:
    from training.synth import generate_register

    frame = generate_register(SCORED_ROWS, seed=12)
    matrix = default_like_model.encoder.encode_frame(frame)
    records: list[dict[str, Any]] = [
        {str(key): value for key, value in record.items()}
        for record in frame.head(100).to_dict(orient="records")
    ]
    return records, matrix


def test_all_services_equal_pred_contrib(
    default_like_model: ServiceNeedModel, scored: tuple[list[dict[str, Any]], np.ndarray]
) -> None:
    model, (_, matrix) = default_like_model, scored
    assert len(model.services) == 12
    assert matrix.shape[0] == SCORED_ROWS
    assert model.shap_path == KERNEL_PATH
    contributions, raw = model.explainer.explain(matrix)
    for column, service in enumerate(model.services):
        booster = model.boosters[service]
        expected = np.asarray(booster.predict(matrix, pred_contrib=True))
        np.testing.assert_allclose(contributions[:, column], expected, rtol=0, atol=TOLERANCE)
        expected_raw = booster.predict(matrix, raw_score=True)
        np.testing.assert_array_equal(raw[:, column], expected_raw)
        np.testing.assert_allclose(
            contributions[:, column].sum(axis=1), expected_raw, rtol=0, atol=TOLERANCE
        )


def test_recommend_probabilities_unchanged(
    default_like_model: ServiceNeedModel, scored: tuple[list[dict[str, Any]], np.ndarray]
) -> None:
    model, (records, _) = default_like_model, scored
    explained = recommend(model, records, lang="en", explain=True)
    plain = recommend(model, records, lang="en", explain=False)
    one_by_one = [recommend(model, [record], lang="en")[0] for record in records[:20]]
    for with_reasons, without, single in zip(
        explained, plain, one_by_one + [None] * 80, strict=True
    ):
        by_service = {s.service: s for s in without}
        for suggestion in with_reasons:
            reference = by_service[suggestion.service]
            assert suggestion.probability == reference.probability  # bit for bit
            assert suggestion.raw_score == reference.raw_score
            assert suggestion.base_value is not None
            total = suggestion.base_value + sum(
                reason.contribution for reason in suggestion.reasons
            )
            assert np.isfinite(total)
        if single is not None:
            assert [s.probability for s in single] == [s.probability for s in with_reasons]


def test_field_contributions_match_the_fallback(
    default_like_model: ServiceNeedModel, scored: tuple[list[dict[str, Any]], np.ndarray]
) -> None:
    model, (_, matrix) = default_like_model, scored
    rows = matrix[:500]
    raw, per_field, base = model.explain_matrix(rows)
    fallback = ServiceNeedModel(
        schema=model.schema,
        boosters=model.boosters,
        calibrators=model.calibrators,
        thresholds=model.thresholds,
        metadata=model.metadata,
    )
    fallback._explainer = PredContribExplainer([model.boosters[s] for s in model.services])
    assert fallback.shap_path == PRED_CONTRIB_PATH
    raw_ref, per_field_ref, base_ref = fallback.explain_matrix(rows)
    np.testing.assert_array_equal(raw, raw_ref)
    np.testing.assert_allclose(per_field, per_field_ref, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(base, base_ref, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(
        base + per_field.sum(axis=-1), model.raw_scores(rows), rtol=0, atol=TOLERANCE
    )
    one_field, one_base = model.contributions(rows[:1])
    np.testing.assert_allclose(one_field, per_field_ref[:1], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(one_base, base_ref[:1], rtol=0, atol=TOLERANCE)
