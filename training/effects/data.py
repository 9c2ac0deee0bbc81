"""The history as arrays: features, which arm each client was in, the outcome, eligibility."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.effects import eligibility_matrix
from models.features import FeatureEncoder
from models.schema import Schema

CONTROL = "none"
"""The treatment value that means "no service"."""
MSG_NO_HISTORY = "the schema names no treatment_column and outcome_column; effect models need both"
MSG_MISSING_COLUMN = "the extract has no column {column!r} (the schema's {role})"
MSG_NO_CONTROL = "no client in {column!r} has the control value {control!r}"


@dataclass(frozen=True)
class History:
    """One register's service history, encoded.

    Attributes
    ----------
    matrix : ndarray, shape (rows, features)
        The need models' features (:class:`models.features.FeatureEncoder`).
    arm : ndarray of int, shape (rows,)
        Index into ``arms`` of what each client received (0 is the control).
    outcome : ndarray of float, shape (rows,)
        The 0/1 outcome.
    eligible : ndarray of bool, shape (rows, services)
        Eligibility per service.
    arms : list of str
        The control first, then every service that occurs in the treatment column.
    services : list of str
        The schema's services, in schema order.
    need_labels : ndarray of float, shape (rows, services)
        The recorded need label of each service (0/1; NaN where not recorded or where
        the extract has no such column).
    """

    matrix: np.ndarray
    arm: np.ndarray
    outcome: np.ndarray
    eligible: np.ndarray
    arms: list[str]
    services: list[str]
    feature_names: list[str]
    categorical_features: list[str]
    need_labels: np.ndarray

    def treated(self, service: str) -> np.ndarray:
        """Rows that received ``service``."""
        if service not in self.arms:
            return np.zeros(len(self.arm), dtype=bool)
        return np.asarray(self.arm == self.arms.index(service))

    @property
    def control(self) -> np.ndarray:
        """Rows that received no service."""
        return np.asarray(self.arm == 0)


def read_history(frame: pd.DataFrame, schema: Schema, *, control: str = CONTROL) -> History:
    """Encode a canonical register frame for effect estimation.

    Raises
    ------
    ValueError
        The schema names no treatment or outcome column, the frame lacks one, or no
        client received the control.
    """
    if schema.treatment_column is None or schema.outcome_column is None:
        raise ValueError(MSG_NO_HISTORY)
    for column, role in (
        (schema.treatment_column, "treatment_column"),
        (schema.outcome_column, "outcome_column"),
    ):
        if column not in frame.columns:
            raise ValueError(MSG_MISSING_COLUMN.format(column=column, role=role))
    encoder = FeatureEncoder(schema)
    services = [label.name for label in schema.labels]
    treatment = frame[schema.treatment_column].astype(object).to_numpy()
    if not np.any(treatment == control):
        raise ValueError(MSG_NO_CONTROL.format(column=schema.treatment_column, control=control))
    present = set(treatment[pd.notna(treatment)].tolist())
    arms = [control, *(s for s in services if s in present)]
    lookup = {name: code for code, name in enumerate(arms)}
    arm = np.array([lookup.get(value, -1) for value in treatment], dtype=np.int64)
    outcome = pd.to_numeric(frame[schema.outcome_column].astype("Float64")).to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return History(
        matrix=encoder.encode_frame(frame),
        arm=arm,
        outcome=outcome,
        eligible=eligibility_matrix(schema, frame, services),
        arms=arms,
        services=services,
        feature_names=encoder.feature_names,
        categorical_features=encoder.categorical_features,
        need_labels=_need_labels(frame, schema),
    )


def _need_labels(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    columns = [
        pd.to_numeric(frame[label.column].astype("Float64")).to_numpy(np.float64, na_value=np.nan)
        if label.column in frame.columns
        else np.full(len(frame), np.nan)
        for label in schema.labels
    ]
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))
