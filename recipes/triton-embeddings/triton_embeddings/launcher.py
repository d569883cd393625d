"""Start Triton Inference Server on the recipe's model repository: the one place that knows how.

``python -m triton_embeddings`` (``make serve``) calls :func:`serve`, which prepares two folders, starts
``tritonserver`` as its child, forwards SIGTERM/SIGINT to it (Triton's own drain, ``--exit-timeout-secs``, does
the work) and exits with Triton's exit status. Tests and the bench use :class:`Server`, which runs the same
command as a child process on free ports and waits for ``/v2/health/ready``.

The two prepared folders, under ``build/runtime-<http port>/`` (or ``TRITON_EMB_RUNTIME_REPOSITORY``):

* ``backends/python/``: what Triton's Python backend needs, taken from the ``nvidia-pytriton`` wheel:
  ``libtriton_python.so``, ``triton_python_backend_utils.py`` and a *symlink* ``triton_python_backend_stub``
  to the stub built for this interpreter's Python version (FEASIBILITY.md: a copy is not found the same way).
* ``repository/``: one folder per model with a ``config.pbtxt`` rewritten from the committed one with the
  settings applied (instance count, batch size, queue delay and policy, token limit, threads), and a symlink
  ``1 -> <model_repository>/<model>/1``. Configs are parsed and written with Triton's own protobuf
  (``tritonclient.grpc.model_config_pb2`` + ``google.protobuf.text_format``), so a broken config fails here
  with the protobuf parser's message.

Environment fixes (FEASIBILITY.md): ``LD_LIBRARY_PATH`` gets this interpreter's ``lib`` directory (the stub
links ``libpython3.X.so``; without it pyenv-built Pythons fail with ``'_thread.RLock' object has no attribute
'_recursion_count'``), and ``PATH`` starts with the venv's ``bin`` so the stub imports the venv's packages.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from .settings import RECIPE_DIR, Settings

log = logging.getLogger("triton_embeddings")

MODELS_WITH_SCHEDULER = ("minilm_tokenizer", "minilm_encoder", "minilm_encoder_int8", "minilm_pooling")
"""Composing models: the settings' batching and instance options apply to these (not to the ensembles)."""


class LaunchError(RuntimeError):
    """A setting Triton cannot honour, or a missing file; the message says which and what to do."""


def pytriton_dir() -> Path:
    """``pytriton/tritonserver`` inside the installed ``nvidia-pytriton`` wheel (bin/, backends/, stubs)."""
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise LaunchError("nvidia-pytriton is not installed (make venv)")
    return Path(list(spec.submodule_search_locations)[0]) / "tritonserver"


def tritonserver_binary() -> Path:
    """Path of the bundled ``tritonserver`` binary (Triton 2.51 in nvidia-pytriton 0.7.0)."""
    return pytriton_dir() / "bin" / "tritonserver"


def prepare_backends(dst: Path) -> Path:
    """Lay out ``dst/python/`` for Triton's Python backend (see the module docstring); returns ``dst``."""
    src = pytriton_dir()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = src / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.exists():
        raise LaunchError(f"nvidia-pytriton ships no Python backend stub for Python {version}")
    py = dst / "python"
    py.mkdir(parents=True, exist_ok=True)
    for name, target in (("libtriton_python.so", src / "backends" / "python" / "libtriton_python.so"),
                         ("triton_python_backend_utils.py",
                          src / "backends" / "python" / "triton_python_backend_utils.py"),
                         ("triton_python_backend_stub", stub)):
        link = py / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return dst


def _set_param(cfg, key: str, value: str) -> None:
    cfg.parameters[key].string_value = value


