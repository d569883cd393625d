"""``python -m ray_serve_recipe`` (= ``make serve``) and :func:`launched` (the tests' and bench's way in).

``main()``:

1. exports the ONNX model if ``<model_dir>/minilm.onnx`` is missing (export.py, ~10 s);
2. starts a local Ray cluster, head + one worker (cluster.py), on free ports of 127.0.0.1;
3. renders ``serve_config.yaml`` with ``RAY_RECIPE_HOST``/``PORT`` (and, with ``RAY_RECIPE_AUTOSCALING=default``,
   Ray's default timing, 30 s up / 600 s down) and applies it with Ray's own CLI: ``serve run --non-blocking``
   through the GCS, or with ``RAY_RECIPE_DASHBOARD=true`` ``serve deploy`` through the dashboard's REST API;
4. waits until ``/readyz`` answers 200, then serves until SIGTERM/SIGINT;
5. drains (``servekit.Drain``): ``/readyz`` -> 503 ``draining`` at once, keeps serving for
   ``RAY_RECIPE_DRAIN_DELAY_S`` (the load balancer stops routing), waits for in-flight requests (counted by the
   ingress in the ``DrainState`` actor, quiet for QUIET_S, at most ``RAY_RECIPE_DRAIN_TIMEOUT_S``), stops both
   nodes, exits 0. A second signal stops at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import yaml

from . import servekit
from .cluster import LocalCluster, free_port
from .settings import RECIPE_DIR, Settings

log = logging.getLogger("ray_serve_recipe.launcher")

#: Drain: the in-flight count must stay 0 this long (seconds) before the cluster stops (see ``busy`` in main).
QUIET_S = 1.5

#: Autoscaling timing fields that ``RAY_RECIPE_AUTOSCALING=default`` resets to Ray's own defaults.
TIMING_FIELDS = ("upscale_delay_s", "downscale_delay_s", "metrics_interval_s", "look_back_period_s")


def ray_default_timing() -> dict[str, float]:
    """Ray Serve's defaults for :data:`TIMING_FIELDS`, read from ``ray.serve.config.AutoscalingConfig``
    (Ray 2.60.0: 30 s up, 600 s down, metrics every 10 s, 30 s look-back)."""
    from ray.serve.config import AutoscalingConfig

    fields = AutoscalingConfig.model_fields
    return {k: float(fields[k].default) for k in TIMING_FIELDS}


def render_config(s: Settings) -> dict:
    """``serve_config.yaml`` with ``http_options`` from settings; Ray's default timing if ``autoscaling=default``.
    Validated with Ray's own ``ServeDeploySchema`` (raises ``pydantic.ValidationError``)."""
    from ray.serve.schema import ServeDeploySchema

    cfg = yaml.safe_load(s.config.read_text(encoding="utf-8"))
    cfg.setdefault("http_options", {}).update({"host": s.host, "port": s.port})
    if s.autoscaling == "default":
        for app in cfg["applications"]:
            for dep in app.get("deployments", []):
                if "autoscaling_config" in dep:
                    dep["autoscaling_config"].update(ray_default_timing())
    ServeDeploySchema.model_validate(cfg)
    return cfg


def _ready(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001  (connection refused, 503 while deploying)
        return False


def main() -> int:
    """Run the recipe until a signal; exit status 0 after a drain, 1 if start-up failed."""
    s = Settings()
    servekit.configure_logging(s.log_level)
    if not (s.model_dir / "minilm.onnx").is_file():
        from .export import export

        log.info("exporting MiniLM to ONNX (first start only)")
        export(s.model_dir)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(RECIPE_DIR), os.environ.get("PYTHONPATH")])),
           "RAY_SERVE_LOG_TO_STDERR": "1"}
    cluster = LocalCluster(s.head_cpus, s.worker_cpus, s.object_store_bytes, env=env, dashboard=s.dashboard)
    stop_now = threading.Event()
    drain: Optional[servekit.Drain] = None

    def on_signal(signum, _frame):
        name = signal.Signals(signum).name
        if drain is None:
            log.info("%s before ready: stopping", name)
            stop_now.set()
        else:
            drain.begin(name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        import ray

        ray.init(address=cluster.address, namespace="serve", logging_level=logging.WARNING,
                 log_to_driver=False)
        # ray.init installs its own SIGTERM handler in the driver (it exits): ours goes back on top
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        cluster.wait_nodes(2)
        cfg_file = Path(tempfile.mkstemp(prefix="serve-config-", suffix=".yaml", dir=cluster.temp_dir)[1])
        cfg_file.write_text(yaml.safe_dump(render_config(s), sort_keys=False))
        url = f"http://{'127.0.0.1' if s.host in ('0.0.0.0', '::') else s.host}:{s.port}"
        if s.state_file:  # before deploying: whoever sees /readyz 200 finds it written
            s.state_file.write_text(json.dumps({"url": url, "address": cluster.address, "temp_dir": cluster.temp_dir,
                                                "dashboard": cluster.dashboard_url if s.dashboard else None,
                                                "node_pids": cluster.pids(), "config_file": str(cfg_file)}))
        deadline = time.monotonic() + s.ready_timeout_s
        serve_cli = str(Path(sys.executable).with_name("serve"))
        # with the dashboard: `serve deploy` (its REST API, as on KubeRay); without: `serve run --non-blocking`,
        # which applies the same config file through the GCS
        cmd = [serve_cli, "deploy", str(cfg_file), "-a", cluster.dashboard_url] if s.dashboard else \
            [serve_cli, "run", str(cfg_file), "-a", cluster.address, "--non-blocking"]
        while True:  # the dashboard's Serve REST API comes up a moment after its port opens
            r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
            if r.returncode == 0:
                log.info("%s: deployed %s", " ".join(cmd[1:2]), s.config.name)
                break
            if time.monotonic() > deadline or stop_now.is_set() or not s.dashboard:
                raise RuntimeError(f"serve {cmd[1]} failed: {r.stderr[-1500:]}")
            time.sleep(1)
        while not _ready(url):
            if time.monotonic() > deadline or stop_now.is_set():
                raise RuntimeError(f"application not ready after {s.ready_timeout_s} s")
            time.sleep(0.5)
        from .deployments import state_actor

        state = state_actor()
        quiet_since: list[float] = []

        def busy() -> int:
            """In-flight requests counted by the ingress; reports 1 until the count has stayed 0 for
            QUIET_S, because a request in transit between Ray's HTTP proxy and the ingress (or a response on
            its way back) is not counted yet (or any more)."""
            if stop_now.is_set() or not ray.is_initialized():  # stopping: never let a call here ray.init()
                return 0
            try:
                n = ray.get(state.status.remote(), timeout=10)[1]
            except Exception as exc:  # noqa: BLE001  (a slow answer is not an idle cluster: keep waiting)
                log.warning("drain: in-flight count unavailable (%s); still waiting", type(exc).__name__)
                return 1
            if n:
                quiet_since.clear()
                return n
            if not quiet_since:
                quiet_since.append(time.monotonic())
            return 0 if time.monotonic() - quiet_since[0] >= QUIET_S else 1

        def stop(force: bool) -> None:
            # No serve.shutdown(): nothing is in flight any more and the whole cluster stops next; and from a
            # process that never used the Serve API it can end up in ray.init(), i.e. start a new cluster.
            stop_now.set()

        def begin_then_drain(signame: str = "SIGTERM") -> None:
            if not d.draining:
                ray.get(state.begin_drain.remote(), timeout=10)
            servekit.Drain.begin(d, signame)

        d = servekit.Drain(s.drain_delay_s, s.drain_timeout_s, busy, stop, log)
        d.begin = begin_then_drain  # type: ignore[method-assign]
        drain = d
        log.info("ready: %s (models %s, %s; Ray GCS %s%s)", url, s.embed_model_id, s.chat_model_id,
                 cluster.address, f", dashboard {cluster.dashboard_url}" if s.dashboard else "")
        stop_now.wait()
        return 0
    except Exception as exc:  # noqa: BLE001
        log.error("start-up failed: %s", exc)
        return 1
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        cluster.stop()
        log.info("stopped")


@contextlib.contextmanager
def launched(timeout_s: float = 300, **settings: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``python -m ray_serve_recipe`` as a subprocess on a free 127.0.0.1 port until ``/readyz`` is 200;
    yields ``(base URL, process)``; SIGTERM (then SIGKILL after 90 s) on exit. ``settings`` are
    ``RAY_RECIPE_``-less names, e.g. ``API_KEY="k"``. Raises ``RuntimeError`` if it exits or times out."""
    port = free_port()
    env = {**os.environ, "RAY_RECIPE_HOST": "127.0.0.1", "RAY_RECIPE_PORT": str(port),
           **{f"RAY_RECIPE_{k}": str(v) for k, v in settings.items()}}
    logf = tempfile.NamedTemporaryFile(prefix="ray-serve-recipe-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "ray_serve_recipe"], cwd=RECIPE_DIR, env=env, stdout=logf,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _ready(url):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: "
                                   f"{Path(logf.name).read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout_s} s: "
                                   f"{Path(logf.name).read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        proc.log_path = logf.name  # type: ignore[attr-defined]
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
