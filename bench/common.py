"""Helpers shared by the benchmarks."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, text

from referral_api.db import make_engine


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def fresh_database(base_url: str, label: str) -> tuple[str, Callable[[], None]]:
    """A new empty database for one run, and a function that removes it.

    SQLite: a file next to the one named (replaced if there). PostgreSQL: a new
    database on the server named, dropped by the returned function.
    """
    url = make_url(base_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "bench.sqlite3")
        target = path.with_name(f"{path.stem}-{label}{path.suffix or '.sqlite3'}")
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{target}", lambda: None
    name = f"referral_bench_{label}_{os.getpid()}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def wait_until_ready(
    server: subprocess.Popen[bytes], port: int, *, name: str = "the server", timeout_s: float = 30
) -> subprocess.Popen[bytes]:
    """Poll `GET /readyz` until it answers 200; kill the server if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"{name} did not become ready")


def write_json(path: str | None, report: dict[str, Any]) -> None:
    """Write a benchmark's results where --json asked (nothing without it)."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
