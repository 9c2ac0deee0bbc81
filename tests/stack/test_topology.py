"""The production topology as processes, as docker-compose.yml wires it.

PostgreSQL, the MLflow server, training and promotion over HTTP, API replicas started
with the image's own command:

- two replicas answer real HTTP requests; the audit log in PostgreSQL holds exactly one
  row per answered request; a second training is promoted while traffic flows, and both
  replicas switch to the new version with no failed request;
- three replicas started at once on a fresh audit database all become ready, and the
  migrations ran once (the advisory lock in ``service.db.upgrade_database``).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service.auth import Role, create_key
from service.db import Database
from tests.stack.conftest import StackDatabases, base_env, wait_for_mlflow
from tests.stack.image import ROOT, api_argv, env, runtime_stage
from tests.stack.processes import Service, free_port, run, start, stop_all

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TRAIN_SCRIPT = ROOT / "deploy" / "train.sh"
MODEL_NAME = "tarve-service-need"
SYNTH_ROWS = 2000
FAST_TRAINING = """\
lightgbm: {learning_rate: 0.15, num_leaves: 15, min_data_in_leaf: 30, num_boost_round: 40,
           early_stopping_rounds: 10, num_threads: 1}
calibration: {folds: 2, selection_sample: 1000}
evaluation: {baseline_sample: 1000}
tracking: {plots: false, shap_sample: 20}
progress: false
"""
OVERRIDE_REASON = "end-to-end test on a small synthetic register"
TRAIN_SECONDS = 420
READY_SECONDS = 180
SWITCH_SECONDS = 60


def write_register(path: Path, *, seed: int) -> Path:
    """Write a small synthetic register, as ``tarve synth`` does (in-process)."""
    from training.synth import generate_register

    path.parent.mkdir(parents=True, exist_ok=True)
    generate_register(SYNTH_ROWS, seed=seed).to_parquet(path, index=False)
    return path


def training_env(mlflow: Service, work: Path, **values: str) -> dict[str, str]:
    work.mkdir(parents=True, exist_ok=True)
    config = work / "fast.yaml"
    config.write_text(FAST_TRAINING, "utf-8")
    return base_env(
        MLFLOW_TRACKING_URI=mlflow.base_url,
        TARVE_HOME=str(work / "home"),
        TARVE_TRAIN_CONFIG=str(config),
        TARVE_PROMOTE_BY="tests/stack",
        **values,
    )


def background(argv: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = TRAIN_SECONDS) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{process.args!r} failed:\n{output[-6000:]}"
    return output


@pytest.fixture(scope="module")
def first_version(mlflow_starting: Service, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Version 1, trained and promoted by ``deploy/train.sh`` (the compose ``train`` job)."""
    work = tmp_path_factory.mktemp("train1")
    data = write_register(work / "register.parquet", seed=1)  # while MLflow starts
    mlflow = wait_for_mlflow(mlflow_starting)
    environment = training_env(
        mlflow, work, TARVE_TRAIN_DATA=str(data), TARVE_PROMOTE_OVERRIDE_REASON=OVERRIDE_REASON
    )
    output = finish(background(["sh", str(TRAIN_SCRIPT)], env=environment, cwd=work))
    assert f"promoted {MODEL_NAME} version 1 to 'production'" in output, output
    return "1"


def start_api(
    name: str, *, mlflow: Service, database_url: str, log_dir: Path, reload_seconds: float
) -> Service:
    """One API replica as the image runs it: its ENV, its CMD, one worker, a free port."""
    port = free_port()
    image_env = env(runtime_stage())
    image_env.pop("PATH")
    local = {
        "TARVE_HOME": str(log_dir / name),
        "UVICORN_HOST": "127.0.0.1",
        "UVICORN_PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "MLFLOW_TRACKING_URI": mlflow.base_url,
        "TARVE_DATABASE_URL": database_url,
        "TARVE_MODEL_URI": f"models:/{MODEL_NAME}@production",
        "TARVE_RELOAD_INTERVAL_SECONDS": str(reload_seconds),
    }
    environment = base_env(**{**image_env, **local})
    return start(
        name,
        api_argv(),
        env=environment,
        log_dir=log_dir,
        base_url=f"http://127.0.0.1:{port}",
        cwd=log_dir,
    )


@pytest.fixture
def started() -> Iterator[list[Service]]:
    services: list[Service] = []
    yield services
    stop_all(services)


