"""Start a recipe's server the way ``make serve`` does: its ``serve.command``, its own venv, its folder.

The suite never imports recipe code: it runs ``recipes/<name>/.venv/bin/python`` (``python`` in
``serve.command`` means that interpreter) in the recipe folder, with settings as environment variables, on
free ports of 127.0.0.1, and talks to it over HTTP like any client.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from cases import MAX_BODY_BYTES
from cookbook.recipes import RecipeMeta, ServeSpec


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_python(recipe_dir: Path) -> Path:
    """The recipe venv's interpreter (``make -C recipes/<name> venv`` creates it)."""
    return recipe_dir / ".venv" / "bin" / "python"


class RecipeServer:
    """One running server of a recipe. ``settings`` are ``<PREFIX>``-less names, e.g. ``{"API_KEY": "k"}``."""

    def __init__(self, recipe_dir: Path, meta: RecipeMeta, **settings: str) -> None:
        assert meta.serve is not None
        self.dir, self.meta, self.spec = recipe_dir, meta, meta.serve
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        p = self.spec.env_prefix
        env = {**os.environ, **self.spec.env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               f"{p}MAX_BODY_BYTES": str(MAX_BODY_BYTES), f"{p}LOG_LEVEL": "info"}
        if self.spec.address_env:
            env[self.spec.address_env] = f"127.0.0.1:{self.port}"
        else:
            env.update({f"{p}HOST": "127.0.0.1", f"{p}PORT": str(self.port)})
        for name in self.spec.extra_port_envs:
            env[name] = str(free_port())
        self.metrics_url = self.url
        if self.spec.metrics_port_env:
            mport = free_port()
            env[self.spec.metrics_port_env] = str(mport)
            self.metrics_url = f"http://127.0.0.1:{mport}"
        env.update({f"{p}{k}": v for k, v in settings.items()})
        self.env = env
        self.log = Path(tempfile.mkstemp(prefix=f"conformance-{recipe_dir.name}-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """``serve.command`` with ``python`` resolved to the recipe venv (other programs from PATH)."""
        cmd = list(self.spec.command)
        if cmd[0] in ("python", "python3"):
            cmd[0] = str(venv_python(self.dir))
        elif shutil.which(cmd[0]) is None:
            raise FileNotFoundError(f"{cmd[0]} not on PATH")
        return cmd

    def start(self) -> "RecipeServer":
        """Start and wait until ``ready_path`` answers 200 (``serve.ready_timeout_s``); raises RuntimeError."""
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(self.command(), cwd=self.dir, env=self.env, stdout=fh,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.spec.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.dir.name}: server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + self.spec.ready_path, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.dir.name}: not ready after {self.spec.ready_timeout_s} s:\n{self.logs()}")

    def logs(self) -> str:
        """The last 6,000 characters the server wrote."""
        return self.log.read_text(errors="replace")[-6000:]

    def sigterm(self) -> None:
        """Send SIGTERM, as ``docker stop`` and Kubernetes do."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float = 60) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def first_model(spec: ServeSpec, url: str, api: str, headers: dict[str, str] | None = None) -> str:
    """The model id requests to ``api`` name: ``serve.models[api]``, else ``serve.model``, else the first one the
    server lists (``headers``: e.g. the API key of a keyed server)."""
    if api in spec.models:
        return spec.models[api]
    if spec.model:
        return spec.model
    if api.startswith("openai-"):
        return httpx.get(url + "/v1/models", headers=headers, timeout=10).json()["data"][0]["id"]
    if api == "ollama":
        return httpx.get(url + "/api/tags", headers=headers, timeout=10).json()["models"][0]["name"]
    if api == "kserve-v2":
        r = httpx.post(url + "/v2/repository/index", json={"ready": True}, headers=headers, timeout=10).json()
        return r[0]["name"]
    raise ValueError(api)
