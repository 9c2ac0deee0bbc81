"""API latency and throughput, side by side with the naive path and ``mlflow models serve``.

Every server is one uvicorn worker on 127.0.0.1, started by this script, loaded from
this process over keep-alive connections:

- tarve, one recommendation with reasons for every service, and without reasons;
- the naive path (``bench/naive_server.py``): a pandas one-row frame into
  ``shap.TreeExplainer`` per request, with explainers built per request and cached;
- ``mlflow models serve`` of the same model (calibrated probabilities only).

Server-side latency comes from the ``Server-Timing`` header (sequential requests);
throughput from a closed loop of ``--concurrency`` connections for ``--seconds``.
The targets of issue 4 are checked and printed at the end (PASS/MISS: they depend on
how busy the machine is); the exit status is non-zero only when a request failed.
Without ``--model`` a model is trained first with the training package (a fixture
model when that is not usable). Usage::

    python bench/bench_api.py [--model URI|PATH] [--seconds 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    PYTHON,
    BenchModel,
    LoadResult,
    Server,
    encode_bodies,
    free_port,
    machine_note,
    prepare_model,
    run_load,
    running,
    start_server,
    uvicorn_command,
)

from tests.support import request_bodies  # after harness: it puts the repo on sys.path

TARGETS = {
    "p50_with_reasons_ms": 20.0,
    "p50_with_reasons_kernel_ms": 3.0,  # the TreeSHAP kernel issue's target
    "p99_with_reasons_ms": 60.0,
    "p50_without_reasons_ms": 3.0,
    "speedup_vs_naive_with_reasons": 5.0,
    "speedup_vs_mlflow_without_reasons": 5.0,
}


def _tarve_server(model: BenchModel, workdir: Path) -> tuple[Server, dict[str, str]]:
    from service.auth import Role, create_key
    from service.db import Database

    database_url = f"sqlite:///{workdir / 'bench-audit.db'}"
    database = Database(database_url)
    database.upgrade()
    _, key = create_key(database, name="bench", role=Role.CASEWORKER)
    database.dispose()
    port = free_port()
    env = {
        "TARVE_MODEL_URI": str(model.directory),
        "TARVE_DATABASE_URL": database_url,
        "TARVE_KEY_CACHE_SECONDS": "30",
    }
    server = start_server(
        "tarve",
        uvicorn_command("service.app:create_app", port),
        port=port,
        env=env,
        ready_path="/readyz",
        workdir=workdir,
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return server, headers


def _measure(
    server: Server,
    path: str,
    bodies: list[bytes],
    headers: dict[str, str],
    *,
    sequential: int,
    seconds: float,
    concurrency: int,
) -> tuple[LoadResult, LoadResult]:
    warm = min(50, sequential)
    run_load(
        server.port, path, bodies, headers=headers, concurrency=1, duration=60, max_requests=warm
    )
    latency = run_load(
        server.port,
        path,
        bodies,
        headers=headers,
        concurrency=1,
        duration=seconds * 3,
        max_requests=sequential,
    )
    throughput = run_load(
        server.port,
        path,
        bodies,
        headers=headers,
        concurrency=concurrency,
        duration=seconds,
        max_requests=1_000_000,
    )
    return latency, throughput


def _row(name: str, latency: LoadResult | None, throughput: LoadResult | None) -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": name}
    if latency is not None:
        row.update(
            {
                "server_p50_ms": round(latency.server(50), 3),
                "server_p99_ms": round(latency.server(99), 3),
                "client_p50_ms": round(latency.client(50), 3),
                "client_p99_ms": round(latency.client(99), 3),
                "latency_requests": latency.requests,
            }
        )
    if throughput is not None:
        row.update(
            {
                "throughput_rps": round(throughput.rate, 1),
                "throughput_requests": throughput.requests,
                "throughput_client_p50_ms": round(throughput.client(50), 2),
                "errors": throughput.errors + (latency.errors if latency else 0),
            }
        )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model URI or directory (default: train one)")
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic rows to train on")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput run length")
    parser.add_argument("--sequential", type=int, default=1000, help="latency requests")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--pyfunc-uri", help="with --model: the same model as an MLflow pyfunc")
    parser.add_argument("--tracking-uri", help="with --pyfunc-uri: its MLflow tracking URI")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="tarve-bench-api-"))
    print(f"tarve API benchmark ({machine_note()}); work dir {workdir}")
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {"machine_start": machine_note()}
    try:
        model = prepare_model(workdir, model=args.model, rows=args.rows)
        if args.pyfunc_uri:
            model.pyfunc_uri, model.tracking_uri = args.pyfunc_uri, args.tracking_uri
        print(f"model: {model.description}")
        results["model"] = model.description
        bodies = request_bodies(model.directory, 200)
        explained = encode_bodies(bodies)
        plain = encode_bodies([{**body, "explain": False} for body in bodies])
        measure = {
            "sequential": args.sequential,
            "seconds": args.seconds,
            "concurrency": args.concurrency,
        }

        server, headers = _tarve_server(model, workdir)
        with running(server):
            with_reasons = _measure(server, "/v1/recommendations", explained, headers, **measure)
            without_reasons = _measure(server, "/v1/recommendations", plain, headers, **measure)
            results["tarve_rss_mib"] = round(server.rss_mib(), 1)
        rows.append(_row("tarve, reasons for 12 services", *with_reasons))
        rows.append(_row("tarve, no reasons", *without_reasons))

        naive_rates = {}
        for mode in ("per_request", "cached"):
            port = free_port()
            naive = start_server(
                f"naive-{mode}",
                uvicorn_command("bench.naive_server:create_naive_app", port),
                port=port,
                env={"NAIVE_MODEL_DIR": str(model.directory), "NAIVE_MODE": mode},
                ready_path="/healthz",
                workdir=workdir,
            )
            json_headers = {"Content-Type": "application/json"}
            with running(naive):
                short = {**measure, "sequential": max(50, args.sequential // 10)}
                result = _measure(naive, "/v1/recommendations", explained, json_headers, **short)
            rows.append(_row(f"naive: pandas row + TreeExplainer ({mode})", *result))
            naive_rates[mode] = result[1].rate

        mlflow_rate = None
        if model.pyfunc_uri and not args.skip_mlflow:
            port = free_port()
            records = encode_bodies([{"dataframe_records": [body["profile"]]} for body in bodies])
            env = {
                "MLFLOW_TRACKING_URI": model.tracking_uri or "",
                "PATH": f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}",
            }
            command = [PYTHON, "-m", "mlflow", "models", "serve", "-m", model.pyfunc_uri]
            command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
            mlflow_server = start_server(
                "mlflow", command, port=port, env=env, ready_path="/ping", workdir=workdir
            )
            with running(mlflow_server):
                result = _measure(
                    mlflow_server,
                    "/invocations",
                    records,
                    {"Content-Type": "application/json"},
                    **measure,
                )
            rows.append(_row("mlflow models serve (probabilities)", None, result[1]))
            rows[-1]["client_p50_ms"] = round(result[0].client(50), 3)
            rows[-1]["client_p99_ms"] = round(result[0].client(99), 3)
            mlflow_rate = result[1].rate
        else:
            print("  (no pyfunc model to serve with MLflow; skipped)")

        results["rows"] = rows
        results["machine_end"] = machine_note()
        _print_table(rows)
        checks = _check(rows, naive_rates, mlflow_rate)
        results["checks"] = checks
        print(f"\nmachine at the end: {machine_note()}; tarve RSS {results['tarve_rss_mib']} MiB")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        errors = sum(int(row.get("errors", 0)) for row in rows)
        # Targets depend on the machine's load and are reported, not enforced; errors are.
        return 0 if errors == 0 else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        ("scenario", 44),
        ("server_p50_ms", 9),
        ("server_p99_ms", 9),
        ("client_p50_ms", 9),
        ("client_p99_ms", 9),
        ("throughput_rps", 9),
        ("errors", 6),
    ]
    titles = ["", "srv p50", "srv p99", "cli p50", "cli p99", "req/s", "errors"]
    print()
    print(
        " ".join(
            title.rjust(width) if i else title.ljust(width)
            for i, ((_, width), title) in enumerate(zip(columns, titles, strict=True))
        )
    )
    for row in rows:
        cells = []
        for i, (key, width) in enumerate(columns):
            value = row.get(key, "-")
            text = f"{value:.2f}" if isinstance(value, float) else str(value)
            cells.append(text.ljust(width) if i == 0 else text.rjust(width))
        print(" ".join(cells))
    print("(latency in ms; srv = Server-Timing header, sequential requests; req/s closed loop)")


def _check(
    rows: list[dict[str, Any]], naive_rates: dict[str, float], mlflow_rate: float | None
) -> list[dict[str, Any]]:
    with_reasons, without_reasons = rows[0], rows[1]
    checks = [
        (
            "p50 with reasons <= 20 ms",
            with_reasons["server_p50_ms"],
            TARGETS["p50_with_reasons_ms"],
        ),
        (
            "p50 with reasons <= 3 ms (TreeSHAP kernel)",
            with_reasons["server_p50_ms"],
            TARGETS["p50_with_reasons_kernel_ms"],
        ),
        (
            "p99 with reasons <= 60 ms",
            with_reasons["server_p99_ms"],
            TARGETS["p99_with_reasons_ms"],
        ),
        (
            "p50 without reasons <= 3 ms",
            without_reasons["server_p50_ms"],
            TARGETS["p50_without_reasons_ms"],
        ),
    ]
    result = [
        {"target": name, "value": value, "pass": value <= limit} for name, value, limit in checks
    ]
    for mode, rate in naive_rates.items():
        speedup = with_reasons["throughput_rps"] / rate if rate else float("inf")
        # The naive path builds the explainers per request; the cached variant is
        # shown for reference (its TreeSHAP is the same LightGBM code as tarve's).
        label = "" if mode == "per_request" else " (reference, not a target)"
        result.append(
            {
                "target": f">= 5x naive ({mode}) with reasons{label}",
                "value": round(speedup, 1),
                "pass": speedup >= TARGETS["speedup_vs_naive_with_reasons"],
            }
        )
    if mlflow_rate:
        speedup = without_reasons["throughput_rps"] / mlflow_rate
        result.append(
            {
                "target": ">= 5x mlflow models serve without reasons",
                "value": round(speedup, 1),
                "pass": speedup >= TARGETS["speedup_vs_mlflow_without_reasons"],
            }
        )
    print("\ntargets:")
    for check in result:
        print(f"  {'PASS' if check['pass'] else 'MISS'}  {check['target']}: {check['value']}")
    return result


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")
    sys.exit(code)
