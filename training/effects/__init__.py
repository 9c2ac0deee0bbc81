"""Effect estimates: which service helps whom, learned from the service history.

Per service, a cross-fitted DR-learner against no service (:func:`fit_effects`):
LightGBM propensity and outcome models, common-support trimming, DoubleML for the
average effects, their intervals and the omitted-variable bounds, and a LightGBM final
stage that is served by :mod:`models.effects`. :mod:`training.effects.evaluate`
measures recovery against the synthetic register's true effects; ``tarve train`` runs
:func:`train_effects` beside the need models. See ``docs/effects.md``.
"""

from training.effects.estimate import EffectFit, fit_effects
from training.effects.policy import allocate, policy_value
from training.effects.train_hook import EffectsSettings, train_effects

__all__ = [
    "EffectFit",
    "EffectsSettings",
    "allocate",
    "fit_effects",
    "policy_value",
    "train_effects",
]
