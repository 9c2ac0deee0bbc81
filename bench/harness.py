"""Shared parts of the API benchmarks: a model, servers on loopback, a load generator.

Everything runs on 127.0.0.1 with bounded request counts and durations. Servers are
separate processes (uvicorn, one worker); the load generator is this process, with
one keep-alive ``http.client`` connection per thread. Server-side latency is read
from the ``Server-Timing`` header each response carries.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PYTHON = sys.executable


# -- the model --------------------------------------------------------------------------
@dataclass
class BenchModel:
    directory: Path
    description: str
    pyfunc_uri: str | None = None
    tracking_uri: str | None = None


def prepare_model(workdir: Path, *, model: str | None, rows: int) -> BenchModel:
    """Return the model to serve: ``model`` if given, else one trained now, else a fixture model.

    Training uses the training package on a synthetic register (tracking on, in a
    private MLflow store under ``workdir``), which also gives the pyfunc model that
    ``mlflow models serve`` needs. Without the training package, a fixture model of
    realistic size is fitted and logged as a pyfunc model here.
    """
    if model:
        from models.registry import resolve_model_uri

        return BenchModel(resolve_model_uri(model), f"given: {model}")
    os.environ["TARVE_HOME"] = str(workdir / "home")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        return _train_with_training_package(workdir, rows=rows)
    except Exception as exc:  # the training package is optional for this benchmark
        print(f"  (training package not usable: {type(exc).__name__}: {exc}; fixture model)")
    return _fixture_model(workdir)


def _train_with_training_package(workdir: Path, *, rows: int) -> BenchModel:
    from models.registry import tracking_uri
    from training.config import TrainConfig
    from training.pipeline import train
    from training.synth.generate import generate_register

    started = time.perf_counter()
    frame = generate_register(rows, seed=1)
    config = TrainConfig().updated(
        {"progress": False, "output_dir": str(workdir / "model"), "tracking": {"plots": False}}
    )
    result = train(frame, config=config)
    trees = sum(b.num_trees() for b in result.model.boosters.values())
    description = (
        f"trained by the training package on {rows:,} synthetic rows "
        f"({trees} trees over {len(result.model.services)} services, "
        f"{time.perf_counter() - started:.0f} s)"
    )
    return BenchModel(
        Path(result.artifact_dir), description, result.model_uri, tracking_uri=tracking_uri()
    )


def _fixture_model(workdir: Path) -> BenchModel:
    from tests.support import save_fixture_model

    directory = save_fixture_model(
        workdir / "model", rows=20_000, trees=120, leaves=15, version="bench-fixture"
    )
    description = "fixture model (tests/support/fixture_model.py): 12 x 120 trees, 15 leaves"
    bench_model = BenchModel(directory, description)
    with contextlib.suppress(Exception):
        bench_model.pyfunc_uri, bench_model.tracking_uri = _log_pyfunc(directory, workdir)
    return bench_model


def _log_pyfunc(directory: Path, workdir: Path) -> tuple[str, str]:
    import mlflow

    import models.pyfunc

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("bench", artifact_location=(workdir / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=models.pyfunc.__file__,
            artifacts={"model": str(directory)},
            registered_model_name="tarve-service-need",
        )
    return f"models:/tarve-service-need/{info.registered_model_version}", uri


# -- servers ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def rss_mib(self) -> float:
        return rss_mib(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children (MiB)."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    for one in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += float(line.split()[1]) / 1024
    return total


def start_server(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    env: dict[str, str],
    ready_path: str,
    workdir: Path,
    timeout: float = 180.0,
) -> Server:
    log = workdir / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        list(command),
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(name, process, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited; see {log}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", ready_path)
            if connection.getresponse().status == 200:
                connection.close()
                return server
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"{name} did not get ready in {timeout:.0f} s; see {log}")


def uvicorn_command(app: str, port: int, *, factory: bool = True) -> list[str]:
    command = [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--log-level", "warning", "--no-access-log"]
    return command + (["--factory"] if factory else [])


# -- load -------------------------------------------------------------------------------
@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def server(self, q: float) -> float:
        return float(np.percentile(self.server_ms, q)) if self.server_ms else float("nan")

    def client(self, q: float) -> float:
        return float(np.percentile(self.client_ms, q)) if self.client_ms else float("nan")


def _server_timing(header: str | None) -> float | None:
    if not header:
        return None
    for part in header.split(","):
        for item in part.split(";"):
            item = item.strip()
            if item.startswith("dur="):
                return float(item[4:])
    return None


def run_load(
    port: int,
    path: str,
    bodies: Sequence[bytes],
    *,
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    max_requests: int,
    rate: float | None = None,
) -> LoadResult:
    """Closed-loop load (or paced at ``rate`` req/s in total), bounded in time and count."""
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(max_requests))
    started = time.perf_counter()
    deadline = started + duration
    interval = concurrency / rate if rate else 0.0

    def worker(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        local = LoadResult()
        next_send = started + offset * (interval / concurrency if interval else 0.0)
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            with lock:
                number = next(counter, None)
            if number is None:
                break
            if interval:
                if next_send > now:
                    time.sleep(next_send - now)
                next_send += interval
            body = bodies[number % len(bodies)]
            sent = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                timing = _server_timing(response.getheader("server-timing"))
            except (OSError, http.client.HTTPException):
                status, timing = 0, None
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = (time.perf_counter() - sent) * 1000
            local.requests += 1
            local.statuses[status] = local.statuses.get(status, 0) + 1
            if status != 200:
                local.errors += 1
            local.client_ms.append(elapsed)
            if timing is not None:
                local.server_ms.append(timing)
        connection.close()
        with lock:
            result.requests += local.requests
            result.errors += local.errors
            result.client_ms += local.client_ms
            result.server_ms += local.server_ms
            for status, count in local.statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def encode_bodies(bodies: Sequence[Any]) -> list[bytes]:
    return [json.dumps(body).encode() for body in bodies]


def machine_note() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()
