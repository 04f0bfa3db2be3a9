"""The README's "first referral in five minutes" works as written."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- first-referral -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert found, "README: the first-referral block is gone"
    return found.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_first_referral_walkthrough_runs_as_written(tmp_path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # As written, but on a free port (the only change) so that it never meets another server.
    script = walkthrough().replace("referral-api demo ", f"referral-api demo --port {port} ")
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    process = subprocess.Popen(  # noqa: S603 - bash running the README's block
        ["bash", "-c", "set -eu\n" + script],  # noqa: S607
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        # The demo server, should the block have stopped before its `kill %1`.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    assert process.returncode == 0, stderr
    me, nearest, status, accepted, events = [line for line in stdout.splitlines() if line]
    assert json.loads(me)["role"] == "caseworker"
    # The caseworker sees the confidential shelter, redacted (no street, no coordinates).
    sites = [item["location"] for item in json.loads(nearest)["items"]]
    assert any(site["confidential"] and site["address"] is None for site in sites), sites
    assert status == "201", (tmp_path / "referral.json").read_text()
    assert json.loads(accepted)["status"] == "accepted"
    statuses = [event["to_status"] for event in json.loads(events)["items"]]
    assert statuses == ["requested", "accepted"]
