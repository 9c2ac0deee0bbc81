from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.schema import Schema
from training.effects.data import MSG_NO_HISTORY, read_history
from training.effects.estimate import EffectFit
from training.effects.inference import mean_interval

REFERENCE_SERVICES = ("job_search_coaching", "labour_market_training")


def _doubleml_reference(fit: EffectFit, service: str) -> tuple[float, float, float]:
    """DoubleML's IRM with its own cross-fitting and LightGBM learners on the same clients."""
    import doubleml as dml
    from lightgbm import LGBMClassifier

    history = fit.history
    rows = fit.services[service].rows
    learner: dict[str, Any] = {
        "n_estimators": 100,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_child_samples": 50,
        "verbose": -1,
        "n_jobs": 1,
    }
    data = dml.DoubleMLData.from_arrays(
        np.nan_to_num(history.matrix[rows], nan=-1.0),
        history.outcome[rows],
        fit.services[service].treated.astype(float),
    )
    model = dml.DoubleMLIRM(
        data,
        ml_g=LGBMClassifier(**learner),
        ml_m=LGBMClassifier(**learner),
        n_folds=3,
        trimming_threshold=0.005,
    )
    np.random.seed(0)
    model.fit()
    lower, upper = model.confint(level=0.95).to_numpy()[0]
    return float(model.coef[0]), float(lower), float(upper)


@pytest.mark.parametrize("service", REFERENCE_SERVICES)
def test_average_effect_agrees_with_doubleml_irm(effect_fit: EffectFit, service: str) -> None:
    ours = effect_fit.services[service].average
    reference, lower, upper = _doubleml_reference(effect_fit, service)
    assert lower <= ours.estimate <= upper
    assert ours.lower <= reference <= ours.upper


def test_doubleml_average_is_the_mean_pseudo_outcome(effect_fit: EffectFit) -> None:
    for fit in effect_fit.services.values():
        mean, lower, upper = mean_interval(fit.pseudo_outcome)
        assert np.isclose(fit.average.estimate, mean, atol=1e-9)
        # DoubleML's variance divides by n, ours by n - 1.
        assert np.isclose(fit.average.lower, lower, rtol=1e-3)
        assert np.isclose(fit.average.upper, upper, rtol=1e-3)


def test_sensitivity_bounds_contain_the_interval(effect_fit: EffectFit) -> None:
    for fit in effect_fit.services.values():
        average = fit.average
        assert average.bound_lower is not None
        assert average.bound_upper is not None
        assert average.bound_lower <= average.lower <= average.upper <= average.bound_upper
        assert average.robustness_value is not None
        assert average.robustness_value >= 0


def test_support_and_eligibility_define_the_contrast(
    effect_fit: EffectFit, effect_register: pd.DataFrame
) -> None:
    history = effect_fit.history
    for service, fit in effect_fit.services.items():
        column = history.services.index(service)
        assert history.eligible[fit.rows, column].all()
        received = effect_register["received_service"].to_numpy()[fit.rows]
        assert set(np.unique(received)) <= {service, "none"}
        assert 0 < fit.supported_share <= 1


def test_group_effects_cover_every_audit_attribute(effect_fit: EffectFit) -> None:
    fit = effect_fit.services["job_search_coaching"]
    assert {"under_30", "gender", "age_band"} <= set(fit.groups)
    for values in fit.groups.values():
        for effect in values.values():
            assert effect.lower <= effect.estimate <= effect.upper


def test_history_needs_treatment_and_outcome_columns(
    effect_register: pd.DataFrame, effect_schema: Schema
) -> None:
    schema = effect_schema.model_copy(update={"treatment_column": None})
    with pytest.raises(ValueError, match=MSG_NO_HISTORY):
        read_history(effect_register, schema)
