"""Start the parts of the gateway as subprocesses on 127.0.0.1: PostgreSQL, llama.cpp backends, the LiteLLM proxy.

Our own code is only process management; routing, retries, fallbacks, auth, keys, budgets and spend logs are
LiteLLM's (config.yaml). Used by ``python -m litellm_gateway`` (``make serve``), the tests and the bench.
"""

from __future__ import annotations

import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from .settings import Settings

RECIPE = Path(__file__).resolve().parents[1]
log = logging.getLogger("litellm_gateway")

#: Environment every LiteLLM process gets: no telemetry, no download of the model cost map at import
#: (LiteLLM fetches it from GitHub otherwise), no UI login banner work. Source: docs.litellm.ai, "Proxy
#: config settings" (environment variables LITELLM_TELEMETRY, LITELLM_LOCAL_MODEL_COST_MAP).
QUIET_ENV = {"LITELLM_TELEMETRY": "False", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "NO_DOCS": "False",
             "DISABLE_ADMIN_UI": "True", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
             "DO_NOT_TRACK": "1"}


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None, what: str = "server") -> None:
    """Poll ``url`` until it answers 200; raises ``RuntimeError`` if ``proc`` exits or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} not ready after {timeout_s:g} s ({url})")


def stop_process(proc: subprocess.Popen | None, timeout_s: float = 30, sig: int = signal.SIGTERM) -> int | None:
    """Send ``sig``, wait ``timeout_s`` seconds, then SIGKILL; returns the exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


# ------------------------------------------------------------------------------------------ PostgreSQL

def pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server program (Debian puts them in /usr/lib/postgresql/<major>/bin)."""
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).is_file():
            return str(d / name)
    return shutil.which(name)


def prisma_engines() -> Path | None:
    """Where the Prisma query engine LiteLLM's database layer needs is, or ``None`` if it is not installed.

    LiteLLM talks to PostgreSQL through Prisma Client Python, which runs Prisma's query engine (a Rust binary).
    ``prisma generate`` downloads it from Prisma's binary host on first use; machines without internet
    access need it pre-fetched (the official image ships it). Looks at ``PRISMA_QUERY_ENGINE_BINARY`` and the
    default cache ``~/.cache/prisma-python/binaries/<cli version>/<engine hash>/`` (prisma/_config.py).
    """
    env = os.environ.get("PRISMA_QUERY_ENGINE_BINARY")
    if env and Path(env).is_file():
        return Path(env)
    cache = Path.home() / ".cache" / "prisma-python" / "binaries"
    found = sorted(cache.glob("*/*/*query-engine*")) if cache.is_dir() else []
    return found[0] if found else None


class Postgres:
    """A throwaway PostgreSQL cluster: ``initdb`` into a temp dir, ``pg_ctl start`` on 127.0.0.1 and a free port.

    PostgreSQL refuses to run as root, so as root the cluster runs as the Debian package's ``postgres`` user.
    Trust authentication on loopback only (a test database; never use this in production). ``url`` is the
    ``DATABASE_URL`` LiteLLM reads. Raises ``RuntimeError`` if the programs are missing or start fails.
    """

    def __init__(self, db: str = "litellm") -> None:
        self.initdb, self.pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise RuntimeError("PostgreSQL server programs not found: apt-get install postgresql")
        self.port, self.db = free_port(), db
        self.dir = Path(tempfile.mkdtemp(prefix="litellm-gw-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{db}"
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *cmd: str) -> None:
        pre = ["runuser", "-u", self.user, "--"] if self.user else []
        out = subprocess.run(pre + list(cmd), capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {out.stderr.strip()[-500:]}")

    def start(self) -> "Postgres":
        """initdb, start, create the database; returns self."""
        if self.user:
            uid = pwd.getpwnam(self.user).pw_uid
            os.chown(self.dir, uid, -1)
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.dir / "pg.log"), "-w", "start")
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{self.db}"')
        log.info("PostgreSQL on 127.0.0.1:%d (throwaway data dir)", self.port)
        return self

    def stop(self) -> None:
        """pg_ctl stop (fast) and delete the data dir."""
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log.warning("PostgreSQL stop: %s", exc)
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------ llama.cpp

class Backend:
    """One llama.cpp recipe server (``python -m llamacpp_server`` from that recipe's own venv).

    Serves SmolLM2-135M-Instruct only (``LLAMACPP_EXTRA_MODEL_PATH=none``). ``url`` is its OpenAI base URL.
    Raises ``FileNotFoundError`` if the llama.cpp recipe or its venv is missing.
    """

    def __init__(self, backend_dir: str | Path, threads: int = 1, name: str = "primary") -> None:
        d = Path(backend_dir)
        self.dir = d if d.is_absolute() else (RECIPE / d).resolve()
        self.python = self.dir / ".venv" / "bin" / "python"
        if not self.python.exists():
            raise FileNotFoundError(f"llama.cpp recipe venv missing: {self.python} (run `make -C {self.dir} venv`)")
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.env = {**os.environ, "LLAMACPP_HOST": "127.0.0.1", "LLAMACPP_PORT": str(self.port),
                    "LLAMACPP_EXTRA_MODEL_PATH": "none", "LLAMACPP_N_THREADS": str(threads),
                    "LLAMACPP_API_KEY": "", "LLAMACPP_DRAIN_DELAY_S": "0"}
        for k in [k for k in self.env if k.startswith("LITELLM_GW_")]:
            del self.env[k]
        self.log = Path(tempfile.mkstemp(prefix=f"llamacpp-{name}-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 180) -> "Backend":
        """Start and wait for its ``/readyz``; raises ``RuntimeError`` with the log tail on failure."""
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen([str(self.python), "-m", "llamacpp_server"], cwd=self.dir, env=self.env,
                                         stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)  # signals reach it only through us
        try:
            wait_http(self.url[:-3] + "/readyz", timeout_s, self.proc, f"llama.cpp {self.name}")
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.log.read_text(errors='replace')[-2000:]}") from None
        log.info("llama.cpp %s backend ready at %s", self.name, self.url)
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, as the fallback test needs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait (the backend drains its own in-flight requests)."""
        stop_process(self.proc, 60)


# ------------------------------------------------------------------------------------------ the proxy

def effective_config(src: Path, env: dict[str, str]) -> dict[str, Any]:
    """``config.yaml`` as LiteLLM will read it, minus entries whose ``os.environ/`` value is unset.

    Model entries whose ``api_base`` variable is empty are dropped (and fallbacks naming them); so are
    ``general_settings`` values that point at unset variables (no database, no master key).
    """
    cfg = yaml.safe_load(src.read_text(encoding="utf-8"))

    def unset(v: Any) -> bool:
        return isinstance(v, str) and v.startswith("os.environ/") and not env.get(v.split("/", 1)[1])

    cfg["model_list"] = [m for m in cfg.get("model_list", []) if not unset(m["litellm_params"].get("api_base"))]
    names = {m["model_name"] for m in cfg["model_list"]}
    rs = cfg.get("router_settings", {})
    rs["fallbacks"] = [{k: [t for t in v if t in names]} for fb in rs.get("fallbacks", []) for k, v in fb.items()
                       if k in names and any(t in names for t in v)]
    gs = cfg.setdefault("general_settings", {})
    for k in [k for k, v in gs.items() if unset(v)]:
        del gs[k]
    return cfg


class Gateway:
    """Everything ``make serve`` runs: optional PostgreSQL and llama.cpp backends, then ``litellm --config``.

    ``run()`` blocks until the proxy exits and returns the exit status (0 after a clean drain).
    """

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.pg: Postgres | None = None
        self.backends: list[Backend] = []
        self.proxy: subprocess.Popen | None = None
        self.drain_token = secrets.token_urlsafe(24)
        self.signals = 0
        self.control: httpx.Client | None = None  # keep-alive connection for /health/drain
        self.url = f"http://{settings.host}:{settings.port}"

    def proxy_env(self) -> dict[str, str]:
        """Environment of the LiteLLM process: our settings mapped onto LiteLLM's own variables."""
        s = self.s
        env = {**os.environ, **QUIET_ENV,
               "LITELLM_CORS_ORIGINS": ",".join(s.cors_origins) or "https://cors-off.invalid",
               "GRACEFUL_SHUTDOWN_TIMEOUT": str(s.drain_timeout_s),
               "DRAIN_ENDPOINT_TOKEN": self.drain_token,
               "LITELLM_LOG": "DEBUG" if s.log_level == "debug" else ("ERROR" if s.log_level in ("error", "critical")
                                                                       else "INFO")}
        for name, val in (("LITELLM_GW_PRIMARY_URL", s.primary_url), ("LITELLM_GW_FALLBACK_URL", s.fallback_url),
                          ("LITELLM_GW_VLLM_URL", s.vllm_url), ("LITELLM_MASTER_KEY", s.key())):
            env.pop(name, None)
            if val:
                env[name] = val
        if not s.key():
            # LiteLLM refuses to start without a master key unless told this is local development. The cookbook
            # convention is "empty key = no auth" (loopback, tests); the launcher logs a warning.
            env["LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY"] = "true"
        env.pop("DATABASE_URL", None)
        db = self.pg.url if self.pg else (s.database_url.get_secret_value() if s.database_url else None)
        if db:
            env["DATABASE_URL"] = db
        return env

    def start_parts(self) -> None:
        """Start PostgreSQL and the backends the settings ask for (fills primary/fallback URLs)."""
        s = self.s
        if s.start_postgres:
            self.pg = Postgres().start()
        for i in range(s.start_backend):
            b = Backend(s.backend_dir, s.backend_threads, ("primary", "fallback")[i]).start(s.ready_timeout_s)
            self.backends.append(b)
            if i == 0:
                s.primary_url = b.url
            else:
                s.fallback_url = b.url
        if not s.primary_url:
            raise RuntimeError("no backend: set LITELLM_GW_PRIMARY_URL or LITELLM_GW_START_BACKEND=1")

    def start_proxy(self) -> None:
        """Write the effective config and start ``litellm --config`` (one worker, uvicorn)."""
        env = self.proxy_env()
        cfg_dir = Path(tempfile.mkdtemp(prefix="litellm-gw-cfg-"))
        cfg = cfg_dir / "config.yaml"
        src = Path(self.s.config) if Path(self.s.config).is_absolute() else RECIPE / self.s.config
        cfg.write_text(yaml.safe_dump(effective_config(src, env), sort_keys=False), encoding="utf-8")
        exe = Path(sys.executable).parent / "litellm"
        cmd = [str(exe), "--config", str(cfg), "--host", self.s.host, "--port", str(self.s.port),
               "--num_workers", "1"]
        if not self.s.key():
            log.warning("LITELLM_GW_API_KEY is empty: the gateway accepts every request without a key "
                        "(local development only)")
        log.info("starting LiteLLM proxy on %s (models: %s)", self.url,
                 ", ".join(m["model_name"] for m in effective_config(src, env)["model_list"]))
        # Own session: a terminal's Ctrl-C or a group-wide signal reaches the launcher only, which drains.
        self.proxy = subprocess.Popen(cmd, env=env, cwd=RECIPE, stdin=subprocess.DEVNULL, start_new_session=True)

    def _drain_now(self) -> None:
        """Readiness 503 before the signal handler returns.

        No delay: SIGTERM to the proxy, whose own handler marks the worker as shutting down at once
        (GracefulShutdownManager) and lets uvicorn finish in-flight requests within GRACEFUL_SHUTDOWN_TIMEOUT.
        With a delay: LiteLLM's /health/drain over the connection opened at start (it marks the worker as
        shutting down and keeps serving); the listener is stopped after the delay (_finish_drain).
        """
        log.info("draining: readiness 503 now, delay %.1f s, then up to %.1f s for in-flight requests",
                 self.s.drain_delay_s, self.s.drain_timeout_s)
        if self.proxy is None or self.proxy.poll() is not None:
            return
        if self.s.drain_delay_s <= 0 or self.control is None:
            self.proxy.send_signal(signal.SIGTERM)
            return
        try:  # the endpoint answers only once drained: a short read timeout is expected
            self.control.get("/health/drain", headers={"x-drain-token": self.drain_token}, timeout=0.3)
        except httpx.HTTPError:
            pass
        threading.Thread(target=self._finish_drain, daemon=True).start()

    def _open_control(self) -> None:
        """Once the proxy is ready, open the keep-alive connection the drain request will use."""
        try:
            wait_http(f"http://127.0.0.1:{self.s.port}/health/readiness", self.s.ready_timeout_s, self.proxy,
                      "LiteLLM proxy")
            client = httpx.Client(base_url=f"http://127.0.0.1:{self.s.port}")
            client.get("/health/liveliness", timeout=5)
            self.control = client
        except (RuntimeError, httpx.HTTPError) as exc:
            log.warning("drain control connection: %s", exc)

    def _finish_drain(self) -> None:
        time.sleep(self.s.drain_delay_s)
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.send_signal(signal.SIGTERM)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signals += 1
        if self.signals == 1:
            self._drain_now()
        elif self.proxy is not None and self.proxy.poll() is None:
            log.warning("second signal: stopping at once")
            self.proxy.kill()

    def stop_parts(self) -> None:
        """Stop backends (after the proxy, so in-flight requests finish) and PostgreSQL."""
        for b in reversed(self.backends):
            b.stop()
        if self.pg is not None:
            self.pg.stop()

    def run(self) -> int:
        """Start everything, serve until a signal, drain; returns the exit status for ``sys.exit``."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.start_parts()
            self.start_proxy()
            assert self.proxy is not None
            if self.s.drain_delay_s > 0:
                threading.Thread(target=self._open_control, daemon=True).start()
            code = self.proxy.wait()
            while code is None:
                code = self.proxy.wait()
        except (RuntimeError, FileNotFoundError) as exc:
            log.error("%s", exc)
            code = 1
        finally:
            if self.proxy is not None and self.proxy.poll() is None:
                stop_process(self.proxy, self.s.drain_timeout_s + 10)
            self.stop_parts()
        if self.signals and code in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
            log.info("drained, exit 0")
            return 0
        return code if code else 0


# ------------------------------------------------------------------------------------------ for tests and bench

class GatewayProcess:
    """``python -m litellm_gateway`` in a subprocess on a free port (tests and bench start it like users do).

    ``env``: extra ``LITELLM_GW_*`` (or other) variables. Output goes to a temp log file (``logs()``).
    """

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **QUIET_ENV, "LITELLM_GW_HOST": "127.0.0.1", "LITELLM_GW_PORT": str(self.port),
                    **env}
        self.log = Path(tempfile.mkstemp(prefix="litellm-gw-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 240) -> "GatewayProcess":
        """Start and wait until ``/health/readiness`` is 200; raises ``RuntimeError`` with the log on failure."""
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "litellm_gateway"], cwd=RECIPE, env=self.env,
                                         stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_http(self.url + "/health/readiness", timeout_s, self.proc, "gateway")
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.logs()}") from None
        return self

    def logs(self) -> str:
        """The last 8,000 characters the launcher and LiteLLM wrote."""
        return self.log.read_text(errors="replace")[-8000:]

    def stop(self) -> int | None:
        """SIGTERM (drain), wait up to 90 s, then SIGKILL; returns the exit status."""
        return stop_process(self.proc, 90)
