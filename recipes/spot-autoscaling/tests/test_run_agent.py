"""examples/run_agent.sh, as the page shows it, around the real onnx-embeddings server: it prints the budget,
serves, and on an interruption notice from the emulator drains the server and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from spot_autoscaling.chaos import ensure_onnx_model, free_port, missing_parts, replica_recipe

from .conftest import RECIPE_DIR

WHY = missing_parts()


@pytest.mark.skipif(WHY is not None, reason=f"needs the replica recipe and haproxy: {WHY}")
def test_run_agent_sh_drains_the_real_server_on_notice(emulator, tmp_path):
    port = free_port()
    r = replica_recipe()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOT_", "ONNX_EMB_"))}
    env.update({"PATH": f"{Path(sys.executable).parent}:{env['PATH']}", "PYTHONPATH": str(RECIPE_DIR),
                "SPOT_AWS_IMDS_URL": emulator.url, "SPOT_POLL_INTERVAL_S": "0.2", "SPOT_LB_CHECK_INTERVAL_S": "0.5",
                "SPOT_DRAIN_DELAY_S": "0.5", "SPOT_DRAIN_TIMEOUT_S": "2", "SPOT_MARGIN_S": "0.5",
                "ONNX_EMB_PORT": str(port), "ONNX_EMB_ONNX_DIR": str(ensure_onnx_model()),
                "ONNX_EMB_EXPORT_ON_START": "false", "ONNX_EMB_INTRA_OP_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    log = tmp_path / "agent.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(["bash", str(RECIPE_DIR / "examples/run_agent.sh"),
                                 str(r / ".venv/bin/python"), "-m", "onnx_embeddings"],
                                cwd=r, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        t0 = time.monotonic()
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() - t0 < 60, "server did not become ready: " + log.read_text()[-3000:]
            time.sleep(0.2)
        out = httpx.post(f"http://127.0.0.1:{port}/v1/embeddings",
                         json={"model": "all-MiniLM-L6-v2", "input": "spot"}, timeout=10).json()
        assert len(out["data"][0]["embedding"]) == 384
        emulator.aws_interrupt(120)
        assert proc.wait(timeout=20) == 0
        text = log.read_text()
        assert "timing budget (aws" in text and "notice: aws interruption" in text and "drained in" in text
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
