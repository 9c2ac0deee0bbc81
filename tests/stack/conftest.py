"""Fixtures for the stack tests: PostgreSQL databases and an MLflow server.

The databases are made by the init script; the server starts with the compose file's
own command.

PostgreSQL comes from ``TARVE_TEST_POSTGRES_URL`` (CI sets it; a superuser with trust
auth on 127.0.0.1): without it the PostgreSQL tests are skipped; with it they must
pass. The databases and roles are created by ``deploy/postgres/create-databases.sh``,
the script the postgres container runs, under unique names, and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import URL, make_url

from tests.stack.image import ROOT
from tests.stack.processes import Service, free_port, start

POSTGRES_ENV = "TARVE_TEST_POSTGRES_URL"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "create-databases.sh"
COMPOSE_FILE = ROOT / "docker-compose.yml"
VENV_BIN = Path(sys.executable).parent
MLFLOW_READY_SECONDS = 180


def compose() -> dict[str, object]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def base_env(**values: str) -> dict[str, str]:
    """Return the test's environment: the venv first on PATH, MLflow quiet, ``values``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TARVE_", "MLFLOW_", "UVICORN_", "PG"))
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


@dataclass(frozen=True)
class StackDatabases:
    admin_url: URL
    mlflow_url: str
    audit_url: str
    audit_owner: str

    def url(self, database: str, user: str) -> str:
        return self.admin_url.set(database=database, username=user, password=None).render_as_string(
            hide_password=False
        )


@pytest.fixture(scope="module")
def postgres_admin_url() -> URL:
    raw = os.environ.get(POSTGRES_ENV)
    if not raw:
        pytest.skip(f"{POSTGRES_ENV} is not set (CI sets it; see .ci/run)")
    url = make_url(raw)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()
    return url


def _admin_sql(admin_url: URL, *statements: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def stack_databases(postgres_admin_url: URL) -> Iterator[StackDatabases]:
    """MLflow's and tarve's databases, each with its own owner, made by the init script."""
    psql = shutil.which("psql")
    assert psql, "psql (PostgreSQL's client) is needed to run the init script"
    prefix = f"tarve_e2e_{secrets.token_hex(4)}"
    names = {
        "MLFLOW_DB_NAME": f"{prefix}_mlflow",
        "MLFLOW_DB_USER": f"{prefix}_mlflow",
        "TARVE_DB_NAME": f"{prefix}_tarve",
        "TARVE_DB_USER": f"{prefix}_tarve",
    }
    admin = postgres_admin_url
    env = base_env(
        PGHOST=admin.host or "127.0.0.1",
        PGPORT=str(admin.port or 5432),
        POSTGRES_USER=admin.username or "postgres",
        POSTGRES_DB=admin.database or "postgres",
        MLFLOW_DB_PASSWORD=secrets.token_urlsafe(16) + "'\"$",
        TARVE_DB_PASSWORD=secrets.token_urlsafe(16) + "'\"$",
        **names,
    )
    try:
        subprocess.run(
            ["bash", str(INIT_SCRIPT)], env=env, check=True, capture_output=True, timeout=60
        )
        databases = StackDatabases(
            admin_url=admin,
            mlflow_url="",
            audit_url="",
            audit_owner=names["TARVE_DB_USER"],
        )
        yield StackDatabases(
            admin_url=admin,
            mlflow_url=databases.url(names["MLFLOW_DB_NAME"], names["MLFLOW_DB_USER"]),
            audit_url=databases.url(names["TARVE_DB_NAME"], names["TARVE_DB_USER"]),
            audit_owner=names["TARVE_DB_USER"],
        )
    finally:
        drop_databases(admin, prefix)


def drop_databases(admin_url: URL, prefix: str) -> None:
    """Drop every database and role whose name starts with ``prefix``."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            like = {"pattern": prefix + "%"}
            databases = connection.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"), like
            ).scalars()
            for name in list(databases):
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            roles = connection.execute(
                sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :pattern"), like
            ).scalars()
            for name in list(roles):
                connection.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
    finally:
        engine.dispose()


def mlflow_argv(*, port: int, backend_store_uri: str, artifacts: Path) -> list[str]:
    """Return the compose file's ``mlflow server`` command, pointed at local resources."""
    service = compose()["services"]["mlflow"]  # type: ignore[index]
    local = {
        "--host": "127.0.0.1",
        "--port": str(port),
        "--workers": "1",
        "--backend-store-uri": backend_store_uri,
        "--artifacts-destination": str(artifacts),
    }
    argv: list[str] = []
    for part in service["command"]:
        option, equals, _ = str(part).partition("=")
        argv.append(f"{option}={local[option]}" if equals and option in local else str(part))
    argv[0] = str(VENV_BIN / argv[0])
    return argv


def mlflow_environment() -> dict[str, str]:
    """Return the compose environment of ``mlflow``, less the secret it takes from .env."""
    service = compose()["services"]["mlflow"]  # type: ignore[index]
    environment = {str(key): str(value) for key, value in service["environment"].items()}
    environment.pop("PGPASSWORD")
    return environment


@pytest.fixture(scope="module")
def mlflow_starting(
    stack_databases: StackDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """``mlflow server`` on the MLflow database, artifacts proxied from a temporary root.

    Started, not yet waited for: it takes a while to create its tables, so other setup
    runs meanwhile; :func:`mlflow_server` waits.
    """
    work = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    argv = mlflow_argv(
        port=port, backend_store_uri=stack_databases.mlflow_url, artifacts=work / "artifacts"
    )
    server = start(
        "mlflow",
        argv,
        env=base_env(**mlflow_environment(), HOME=str(work)),
        log_dir=work,
        base_url=f"http://127.0.0.1:{port}",
        cwd=work,
    )
    try:
        yield server
    finally:
        server.stop()


def wait_for_mlflow(server: Service) -> Service:
    server.wait_until(
        "/api/2.0/mlflow/experiments/search?max_results=1", timeout=MLFLOW_READY_SECONDS
    )
    return server


@pytest.fixture(scope="module")
def mlflow_server(mlflow_starting: Service) -> Service:
    """Wait for the MLflow server to answer."""
    return wait_for_mlflow(mlflow_starting)