@dataclass
class Answer:
    replica: int
    status: int
    client_ref: str
    request_id: str = ""
    version: str = ""
    error: str = ""


@dataclass
class Traffic:
    """Recommendation requests to every replica in turn, from a thread, until stopped."""

    replicas: list[Service]
    key: str
    body: dict[str, object]
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def send(self, replica: int, client: httpx.Client, number: int) -> Answer:
        client_ref = f"e2e-{replica}-{number:05d}"
        try:
            response = client.post(
                "/v1/recommendations?lang=en&top_k=3",
                json={**self.body, "client_ref": client_ref},
                headers={"Authorization": f"Bearer {self.key}"},
            )
        except httpx.HTTPError as exc:
            return Answer(replica, 0, client_ref, error=f"{type(exc).__name__}: {exc}")
        if response.status_code != 200:
            return Answer(replica, response.status_code, client_ref, error=response.text[:500])
        answer = response.json()
        return Answer(replica, 200, client_ref, answer["request_id"], answer["model"]["version"])

    def run(self) -> None:
        clients = [httpx.Client(base_url=r.base_url, timeout=30) for r in self.replicas]
        number = 0
        try:
            while not self._stop.is_set():
                for index, client in enumerate(clients):
                    self.answers.append(self.send(index, client, number))
                    number += 1
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self.run, name="e2e-traffic", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(60)

    def latest_versions(self) -> dict[int, str]:
        latest: dict[int, str] = {}
        for answer in list(self.answers):
            if answer.status == 200:
                latest[answer.replica] = answer.version
        return latest


def audit_rows(database_url: str) -> list[tuple[str, str | None, str | None]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT request_id, client_ref, model_version FROM audit_log "
                    "WHERE endpoint = 'recommendations'"
                )
            ).all()
    finally:
        engine.dispose()
    return [(row[0], row[1], row[2]) for row in rows]


