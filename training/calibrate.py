"""Calibrate each service's raw scores and choose its "recommended" threshold.

The calibrator kind (isotonic, Platt, or none) is chosen *honestly*: by cross-fitting
on the calibration split. Each candidate is fitted on all folds but one and scored by
log loss on the fold left out; the kind with the lowest out-of-fold log loss is then
refitted on the whole calibration split. "none" (the booster's own sigmoid) is a
candidate by default, so calibration never makes the cross-fitted log loss worse.
Thresholds follow the config's rule on the calibrated probabilities of the
calibration split. The test split is never used here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import StratifiedKFold

from models.calibration import Calibrator, IdentityCalibrator, fit_isotonic, fit_platt
from training.config import CalibrationConfig, ThresholdConfig
from training.split import sample_positions

MSG_UNKNOWN_METHOD = "unknown calibration method {method!r}"
PROBABILITY_CLIP = 1e-6


@dataclass(frozen=True)
class CalibrationChoice:
    """One service's chosen calibrator and the cross-fitted evidence for it."""

    calibrator: Calibrator
    method: str
    crossfit_logloss: dict[str, float]
    threshold: float


def _fit_identity(raw_score: np.ndarray, label: np.ndarray) -> Calibrator:
    del raw_score, label
    return IdentityCalibrator()


FITTERS: dict[str, Callable[[np.ndarray, np.ndarray], Calibrator]] = {
    "isotonic": fit_isotonic,
    "platt": fit_platt,
    "none": _fit_identity,
}


def clipped_log_loss(label: np.ndarray, probability: np.ndarray) -> float:
    """Binary log loss with probabilities clipped to ``[1e-6, 1 - 1e-6]``."""
    clipped = np.clip(
        np.asarray(probability, dtype=np.float64), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP
    )
    positive = np.asarray(label) == 1
    return float(-np.mean(np.where(positive, np.log(clipped), np.log1p(-clipped))))


def crossfit_log_loss(
    raw_score: np.ndarray, label: np.ndarray, *, method: str, folds: int, seed: int
) -> float:
    """Out-of-fold log loss of a calibration ``method`` on one service's raw scores.

    Parameters
    ----------
    raw_score : ndarray
        Booster raw scores (log-odds) on the calibration split.
    label : ndarray
        0/1 labels of the same rows.
    method : {"isotonic", "platt", "none"}
        The calibrator kind.
    folds : int
        Number of folds (stratified by label).
    seed : int
        Fold assignment seed.
    """
    if method not in FITTERS:
        raise ValueError(MSG_UNKNOWN_METHOD.format(method=method))
    fold_of_row = _stratified_folds(label, folds=folds, seed=seed)
    out_of_fold = np.empty(len(label), dtype=np.float64)
    for fold in range(folds):
        held = fold_of_row == fold
        calibrator = FITTERS[method](raw_score[~held], label[~held])
        out_of_fold[held] = calibrator.transform(raw_score[held])
    return clipped_log_loss(label, out_of_fold)


def _stratified_folds(label: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """Assign each row a fold (0 .. folds - 1) with scikit-learn's ``StratifiedKFold``."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_of_row = np.empty(len(label), dtype=np.int64)
    with warnings.catch_warnings():
        # A class with fewer rows than folds leaves some folds without it; that is fine.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, held) in enumerate(splitter.split(np.zeros(len(label)), label)):
            fold_of_row[held] = fold
    return fold_of_row


def choose_threshold(
    probability: np.ndarray, label: np.ndarray, *, config: ThresholdConfig
) -> float:
    """Choose the "recommended" threshold for one service by the configured rule.

    Parameters
    ----------
    probability : ndarray
        Calibrated probabilities on the calibration split.
    label : ndarray
        0/1 labels of the same rows.
    config : ThresholdConfig
        ``max_f1``, ``fixed``, ``min_precision`` (with ``value``) or ``prevalence``.
    """
    if config.rule == "fixed":
        assert config.value is not None
        return float(config.value)
    if config.rule == "prevalence":
        positives = int(label.sum())
        if positives == 0:
            return 1.0
        return float(np.sort(probability)[::-1][positives - 1])
    precision, recall, thresholds = precision_recall_curve(label, probability)
    precision, recall = precision[:-1], recall[:-1]
    if thresholds.size == 0:
        return 1.0
    if config.rule == "min_precision":
        assert config.value is not None
        meets = np.flatnonzero(precision >= config.value)
        return float(thresholds[meets[0]]) if meets.size else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(thresholds[int(np.argmax(f1))])


def calibrate_services(
    raw_scores: np.ndarray,
    labels: np.ndarray,
    *,
    services: Sequence[str],
    calibration_config: CalibrationConfig,
    threshold_config: ThresholdConfig,
) -> dict[str, CalibrationChoice]:
    """Choose, fit and threshold a calibrator per service on the calibration split.

    Parameters
    ----------
    raw_scores : ndarray, shape (rows, services)
        Booster raw scores on the calibration split.
    labels : ndarray, shape (rows, services)
        0/1 labels of the same rows.
    services : sequence of str
        Service names, in column order.
    calibration_config, threshold_config
        Candidate methods and folds; the threshold rule.

    Returns
    -------
    dict of str to CalibrationChoice
    """
    choices: dict[str, CalibrationChoice] = {}
    selection = sample_positions(
        np.arange(len(raw_scores)), calibration_config.selection_sample, calibration_config.seed
    )
    for column, service in enumerate(services):
        raw = raw_scores[:, column]
        label = labels[:, column].astype(np.int64)
        losses: dict[str, float] = {
            method: crossfit_log_loss(
                raw[selection],
                label[selection],
                method=method,
                folds=calibration_config.folds,
                seed=calibration_config.seed + column,
            )
            for method in calibration_config.methods
        }
        method = min(losses, key=lambda name: losses[name])
        calibrator = FITTERS[method](raw, label)
        threshold = choose_threshold(calibrator.transform(raw), label, config=threshold_config)
        choices[service] = CalibrationChoice(
            calibrator=calibrator, method=method, crossfit_logloss=losses, threshold=threshold
        )
    return choices
