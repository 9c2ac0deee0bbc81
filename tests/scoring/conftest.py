"""Fixtures for batch scoring: a synthetic extract and a private tarve home (audit log)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

EXTRACT_ROWS = 1200
EXTRACT_SEED = 4242


@pytest.fixture(scope="session")
def extract_frame() -> pd.DataFrame:
    """Draw a fresh sample of the synthetic register (another seed than the training data)."""
    from training.synth import generate_register

    return generate_register(EXTRACT_ROWS, seed=EXTRACT_SEED)


@pytest.fixture(scope="session")
def extract_parquet(extract_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.synth import write_register

    return write_register(extract_frame, tmp_path_factory.mktemp("extract") / "caseload.parquet")


@pytest.fixture(scope="session")
def extract_csv(extract_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.synth import write_register

    return write_register(extract_frame, tmp_path_factory.mktemp("extract") / "caseload.csv")


@pytest.fixture
def tarve_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TARVE_HOME and the audit-log database in a temporary directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("TARVE_HOME", str(home))
    monkeypatch.setenv("TARVE_DATABASE_URL", f"sqlite:///{home / 'tarve.db'}")
    monkeypatch.setenv("TARVE_OPERATOR", "team-lead-1")
    return home


def audit_rows(home: Path) -> list[dict[str, object]]:
    """Read the audit log's rows, oldest first."""
    from service.db import AuditLogEntry, Database

    database = Database(f"sqlite:///{home / 'tarve.db'}")
    try:
        with database.session() as session:
            rows = session.query(AuditLogEntry).order_by(AuditLogEntry.id).all()
            return [
                {
                    "endpoint": row.endpoint,
                    "key_name": row.key_name,
                    "model_version": row.model_version,
                    "client_ref": row.client_ref,
                    "details": row.details,
                }
                for row in rows
            ]
    finally:
        database.dispose()