def apply_settings(cfg, s: Settings) -> None:
    """Apply the settings to one parsed ``ModelConfig`` (in place). Ensembles get only ``max_batch_size``."""
    cfg.max_batch_size = s.max_batch_size
    if cfg.platform == "ensemble":
        return
    for group in cfg.instance_group:
        group.count = s.instance_count
    if s.dynamic_batching:
        db = cfg.dynamic_batching
        if cfg.name.startswith("minilm_encoder"):  # tokenizer and pooling keep 0 (nothing to amortise)
            db.max_queue_delay_microseconds = s.max_queue_delay_us
        db.default_queue_policy.max_queue_size = s.max_queue_size
        db.default_queue_policy.default_timeout_microseconds = s.queue_timeout_us
    else:
        cfg.ClearField("dynamic_batching")
    if cfg.name == "minilm_tokenizer":
        _set_param(cfg, "max_tokens", str(s.max_tokens))
    if cfg.name.startswith("minilm_encoder"):
        _set_param(cfg, "intra_op_threads", str(s.intra_op_threads))


def read_config(path: Path):
    """Parse a ``config.pbtxt`` into ``model_config_pb2.ModelConfig``; ``text_format.ParseError`` if invalid."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())


def prepare_repository(src: Path, dst: Path, s: Settings) -> Path:
    """Write the runtime repository ``dst`` from ``src`` with the settings applied; returns ``dst``.

    Raises ``LaunchError`` when an exported file is missing (run ``make export``).
    """
    from google.protobuf import text_format

    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for model in sorted(p for p in src.iterdir() if (p / "config.pbtxt").is_file()):
        cfg = read_config(model / "config.pbtxt")
        if cfg.name in MODELS_WITH_SCHEDULER or cfg.platform == "ensemble":
            apply_settings(cfg, s)
        out = dst / model.name
        out.mkdir()
        (out / "config.pbtxt").write_text(text_format.MessageToString(cfg), encoding="utf-8")
        for version in (p for p in model.iterdir() if p.is_dir() and p.name.isdigit()):
            (out / version.name).symlink_to(version.resolve(), target_is_directory=True)
    return dst


def unsupported(s: Settings) -> list[str]:
    """Settings of the house conventions that Triton 2.51 has no equivalent for; each is logged as a warning
    at start and listed as a deviation in recipe.yaml (README, Configuration). Returns the warnings."""
    out = []
    if s.cors_origins:
        out.append("TRITON_EMB_CORS_ORIGINS is not enforced: Triton's HTTP frontend has no CORS support "
                   "(put a gateway in front of it)")
    if s.drain_delay_s:
        out.append("TRITON_EMB_DRAIN_DELAY_S is not enforced: Triton stops accepting at the first SIGTERM; use "
                   "a preStop sleep (k8s/deployment.yaml) to let the load balancer stop routing first")
    if s.max_body_bytes:
        out.append("TRITON_EMB_MAX_BODY_BYTES is not enforced: Triton 2.51 has no request body limit flag; "
                   "requests are bounded by TRITON_EMB_MAX_BATCH_SIZE and TRITON_EMB_MAX_TOKENS")
    return out


def tritonserver_args(s: Settings, repository: Path, backends: Path) -> list[str]:
    """The ``tritonserver`` command line for these settings (binary first)."""
    level = {"error": [], "warning": ["--log-info=false"], "info": [], "verbose": ["--log-verbose=1"]}[s.log_level]
    args = [str(tritonserver_binary()),
            f"--model-repository={repository}", f"--backend-directory={backends}",
            f"--cache-directory={pytriton_dir() / 'caches'}",
            "--model-control-mode=explicit", *[f"--load-model={m}" for m in s.load_models],
            "--strict-readiness=true", "--exit-on-error=true",
            f"--http-address={s.host}", f"--http-port={s.port}",
            f"--grpc-address={s.host}", f"--grpc-port={s.grpc_port}",
            f"--metrics-address={s.host}", f"--metrics-port={s.metrics_port}",
            "--allow-gpu-metrics=false",
            f"--exit-timeout-secs={s.drain_timeout_s}", *level]
    if s.log_level == "error":
        args += ["--log-info=false", "--log-warning=false"]
    key = s.api_key.get_secret_value()
    if key:
        # Triton's own access control: these API groups need the header 'Authorization: Bearer <key>'
        args += [f"--http-restricted-api=inference,model-repository,model-config,statistics,trace,logging,"
                 f"shared-memory:Authorization=Bearer {key}",
                 f"--grpc-restricted-protocol=inference,model-repository,model-config,statistics,trace,"
                 f"logging,shared-memory:authorization=Bearer {key}"]
    return args


def server_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for ``tritonserver``: LD_LIBRARY_PATH and PATH fixes (module docstring), tokenizer threads."""
    env = dict(os.environ if base is None else base)
    libdir = sysconfig.get_config_var("LIBDIR") or str(Path(sys.base_prefix) / "lib")
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, env.get("LD_LIBRARY_PATH", "")) if p)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def prepare(s: Settings) -> list[str]:
    """Export if needed, lay out the runtime folders; returns the ``tritonserver`` command line."""
    from .export import artefacts, export_all

    for warning in unsupported(s):
        log.warning("%s", warning)
    src = Path(s.model_repository)
    if not all(p.exists() for p in artefacts(src).values()):
        log.info("exporting the model into %s (first start)", src)
        export_all(s.resolved_model_dir(), src)
    root = Path(s.runtime_repository) if s.runtime_repository else RECIPE_DIR / "build" / f"runtime-{s.port}"
    repo = prepare_repository(src, root / "repository", s)
    backends = prepare_backends(root / "backends")
    return tritonserver_args(s, repo, backends)


def serve(s: Settings | None = None) -> int:
    """Prepare, run ``tritonserver`` as a child, forward signals; returns (and exits with) its exit status.

    First SIGTERM/SIGINT: logged and forwarded; Triton stops accepting new connections, waits up to
    ``--exit-timeout-secs`` for in-flight requests, unloads the models and exits 0. A second signal stops
    Triton at once (SIGKILL), as the house conventions ask.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        s = s or Settings()
        args = prepare(s)
    except LaunchError as exc:
        log.error("%s", exc)
        return 2
    log.info("starting Triton: HTTP %s:%d, gRPC %d, metrics %d, models %s", s.host, s.port, s.grpc_port,
             s.metrics_port, ",".join(s.load_models))
    child = subprocess.Popen(args, env=server_env())
    signals = []

    def forward(signum, _frame) -> None:
        signals.append(signum)
        if len(signals) == 1:
            log.info("%s: Triton drains in-flight requests (at most %d s, --exit-timeout-secs) and exits",
                     signal.Signals(signum).name, s.drain_timeout_s)
            child.send_signal(signal.SIGTERM)
        else:
            log.warning("second signal: stopping Triton now")
            child.kill()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    log.info("Triton exited with status %d", code)
    return code


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``python -m triton_embeddings`` as a child process on free 127.0.0.1 ports (tests and bench).

    ``env``: extra ``TRITON_EMB_*`` settings. ``url`` / ``grpc_url`` / ``metrics_url`` are set after
    :meth:`start`. ``start`` raises ``RuntimeError`` with the log's tail if Triton exits or is not ready
    within ``ready_timeout_s``.
    """

    def __init__(self, env: dict[str, str] | None = None, log_path: Path | None = None,
                 ready_timeout_s: float = 120.0) -> None:
        self.extra = dict(env or {})
        self.log_path = log_path or RECIPE_DIR / "build" / f"server-{os.getpid()}-{id(self)}.log"
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Server":
        """Start and wait until ``/v2/health/ready`` answers 200."""
        import httpx

        import tempfile

        self.port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.runtime = Path(tempfile.mkdtemp(prefix="triton-emb-"))  # removed by stop()
        env = {**os.environ, "TRITON_EMB_HOST": "127.0.0.1", "TRITON_EMB_PORT": str(self.port),
               "TRITON_EMB_GRPC_PORT": str(self.grpc_port), "TRITON_EMB_METRICS_PORT": str(self.metrics_port),
               "TRITON_EMB_RUNTIME_REPOSITORY": str(self.runtime), **self.extra}
        self.url = f"http://127.0.0.1:{self.port}"
        self.host_port = f"127.0.0.1:{self.port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "triton_embeddings"], cwd=RECIPE_DIR, env=env,
                                         stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/v2/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"tritonserver not ready after {self.ready_timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        """The last ``chars`` characters of the server log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s (then SIGKILL); returns the exit code. Removes the runtime folder."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "runtime", None):
            shutil.rmtree(self.runtime, ignore_errors=True)
        return self.proc.returncode

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
