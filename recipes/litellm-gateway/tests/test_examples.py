"""The snippets shown on the page run against the real gateway."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import MASTER
from litellm_gateway.launcher import RECIPE


def test_client_example(gateway):
    env = {**os.environ, "LITELLM_GW_URL": gateway.url, "LITELLM_GW_KEY": MASTER}
    out = subprocess.run([sys.executable, str(RECIPE / "examples" / "client.py")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    assert len(lines) >= 2, out.stdout


def test_virtual_key_example_is_valid_bash():
    out = subprocess.run(["bash", "-n", str(RECIPE / "examples" / "virtual_key.sh")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
