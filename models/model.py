"""The service-need model: one LightGBM booster per service, calibrators, thresholds.

The artifact is a directory of LightGBM text models and JSON (see :mod:`models.artifact`);
nothing in it is ever unpickled.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.artifact import MSG_FEATURES, read_artifact, save_model
from models.calibration import Calibrator
from models.effects import ServiceEffectModels, has_effects
from models.features import FeatureEncoder
from models.reasons import ReasonWriter
from models.registry import resolve_model_uri
from models.schema import Schema
from models.single_row import SingleRowPredictors
from models.tree_scores import TreeScores, scores_for
from models.treeshap import KERNEL_PATH, PredContribExplainer, TreeShapExplainer, explainer_for

MSG_MISSING_SERVICE = "no booster for service {service!r}; the model has {services}"


class ServiceNeedModel:
    """Calibrated per-service need probabilities, with exact TreeSHAP explanations.

    Parameters
    ----------
    schema : Schema
        The input schema the model was trained on.
    boosters : dict of str to lightgbm.Booster
        One binary booster per service (label name), trained on ``FeatureEncoder`` output.
    calibrators : dict of str to Calibrator
        Maps each booster's raw score to a calibrated probability.
    thresholds : dict of str to float
        Calibrated probability at or above which a service is marked "recommended".
    metadata : dict
        Name, version, training date, metrics and anything else worth keeping.
    """

    def __init__(
        self,
        *,
        schema: Schema,
        boosters: Mapping[str, lgb.Booster],
        calibrators: Mapping[str, Calibrator],
        thresholds: Mapping[str, float],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        known = [label.name for label in schema.labels]
        for service in boosters:
            if service not in known:
                raise ValueError(MSG_MISSING_SERVICE.format(service=service, services=known))
        self.schema = schema
        self.encoder = FeatureEncoder(schema)
        self.services: list[str] = [name for name in known if name in boosters]
        self.boosters = {name: boosters[name] for name in self.services}
        self.calibrators = {name: calibrators[name] for name in self.services}
        self.thresholds = {name: float(thresholds[name]) for name in self.services}
        self.metadata: dict[str, Any] = dict(metadata or {})
        # Effect models (expected benefit), when the artifact has them: models.effects.
        self.effects: ServiceEffectModels | None = None
        field_index = {name: i for i, name in enumerate(self.encoder.feature_names)}
        # One-hot (features x fields): sums feature contributions per input field.
        self._feature_to_field_matrix = np.zeros((len(field_index), len(field_index)))
        for feature, field in enumerate(self.encoder.feature_to_field):
            self._feature_to_field_matrix[feature, field_index[field]] = 1.0
        # The SHA-256 of the integrity manifest it was loaded from (None if never saved).
        self.manifest_sha256: str | None = None
        self._single_row: SingleRowPredictors | None = None
        self._single_row_failed = False
        self._single_row_lock = threading.Lock()
        self._explainer: TreeShapExplainer | PredContribExplainer | None = None
        self._explainer_lock = threading.Lock()
        self._reason_writers: dict[str, ReasonWriter] = {}
        self._scores: TreeScores | None = None
        self._scores_tried = False
        self._scores_lock = threading.Lock()

    def _one_row(self, matrix: np.ndarray) -> tuple[SingleRowPredictors, np.ndarray] | None:
        """Return the fast one-row path (:mod:`models.single_row`) for a one-row ``matrix``."""
        if matrix.shape[0] != 1 or self._single_row_failed or not self.services:
            return None
        if self._single_row is None:
            with self._single_row_lock:
                if self._single_row is None and not self._single_row_failed:
                    try:
                        boosters = [self.boosters[name] for name in self.services]
                        self._single_row = SingleRowPredictors(boosters, matrix.shape[1])
                    except Exception:  # an older LightGBM: keep the ordinary path
                        self._single_row_failed = True
        if self._single_row is None or self._single_row.num_features != matrix.shape[1]:
            return None
        return self._single_row, np.ascontiguousarray(matrix[0], dtype=np.float64)

    # -- prediction --------------------------------------------------------------------
    def raw_scores(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Raw booster scores (log-odds), shape (rows, services)."""
        fast = self._one_row(matrix)
        if fast is not None:
            predictors, row = fast
            return predictors.raw_scores(row)
        scores = self.tree_scores()
        if scores is not None and len(matrix):
            return scores.raw(matrix, num_threads=num_threads)
        params: dict[str, Any] = {"num_threads": num_threads} if num_threads else {}
        columns = [
            self.boosters[name].predict(matrix, raw_score=True, **params) for name in self.services
        ]
        return np.column_stack(columns) if columns else np.empty((len(matrix), 0))

    def tree_scores(self) -> TreeScores | None:
        """Return the need boosters' one-pass raw scores (:mod:`models.tree_scores`), built once.

        Bit-identical to ``Booster.predict(raw_score=True)`` and several times faster for
        many rows; None where the kernel cannot take the boosters (``predict`` then).
        One row keeps LightGBM's single-row path, which is faster for a single row.
        """
        if not self._scores_tried:
            with self._scores_lock:
                if not self._scores_tried:
                    self._scores = scores_for([self.boosters[name] for name in self.services])
                    self._scores_tried = True
        return self._scores

    def calibrate(self, raw_scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from raw scores, shape (rows, services)."""
        calibrated = np.empty_like(raw_scores, dtype=np.float64)
        for column, name in enumerate(self.services):
            calibrated[:, column] = self.calibrators[name].transform(raw_scores[:, column])
        return calibrated

    def predict_matrix(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Calibrated probabilities for an encoded matrix, shape (rows, services)."""
        return self.calibrate(self.raw_scores(matrix, num_threads=num_threads))

    def predict_proba(
        self, frame: pd.DataFrame, *, consents: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Calibrated need probability per service for every row of a canonical frame."""
        matrix = self.encoder.encode_frame(frame, consents=consents)
        return pd.DataFrame(self.predict_matrix(matrix), index=frame.index, columns=self.services)

    def recommended(self, probabilities: pd.DataFrame) -> pd.DataFrame:
        """Return the "recommended" decision: calibrated probability at or above the threshold."""
        thresholds = pd.Series(self.thresholds)[probabilities.columns]
        return probabilities.ge(thresholds, axis=1)

    # -- explanation -------------------------------------------------------------------
    @property
    def explainer(self) -> TreeShapExplainer | PredContribExplainer:
        """TreeSHAP for all services: tarve's kernel, or ``pred_contrib`` as the fallback.

        Built (trees read, tables precomputed, kernels compiled or loaded from numba's
        disk cache) on first use; a served model is smoke-tested at load, so that is
        before its first request. :meth:`prepare_explainer` builds it explicitly.
        """
        if self._explainer is None:
            with self._explainer_lock:
                if self._explainer is None:
                    self._explainer = explainer_for([self.boosters[s] for s in self.services])
        return self._explainer

    def prepare_explainer(self) -> dict[str, Any]:
        """Build the explainer now; returns :attr:`shap_info`."""
        return self.explainer.describe()

    @property
    def shap_path(self) -> str:
        """``"tarve-treeshap"`` (the kernel) or ``"lightgbm-pred-contrib"`` (fallback)."""
        return self.explainer.path

    @property
    def shap_info(self) -> dict[str, Any]:
        """Which TreeSHAP path is in use, with its load time and table memory."""
        return self.explainer.describe()

    def explain_matrix(
        self, matrix: np.ndarray, *, num_threads: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw scores and field contributions in one call.

        Returns
        -------
        raw_scores : ndarray, shape (rows, services)
            Bit-identical to :meth:`raw_scores` (the kernel sums the leaf values in
            LightGBM's order), so calibrated probabilities do not change.
        field_contributions, base_values
            As :meth:`contributions`.
        """
        if self.explainer.path != KERNEL_PATH:
            raw = self.raw_scores(matrix, num_threads=num_threads)
            return (raw, *self.contributions(matrix, num_threads=num_threads))
        contrib, raw = self.explainer.explain(matrix, num_threads=num_threads)
        return raw, contrib[:, :, :-1] @ self._feature_to_field_matrix, contrib[:, :, -1]

    def contributions(
        self, matrix: np.ndarray, *, num_threads: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact TreeSHAP contributions per input field, in log-odds.

        Returns
        -------
        field_contributions : ndarray, shape (rows, services, fields)
            Summed per input field (one field may feed several features).
        base_values : ndarray, shape (rows, services)
            The expected raw score; ``base + contributions.sum(-1)`` equals the raw score.
        """
        if self.explainer.path == KERNEL_PATH:
            contrib = self.explainer.contributions(matrix, num_threads=num_threads)
            return contrib[:, :, :-1] @ self._feature_to_field_matrix, contrib[:, :, -1]
        params: dict[str, Any] = {"num_threads": num_threads} if num_threads else {}
        rows, features = matrix.shape
        fields = self.encoder.feature_names
        fast = self._one_row(matrix)
        if fast is not None:
            predictors, row = fast
            contrib = predictors.contributions(row)
            return (contrib[:, :-1] @ self._feature_to_field_matrix)[np.newaxis], contrib[
                np.newaxis, :, -1
            ]
        per_field = np.zeros((rows, len(self.services), len(fields)))
        base = np.zeros((rows, len(self.services)))
        for column, name in enumerate(self.services):
            contrib = np.asarray(
                self.boosters[name].predict(matrix, pred_contrib=True, **params)
            ).reshape(rows, features + 1)
            per_field[:, column, :] = contrib[:, :-1] @ self._feature_to_field_matrix
            base[:, column] = contrib[:, -1]
        return per_field, base

    def reason_writer(self, lang: str) -> ReasonWriter:
        """Return the :class:`~models.reasons.ReasonWriter` of this model in ``lang`` (kept)."""
        writer = self._reason_writers.get(lang)
        if writer is None:
            writer = ReasonWriter(self.schema, self.encoder.fields, lang)
            self._reason_writers[lang] = writer
        return writer

    # -- records (the API path) ----------------------------------------------------------
    def encode_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        consents: Sequence[Iterable[str]] | Iterable[str] | None = None,
    ) -> np.ndarray:
        """Encode request records into the model matrix (see ``FeatureEncoder``)."""
        return self.encoder.encode_records(records, consents=consents)

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the artifact directory (LightGBM text + JSON). See :mod:`models.artifact`."""
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> ServiceNeedModel:
        """Load an artifact directory, or a ``models:/`` / ``runs:/`` MLflow URI."""
        return load_model(path)

    @property
    def name(self) -> str:
        """The registered model name kept in the metadata."""
        return str(self.metadata.get("name", "tarve-service-need"))

    @property
    def version(self) -> str | None:
        """The model version kept in the metadata, if any."""
        version = self.metadata.get("version")
        return None if version is None else str(version)


def load_model(
    path: str | Path, *, expected_manifest_sha256: str | None = None, isolate: bool = False
) -> ServiceNeedModel:
    """Load a model from an artifact directory or an MLflow URI.

    Parameters
    ----------
    path : str or Path
        A model directory, ``models:/NAME@alias``, ``models:/NAME/VERSION`` or
        ``runs:/...``; MLflow URIs are resolved through :mod:`models.registry`.
    expected_manifest_sha256 : str, optional
        The integrity manifest's SHA-256 to insist on (the registry's tag).
    isolate : bool, default False
        Parse the LightGBM files in a child process first (see
        :func:`models.artifact.read_artifact`).

    Returns
    -------
    ServiceNeedModel

    Raises
    ------
    models.artifact.ArtifactIntegrityError
        A file does not match the artifact's integrity manifest (a ``ValueError``).
    ValueError
        The stored feature names do not match the schema's model inputs.
    """
    stored = read_artifact(
        resolve_model_uri(path), expected_manifest_sha256=expected_manifest_sha256, isolate=isolate
    )
    model = ServiceNeedModel(
        schema=stored.schema,
        boosters=stored.boosters,
        calibrators=stored.calibrators,
        thresholds=stored.thresholds,
        metadata=stored.metadata,
    )
    model.manifest_sha256 = stored.manifest_sha256
    if model.encoder.feature_names != stored.feature_names:
        raise ValueError(
            MSG_FEATURES.format(
                path=stored.directory,
                stored=stored.feature_names,
                schema=model.encoder.feature_names,
            )
        )
    if has_effects(stored.directory):
        model.effects = ServiceEffectModels.load(stored.directory, stored.schema)
    return model
