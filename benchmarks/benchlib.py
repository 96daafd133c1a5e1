"""Shared set-up for the benchmarks: throwaway databases, a seeded city, a served app, wrk."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = os.environ.get("QALA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }


def emit(**fields: object) -> None:
    """Print one machine-readable result line."""
    print(json.dumps({**fields, **machine()}, ensure_ascii=False), flush=True)


def fresh_database(kind: str, name: str = "qala_bench") -> str:
    """A new empty database URL of ``kind`` (sqlite or postgresql), migrated."""
    from qala.core.migrations import upgrade

    if kind == "postgresql":
        admin = create_engine(f"{PG_BASE}/test", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = f"{PG_BASE}/{name}"
    else:
        folder = Path(tempfile.mkdtemp(prefix="qala-bench-"))
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    upgrade(url)
    return url


def seed_city(url: str, slug: str = "astana") -> tuple[int, str]:
    """Seed one demo city; returns its id and a fresh API key for it."""
    from qala.core.auth import service as auth
    from qala.core.db import Database
    from qala.demo import service as demo

    database = Database.from_url(url)
    with database.session() as db:
        (city,) = demo.seed_cities(db, (slug,))
        raw, _key = auth.create_api_key(db, city.id, "bench", scopes=[], actor_id=None)
        db.commit()
        city_id = city.id
    database.engine.dispose()
    return city_id, raw


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(url: str, workers: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``qala serve`` on ``url`` in a subprocess; yields the base URL."""
    port = free_port()
    env = {**os.environ, "QALA_DATABASE_URL": url, **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "qala", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


WRK_LINE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$")


def wrk(
    url: str, *, seconds: int, connections: int, script: str, threads: int = 2
) -> dict[str, float]:
    """Run wrk with a Lua script; returns requests/s and latency percentiles in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    result = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            handle.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = {}
    for line in result.stdout.splitlines():
        match = WRK_LINE.match(line)
        if match:
            value = float(match[2]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[3]]
            figures[f"p{match[1]}_ms"] = round(value, 2)
        if line.startswith("Requests/sec:"):
            figures["requests_per_s"] = float(line.split()[1])
        if "Non-2xx" in line:
            figures["non_2xx"] = float(line.split()[-1])
    return figures
