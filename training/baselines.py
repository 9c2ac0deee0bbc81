"""The two baselines every run is compared with, fitted in the same run on the same split.

* **Prevalence**: every client gets each service's training prevalence as the score
  (so services are ranked by how common they are; ROC AUC is 0.5).
* **Logistic regression**: L2-regularised, per service, on one-hot categories and
  standardised numbers (missing values imputed with the training median plus a
  missing-indicator column; a scikit-learn ``Pipeline`` of a ``ColumnTransformer``
  and a ``StandardScaler``), fitted on a bounded sample of the training split so its
  cost does not grow with the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

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

    The design is a scikit-learn pipeline fitted once for all services: numbers imputed
    with the training median plus a missing-indicator column, categories one-hot
    encoded (a category unseen in training gets no column), then everything scaled to
    zero mean and unit variance.

    Parameters
    ----------
    categorical_columns : sequence of int
        Matrix columns that hold category codes (one-hot encoded).
    c : float
        Inverse L2 strength of :class:`sklearn.linear_model.LogisticRegression`.

    Attributes
    ----------
    design_ : sklearn.pipeline.Pipeline
        The fitted imputation, one-hot encoding and scaling.
    models_ : list of LogisticRegression or float
        Per service, the fitted regression, or the constant label of a one-class target.
    """

    def __init__(self, *, categorical_columns: Sequence[int], c: float = 1.0) -> None:
        self.categorical_columns = list(categorical_columns)
        self.c = c

    def _design_pipeline(self, columns: int) -> Pipeline:
        numeric = [i for i in range(columns) if i not in self.categorical_columns]
        return Pipeline(
            [
                (
                    "encode",
                    ColumnTransformer(
                        [
                            (
                                "numbers",
                                SimpleImputer(
                                    strategy="median", add_indicator=True, keep_empty_features=True
                                ),
                                numeric,
                            ),
                            (
                                "categories",
                                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                self.categorical_columns,
                            ),
                        ],
                        sparse_threshold=0.0,
                    ),
                ),
                ("scale", StandardScaler()),
            ]
        )

    def fit(self, matrix: np.ndarray, labels: np.ndarray) -> LogisticBaseline:
        """Fit on encoded features (rows x features) and 0/1 labels (rows x services).

        Parameters
        ----------
        matrix : ndarray, shape (rows, features)
            The feature encoder's matrix (NaN for missing).
        labels : ndarray, shape (rows, services)
            0/1 needs.

        Returns
        -------
        LogisticBaseline
            ``self``.
        """
        self.design_ = self._design_pipeline(matrix.shape[1])
        design = self.design_.fit_transform(matrix)
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

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Need probabilities, shape (rows, services).

        Parameters
        ----------
        matrix : ndarray, shape (rows, features)
            Encoded features.

        Returns
        -------
        ndarray
        """
        design = self.design_.transform(matrix)
        columns = [
            np.full(len(matrix), model)
            if isinstance(model, float)
            else model.predict_proba(design)[:, 1]
            for model in self.models_
        ]
        return np.column_stack(columns)
