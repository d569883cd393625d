"""Start ``python -m onnx_embeddings`` as a subprocess on a free port: the one launcher of tests and bench.

    with ServerProcess(ONNX_EMB_MAX_QUEUE="8") as srv:     # starts, waits for /readyz 200
        httpx.post(srv.url + "/v1/embeddings", json={"input": "hi"})
                                                          # leaving the block: SIGTERM, wait, exit status

The server is started the way ``make serve`` starts it (same module, the running interpreter, the recipe
folder as working directory), bound to 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

RECIPE = Path(__file__).resolve().parent.parent
"""The recipe folder (the server's working directory)."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerExited(RuntimeError):
    """The server process ended before it became ready (its log is in the message tail)."""


class ServerProcess:
    """``python -m onnx_embeddings`` in a subprocess on 127.0.0.1 and a free port.

    ``env``: extra ``ONNX_EMB_*`` (or other) variables on top of ``os.environ``. Output (stdout + stderr) goes
    to ``log`` (``log_path``, or a temporary file). ``url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self, log_path: Path | None = None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ONNX_EMB_HOST": "127.0.0.1", "ONNX_EMB_PORT": str(self.port), **env}
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="onnx-embeddings-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log = Path(log_path)
        self.proc: subprocess.Popen | None = None

    def start(self, wait_ready: bool = True, timeout_s: float = 120) -> ServerProcess:
        """Start the process; with ``wait_ready`` poll ``/readyz`` until 200 (every 0.2 s, at most ``timeout_s``).

        Raises ``ServerExited`` if the process dies first, ``AssertionError`` / ``httpx.HTTPError`` on timeout.
        """
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "onnx_embeddings"], cwd=RECIPE, env=self.env,
                                         stdout=fh, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Poll ``/readyz`` until it answers 200 (tenacity), failing fast if the process died."""

        @retry(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.2), reraise=True,
               retry=retry_if_exception_type((httpx.HTTPError, AssertionError)))
        def poll() -> None:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise ServerExited(f"server exited with status {code} before becoming ready:\n{self.logs()[-3000:]}")
            r = httpx.get(self.url + "/readyz", timeout=2)
            assert r.status_code == 200, r.text

        poll()

    @property
    def pid(self) -> int:
        """Process id of the running server."""
        assert self.proc is not None, "not started"
        return self.proc.pid

    def logs(self) -> str:
        """Everything the server wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def sigterm(self) -> None:
        """Send SIGTERM, as ``docker stop`` and Kubernetes do."""
        assert self.proc is not None, "not started"
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        """Wait for the process to exit; its exit status. Raises ``subprocess.TimeoutExpired``."""
        assert self.proc is not None, "not started"
        return self.proc.wait(timeout_s)

    def stop(self, timeout_s: float = 30) -> int | None:
        """SIGTERM if still running, wait up to ``timeout_s``, then SIGKILL; the exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.sigterm()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL if still running (cleanup after a failed test)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> ServerProcess:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
