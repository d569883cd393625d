"""Start ``python -m llamacpp_server`` as a subprocess on a free port (tests and bench).

Used by ``tests/conftest.py`` and ``bench.py`` so both start the server the way users do.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
import httpx

RECIPE = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m llamacpp_server`` in a subprocess; stderr goes to a temp log file."""

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LLAMACPP_HOST": "127.0.0.1", "LLAMACPP_PORT": str(self.port),
                    # 1 thread keeps a core free for the test client on a 2-core box
                    "LLAMACPP_N_THREADS": "1", **env}
        self.log = tempfile.NamedTemporaryFile("w+", prefix="llamacpp-server-", suffix=".log", delete=False)
        self.proc: subprocess.Popen | None = None

    def start(self, wait_ready: bool = True, timeout_s: float = 180) -> ServerProcess:
        """Start ``python -m llamacpp_server``; with ``wait_ready`` block until ``/readyz`` is 200.

        Raises ``RuntimeError`` (with the server log) if it exits or is not ready in ``timeout_s`` seconds.
        """
        self.proc = subprocess.Popen([sys.executable, "-m", "llamacpp_server"], cwd=RECIPE, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait_ready:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
                try:
                    if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            raise RuntimeError(f"server not ready after {timeout_s} s:\n{self.logs()}")
        return self

    def logs(self) -> str:
        """Everything the server printed so far."""
        return Path(self.log.name).read_text(errors="replace")

    def sigterm(self) -> None:
        """Send SIGTERM (as docker stop / Kubernetes do)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> int | None:
        """SIGTERM, wait up to 60 s, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
