"""Where tarve keeps its local state: the MLflow store and the audit-log database.

Embedded defaults live under a project-local directory (``TARVE_HOME``, default
``.tarve`` in the working directory): MLflow with a SQLite backend store and a file
artifact store. ``MLFLOW_TRACKING_URI`` points MLflow at a server instead.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_REGISTERED_MODEL = "tarve-service-need"
PRODUCTION_ALIAS = "production"
CANDIDATE_ALIAS = "candidate"


def tarve_home() -> Path:
    """The project-local state directory (created if missing)."""
    home = Path(os.environ.get("TARVE_HOME", ".tarve")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite store under :func:`tarve_home`."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{tarve_home() / 'mlflow.db'}"


def artifact_location() -> str:
    """Default artifact root for experiments created by tarve with the embedded store."""
    return (tarve_home() / "mlartifacts").as_uri()


def configure_mlflow() -> str:
    """Point the ``mlflow`` client at tarve's store and return the URI."""
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri
