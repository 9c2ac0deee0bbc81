"""MLflow pyfunc wrapper, logged with MLflow's models-from-code (no pickled object).

`training` logs this file as the ``python_model`` and the tarve artifact directory as
the artifact ``model``; ``mlflow models serve`` then answers with calibrated
probabilities (one column per service). The tarve API loads the same directory natively.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from models.model import ServiceNeedModel, load_model


class ServiceNeedPyfunc(PythonModel):
    """Calibrated need probabilities for a frame of client profiles."""

    def load_context(self, context: Any) -> None:
        """Load the tarve artifact logged as ``model``."""
        self.model: ServiceNeedModel = load_model(context.artifacts["model"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Return calibrated probabilities, one column per service."""
        del context, params
        records = [{str(k): v for k, v in row.items()} for row in model_input.to_dict("records")]
        matrix = self.model.encode_records(records)
        probabilities = self.model.predict_matrix(matrix)
        return pd.DataFrame(probabilities, columns=self.model.services, index=model_input.index)


mlflow.models.set_model(ServiceNeedPyfunc())
