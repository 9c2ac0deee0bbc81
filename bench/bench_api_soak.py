"""A 60-second soak at the highest sustainable rate: zero errors and flat memory.

Starts the API (one uvicorn worker, 127.0.0.1) on a model, finds the closed-loop
capacity for one recommendation with reasons, then paces requests at a fraction of it
(``--fraction``, default 0.8: the highest rate it sustains with latency bounded) for
``--seconds`` (default 60), sampling the server's resident memory every few seconds.
Prints errors, achieved rate, latency, and RSS at start and end. Exits non-zero on any
error or when memory grows by more than ``--max-growth-mib``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_api import _tarve_server
from harness import (
    encode_bodies,
    machine_note,
    prepare_model,
    run_load,
    running,
)

from tests.support import request_bodies  # after harness: it puts the repo on sys.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model URI or directory (default: train one)")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fraction", type=float, default=0.8, help="share of capacity to send")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-growth-mib", type=float, default=20.0)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="tarve-bench-soak-"))
    print(f"tarve API soak ({machine_note()})")
    try:
        model = prepare_model(workdir, model=args.model, rows=args.rows)
        print(f"model: {model.description}")
        bodies = encode_bodies(request_bodies(model.directory, 500))
        server, headers = _tarve_server(model, workdir)
        with running(server):
            loaded_rss = server.rss_mib()
            path = "/v1/recommendations"
            warm = run_load(
                server.port, path, bodies, headers=headers, concurrency=4, duration=10,
                max_requests=2000,
            )  # fmt: skip
            capacity = run_load(
                server.port, path, bodies, headers=headers, concurrency=4, duration=10,
                max_requests=100_000,
            )  # fmt: skip
            rate = max(1.0, capacity.rate * args.fraction)
            print(
                f"resident memory with the model loaded: {loaded_rss:.1f} MiB; after warm-up "
                f"({warm.requests} requests): {server.rss_mib():.1f} MiB"
            )
            print(f"closed-loop capacity {capacity.rate:.1f} req/s; soaking at {rate:.1f} req/s")
            samples: list[tuple[float, float]] = []
            stop = threading.Event()

            def sample() -> None:
                started = time.monotonic()
                while not stop.is_set():
                    samples.append((time.monotonic() - started, server.rss_mib()))
                    stop.wait(5.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            soak = run_load(
                server.port,
                path,
                bodies,
                headers=headers,
                concurrency=args.concurrency,
                duration=args.seconds,
                max_requests=int(rate * args.seconds) + 1,
                rate=rate,
            )
            stop.set()
            sampler.join()
            end_rss = server.rss_mib()
        start_rss = samples[0][1] if samples else float("nan")
        growth = end_rss - start_rss
        print(
            f"\n{soak.requests} requests in {soak.seconds:.1f} s = {soak.rate:.1f} req/s; "
            f"errors {soak.errors} (statuses {soak.statuses})"
        )
        print(
            f"server-side latency p50 {soak.server(50):.2f} ms, p99 {soak.server(99):.2f} ms; "
            f"client p99 {soak.client(99):.2f} ms"
        )
        print("RSS samples (s, MiB): " + ", ".join(f"{t:.0f}:{m:.1f}" for t, m in samples))
        print(f"RSS at start {start_rss:.1f} MiB, at end {end_rss:.1f} MiB ({growth:+.1f} MiB)")
        print(f"machine at the end: {machine_note()}")
        ok = soak.errors == 0 and growth <= args.max_growth_mib
        print("PASS" if ok else "MISS", "zero errors and flat memory")
        return 0 if ok else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
