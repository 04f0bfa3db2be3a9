"""A client generated from the committed openapi.yaml with openapi-python-client runs a
short referral scenario against a live demo, and mypy --strict finds nothing to say
about the scenario's use of it (every field it reads is typed, none "maybe unset")."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = Path(__file__).resolve().parent / "generated_client" / "scenario.py"


def _run(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tools on our own files
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def demo(tmp_path):
    """`referral-api demo` on a free port in tmp_path: (base URL, the tokens it printed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    out = (tmp_path / "demo.txt").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "referral_api.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=out,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("referral-api demo did not become ready")
                time.sleep(0.3)
        lines = (tmp_path / "demo.txt").read_text().splitlines()
        yield base, {line.split()[0]: line for line in lines if " rk_" in line}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close()


def test_generated_client_runs_a_referral_scenario_and_type_checks(tmp_path, demo) -> None:
    generated = _run(
        "openapi_python_client",
        "generate",
        "--path",
        str(ROOT / "openapi.yaml"),
        "--meta",
        "none",
        "--output-path",
        str(tmp_path / "referral_client"),
        cwd=tmp_path,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    shutil.copy(SCENARIO, tmp_path / "scenario.py")

    base, tokens = demo
    receiver = tokens["org_admin"].split("organization ", 1)[1].split()[0]
    ran = _run(
        "scenario",
        base,
        tokens["caseworker"].split()[-1],
        tokens["org_admin"].split()[-1],
        receiver,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("accepted v2 basis=guardian_consent"), ran.stdout
    # The caseworker's token reached the public /services/nearest: confidential sites.
    assert "confidential_sites=0" not in ran.stdout

    checked = _run(
        "mypy",
        "--strict",
        "--follow-imports=silent",
        "--no-incremental",
        "scenario.py",
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout
