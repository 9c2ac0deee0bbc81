"""Where tarve keeps its local state, and the names it registers models under.

Embedded defaults live under a project-local directory (``TARVE_HOME``, default
``.tarve`` in the working directory): the MLflow SQLite store and artifacts (see
:mod:`models.registry`) and the audit-log database of the service.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_REGISTERED_MODEL = "tarve-service-need"
PRODUCTION_ALIAS = "production"
CANDIDATE_ALIAS = "candidate"


def tarve_home() -> Path:
    """Return the project-local state directory (created if missing).

    Returns
    -------
    Path
        ``TARVE_HOME`` (default ``.tarve``), resolved to an absolute path.
    """
    home = Path(os.environ.get("TARVE_HOME", ".tarve")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home