def test_two_replicas_serve_audit_every_answer_and_switch_to_a_new_version(
    stack_databases: StackDatabases,
    mlflow_server: Service,
    first_version: str,
    started: list[Service],
    tmp_path: Path,
) -> None:
    database = Database(stack_databases.audit_url)
    try:
        database.upgrade()
        _, key = create_key(database, name="e2e-caseworker", role=Role.CASEWORKER)
    finally:
        database.dispose()
    # A data scientist trains the next version while the replicas start and serve.
    work = tmp_path / "train2"
    data = write_register(work / "register.parquet", seed=2)
    environment = training_env(mlflow_server, work)
    training = background(
        ["tarve", "train", "--data", str(data), "--config", str(work / "fast.yaml"), "--quiet"],
        env=environment,
        cwd=work,
    )
    for name in ("api-1", "api-2"):
        started.append(
            start_api(
                name,
                mlflow=mlflow_server,
                database_url=stack_databases.audit_url,
                log_dir=tmp_path,
                reload_seconds=1,
            )
        )
    replicas = list(started)
    for replica in replicas:
        ready = replica.wait_until("/readyz", timeout=READY_SECONDS).json()
        assert ready["model"]["version"] == first_version, ready
    document = httpx.get(replicas[0].base_url + "/openapi.json", timeout=30).json()
    operation = document["paths"]["/v1/recommendations"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["example"]

    with Traffic(replicas, key, example) as traffic:
        deadline = time.monotonic() + 60
        while len(traffic.answers) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert traffic.latest_versions() == {0: "1", 1: "1"}
        trained = finish(training)
        assert f"registered: {MODEL_NAME} version 2 (alias candidate)" in trained, trained
        promoted = run(
            [
                "tarve",
                "promote",
                "--version",
                "@candidate",
                "--by",
                "tests/stack",
                "--override-reason",
                OVERRIDE_REASON,
            ],
            env=environment,
            cwd=work,
            timeout=TRAIN_SECONDS,
        )
        assert f"promoted {MODEL_NAME} version 2 to 'production'" in promoted, promoted
        deadline = time.monotonic() + SWITCH_SECONDS
        while traffic.latest_versions() != {0: "2", 1: "2"} and time.monotonic() < deadline:
            time.sleep(0.2)
        settle = len(traffic.answers) + 6
        while len(traffic.answers) < settle and time.monotonic() < deadline:
            time.sleep(0.1)

    answers = traffic.answers
    failed = [answer for answer in answers if answer.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed, e.g. {failed[:3]}"
    for number in (0, 1):
        versions = [answer.version for answer in answers if answer.replica == number]
        assert versions[0] == "1", (number, Counter(versions))
        assert versions[-1] == "2", (number, Counter(versions))
        switch = versions.index("2")
        assert set(versions[switch:]) == {"2"}, "a replica went back to the old version"
    for replica in replicas:
        assert replica.wait_until("/readyz", timeout=10).json()["model"]["version"] == "2"

    rows = audit_rows(stack_databases.audit_url)
    counted = Counter(request_id for request_id, _, _ in rows)
    assert len(rows) == len(answers), f"{len(rows)} audit rows for {len(answers)} answers"
    assert max(counted.values()) == 1, "an answer was audited twice"
    expected = {(a.request_id, a.client_ref, a.version) for a in answers}
    assert set(rows) == expected


def test_three_replicas_started_at_once_migrate_a_fresh_database_once(
    stack_databases: StackDatabases,
    mlflow_server: Service,
    first_version: str,
    started: list[Service],
    tmp_path: Path,
) -> None:
    del first_version
    database = f"{stack_databases.audit_owner}_fresh"
    admin = sa.create_engine(stack_databases.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(
                sa.text(f'CREATE DATABASE "{database}" OWNER "{stack_databases.audit_owner}"')
            )
    finally:
        admin.dispose()
    fresh_url = stack_databases.url(database, stack_databases.audit_owner)
    for number in (1, 2, 3):
        started.append(
            start_api(
                f"fresh-{number}",
                mlflow=mlflow_server,
                database_url=fresh_url,
                log_dir=tmp_path,
                reload_seconds=60,
            )
        )
    for replica in started:
        assert replica.wait_until("/readyz", timeout=READY_SECONDS).json()["status"] == "ready"

    upgrades = {replica.name: replica.log().count("Running upgrade") for replica in started}
    migration_files = sorted((ROOT / "service" / "migrations" / "versions").glob("0*.py"))
    revisions = len(migration_files)
    assert sorted(upgrades.values()) == [0, 0, revisions], upgrades
    engine = sa.create_engine(fresh_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == [migration_files[-1].name[:4]]
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert {"api_keys", "audit_log", "feedback"} <= tables


def test_the_backup_and_restore_procedure_of_docs_deploying(
    stack_databases: StackDatabases, first_version: str, tmp_path: Path
) -> None:
    """Dump both databases and restore them into empty ones, as docs/deploying.md says.

    ``pg_dump --format=custom``, then ``pg_restore --no-owner --role=OWNER``: the
    registry, its aliases, the runs and the audit log come back whole.
    """
    del first_version
    admin = stack_databases.admin_url
    connection_env = base_env(
        PGHOST=admin.host or "127.0.0.1",
        PGPORT=str(admin.port or 5432),
        PGUSER=admin.username or "postgres",
    )
    checks = {
        "mlflow": (
            stack_databases.mlflow_url,
            "SELECT (SELECT count(*) FROM model_versions), (SELECT count(*) FROM "
            "registered_model_aliases), (SELECT count(*) FROM runs)",
        ),
        "tarve": (
            stack_databases.audit_url,
            "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM api_keys), "
            "(SELECT max(version_num) FROM alembic_version)",
        ),
    }
    for name, (url, query) in checks.items():
        source = sa.engine.make_url(url)
        dump = tmp_path / f"{name}.dump"
        run(
            ["pg_dump", "--format=custom", f"--file={dump}", f"--dbname={source.database}"],
            env=connection_env,
            timeout=120,
        )
        restored = f"{source.database}_restored"
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(
                    sa.text(f'CREATE DATABASE "{restored}" OWNER "{source.username}"')
                )
        finally:
            engine.dispose()
        run(
            [
                "pg_restore",
                "--no-owner",
                f"--role={source.username}",
                f"--dbname={restored}",
                str(dump),
            ],
            env=connection_env,
            timeout=120,
        )
        counts = []
        for database in (source.database, restored):
            engine = sa.create_engine(source.set(database=database))
            try:
                with engine.connect() as connection:
                    counts.append(tuple(connection.execute(sa.text(query)).one()))
            finally:
                engine.dispose()
        assert counts[0] == counts[1], (name, counts)
        assert counts[0][0], f"{name}: nothing to restore"
