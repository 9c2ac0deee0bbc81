"""The two baselines every run is compared with, fitted in the same run on the same split.

* **Prevalence**: every client gets each service's training prevalence as the score
  (so services are ranked by how common they are; ROC AUC is 0.5).
* **Logistic regression**: L2-regularised, per service, on one-hot categories and
  standardised numbers (missing values imputed with the training median plus a
  missing-indicator column), fitted on a bounded sample of the training split so its
  cost does not grow with the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

MAX_ITERATIONS = 100


class PrevalenceBaseline:
    """Scores every client with each service's training prevalence."""

    def fit(self, labels: np.ndarray) -> PrevalenceBaseline:
        """Learn prevalences from 0/1 ``labels`` (rows x services)."""
        self.prevalence_ = np.asarray(labels, dtype=np.float64).mean(axis=0)
        return self

    def predict(self, rows: int) -> np.ndarray:
        """Scores for ``rows`` clients, shape (rows, services)."""
        return np.tile(self.prevalence_, (rows, 1))


class LogisticBaseline:
    """One regularised logistic regression per service on a linear feature design.

    Parameters
    ----------
    categorical_columns : sequence of int
        Matrix columns that hold category codes (one-hot encoded).
    c : float
        Inverse L2 strength of :class:`sklearn.linear_model.LogisticRegression`.
    """

    def __init__(self, *, categorical_columns: Sequence[int], c: float = 1.0) -> None:
        self.categorical_columns = list(categorical_columns)
        self.c = c

    def fit(self, matrix: np.ndarray, labels: np.ndarray) -> LogisticBaseline:
        """Fit on encoded features (rows x features) and 0/1 labels (rows x services)."""
        numeric = [i for i in range(matrix.shape[1]) if i not in self.categorical_columns]
        self.numeric_columns_ = numeric
        values = matrix[:, numeric]
        self.medians_ = np.nan_to_num(np.nanmedian(values, axis=0)) if numeric else np.empty(0)
        self.missing_columns_ = [j for j in range(len(numeric)) if np.isnan(values[:, j]).any()]
        self.categories_ = {
            column: np.unique(matrix[~np.isnan(matrix[:, column]), column])
            for column in self.categorical_columns
        }
        raw_design = self._raw_design(matrix)
        self.mean_ = raw_design.mean(axis=0)
        scale = raw_design.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        design = (raw_design - self.mean_) / self.scale_
        self.models_: list[LogisticRegression | float] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for column in range(labels.shape[1]):
                target = labels[:, column]
                if target.min() == target.max():
                    self.models_.append(float(target[0]))
                    continue
                # Newton-Cholesky: exact and fast when rows far outnumber columns.
                model = LogisticRegression(
                    C=self.c, solver="newton-cholesky", max_iter=MAX_ITERATIONS
                )
                model.fit(design, target)
                self.models_.append(model)
        return self

    def _raw_design(self, matrix: np.ndarray) -> np.ndarray:
        blocks: list[np.ndarray] = []
        if self.numeric_columns_:
            values = matrix[:, self.numeric_columns_]
            missing = np.isnan(values)
            blocks.append(np.where(missing, self.medians_, values))
            if self.missing_columns_:
                blocks.append(missing[:, self.missing_columns_].astype(np.float64))
        for column, categories in self.categories_.items():
            blocks.append((matrix[:, [column]] == categories[None, :]).astype(np.float64))
        return np.hstack(blocks) if blocks else np.zeros((len(matrix), 1))

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Need probabilities, shape (rows, services)."""
        design = (self._raw_design(matrix) - self.mean_) / self.scale_
        columns = [
            np.full(len(matrix), model)
            if isinstance(model, float)
            else model.predict_proba(design)[:, 1]
            for model in self.models_
        ]
        return np.column_stack(columns)
