"""Start ``python -m vllm_recipe`` (vLLM's OpenAI server) as a subprocess on a free 127.0.0.1 port.

The recipe's tests and its bench both use :class:`ServerProcess`, so both start the server the way
``make serve`` does. :class:`LlamaCppServer` starts the llama.cpp recipe's server next door
(``make -C ../llamacpp-server serve``, its own venv) for the bench and the agreement test.
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
from typing import Optional

import httpx
import psutil

RECIPE = Path(__file__).resolve().parents[1]
LLAMACPP_RECIPE = RECIPE.parent / "llamacpp-server"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Process:
    """A server subprocess in its own process group; output goes to a temp log file."""

    name = "server"
    ready_path = "/health"

    def __init__(self, cmd: list[str], cwd: Path, env: dict[str, str], port: int) -> None:
        self.cmd, self.cwd, self.env, self.port = cmd, cwd, env, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"{self.name}-", suffix=".log", delete=False)
        self.proc: Optional[subprocess.Popen] = None
        self.startup_s: Optional[float] = None

    def start(self, wait_ready: bool = True, timeout_s: float = 420) -> "_Process":
        """Start; with ``wait_ready`` poll ``ready_path`` until 200. Raises ``RuntimeError`` on exit/timeout."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_ready:
            return self
        deadline = t0 + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.logs()[-4000:]}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    self.startup_s = time.monotonic() - t0
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout_s} s:\n{self.logs()[-4000:]}")

    def logs(self) -> str:
        """Everything the server printed so far."""
        return Path(self.log.name).read_text(errors="replace")

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its child processes (bytes, psutil)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def server_pid(self) -> int:
        """PID that receives SIGTERM (vLLM's API server: ``python -m vllm_recipe`` execs into it)."""
        assert self.proc is not None
        return self.proc.pid

    def sigterm(self) -> None:
        """Send SIGTERM to the server process (as ``docker stop`` / Kubernetes do)."""
        os.kill(self.server_pid(), signal.SIGTERM)

    def stop(self, timeout_s: float = 90) -> Optional[int]:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL the process group; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.sigterm()
                self.proc.wait(timeout_s)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        try:  # leftovers of the process group (engine/worker processes)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(10)
        return self.proc.returncode


class ServerProcess(_Process):
    """``python -m vllm_recipe`` with ``VLLM_RECIPE_*`` overrides (``ServerProcess(MAX_NUM_SEQS="4")``)."""

    name = "vllm-recipe"

    def __init__(self, **settings: str) -> None:
        port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "VLLM_RECIPE_HOST": "127.0.0.1", "VLLM_RECIPE_PORT": str(port)}
        env.update({f"VLLM_RECIPE_{k.upper()}": str(v) for k, v in settings.items()})
        super().__init__([sys.executable, "-m", "vllm_recipe"], RECIPE, env, port)


class LlamaCppServer(_Process):
    """The llama.cpp recipe's server, started by its own ``make serve`` (its own venv), SmolLM2 only.

    ``threads`` is ``LLAMACPP_N_THREADS``. Raises ``FileNotFoundError`` when ``../llamacpp-server`` is absent.
    """

    name = "llamacpp-server"
    ready_path = "/readyz"

    def __init__(self, threads: int = 1, n_ctx: int = 2048) -> None:
        if not (LLAMACPP_RECIPE / "Makefile").is_file():
            raise FileNotFoundError(f"{LLAMACPP_RECIPE} not found (the llama.cpp recipe folder)")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "VLLM"))}
        env.update({"LLAMACPP_HOST": "127.0.0.1", "LLAMACPP_PORT": str(port), "LLAMACPP_N_THREADS": str(threads),
                    "LLAMACPP_N_CTX": str(n_ctx), "LLAMACPP_EXTRA_MODEL_PATH": "none",
                    "LLAMACPP_MAX_QUEUE": "1000", "LLAMACPP_QUEUE_TIMEOUT_S": "600"})
        super().__init__(["make", "--no-print-directory", "-C", str(LLAMACPP_RECIPE), "serve"],
                         LLAMACPP_RECIPE, env, port)

    def server_pid(self) -> int:
        """The Python server under ``make`` (SIGTERM goes to it, not to make)."""
        assert self.proc is not None
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
            return kids[-1].pid if kids else self.proc.pid
        except psutil.NoSuchProcess:
            return self.proc.pid
