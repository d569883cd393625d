"""A local Ray cluster for ``make serve``, tests and the bench: one head node and one worker node on 127.0.0.1.

Both nodes share one fresh ``--temp-dir``; every Ray process of the cluster has it on its command line or
descends from one that has (workers are children of a raylet), so :func:`cluster_processes` finds exactly this
cluster's processes and :meth:`LocalCluster.stop` ends exactly them, never other Ray clusters on the machine
(``ray stop`` would). Every port is chosen free on 127.0.0.1, so several clusters (the conformance suite runs
two) can share one machine. The dashboard is off by default (its nine head modules cost ~0.8 GiB RSS); with
``dashboard=True`` it listens on 127.0.0.1 and ``serve deploy`` can use its REST API.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("ray_serve_recipe.cluster")


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _node_ports() -> list[str]:
    """Per-node ports that default to fixed numbers in Ray (10001, 52365, ...), made free ones."""
    return [f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
            f"--metrics-export-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}"]


@dataclass
class LocalCluster:
    """Head + one worker node. ``head_cpus``/``worker_cpus``: logical CPUs each offers (Ray resources, not
    cores); ``object_store_bytes`` per node. :meth:`start` returns once the GCS and dashboard answer
    (raises ``RuntimeError`` after ``timeout_s``); :meth:`stop` ends both nodes (SIGTERM, then SIGKILL)."""

    head_cpus: int = 1
    worker_cpus: int = 2
    object_store_bytes: int = 80_000_000
    env: dict[str, str] = field(default_factory=dict)
    gcs_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    dashboard: bool = False
    temp_dir: str = ""

    @property
    def address(self) -> str:
        """GCS address for ``ray.init(address=...)`` and ``ray start --address``."""
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        """Dashboard URL (``serve deploy -a``), when ``dashboard`` is on."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _ray(self) -> str:
        return shutil.which("ray", path=os.path.dirname(os.path.realpath(os.sys.executable))) or \
            str(Path(os.sys.executable).with_name("ray"))

    def start(self, timeout_s: float = 120) -> "LocalCluster":
        """Start the head, then the worker (``ray start`` returns once each node is up); raises
        ``RuntimeError`` if either fails or takes longer than ``timeout_s``."""
        self.temp_dir = tempfile.mkdtemp(prefix="rsr-", dir="/tmp")  # short: Ray's socket paths must fit 107 B
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **self.env}
        common = ["--node-ip-address=127.0.0.1", "--disable-usage-stats",
                  f"--object-store-memory={self.object_store_bytes}"]
        dash = ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}"] \
            if self.dashboard else ["--include-dashboard=false"]
        head = [self._ray(), "start", "--head", f"--port={self.gcs_port}", f"--num-cpus={self.head_cpus}", *dash,
                f"--ray-client-server-port={free_port()}", f"--temp-dir={self.temp_dir}", *common, *_node_ports()]
        worker = [self._ray(), "start", f"--address={self.address}", f"--num-cpus={self.worker_cpus}",
                  *common, *_node_ports()]
        for name, cmd in (("head", head), ("worker", worker)):
            log.info("starting Ray %s node (GCS %s%s)", name, self.address,
                     f", dashboard {self.dashboard_url}" if self.dashboard and name == "head" else "")
            try:
                r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.stop()
                raise RuntimeError(f"ray {name} node not up after {timeout_s} s") from None
            if r.returncode != 0:
                self.stop()
                raise RuntimeError(f"ray {name} node failed (exit {r.returncode}): {r.stderr[-800:]}")
        return self

    def wait_nodes(self, n: int = 2, timeout_s: float = 120) -> None:
        """Block until ``n`` nodes are alive (needs ``ray.init`` done in this process)."""
        import ray

        deadline = time.monotonic() + timeout_s
        while sum(1 for x in ray.nodes() if x.get("Alive")) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {n} Ray nodes alive after {timeout_s} s")
            time.sleep(0.3)

    def pids(self) -> list[int]:
        """PIDs of every process of this cluster now."""
        return [p.pid for p in cluster_processes(self.temp_dir)]

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM every process of the cluster, SIGKILL what is left after ``timeout_s``; remove the temp dir."""
        import psutil

        if not self.temp_dir:
            return
        procs = cluster_processes(self.temp_dir)
        for p in procs:
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs(procs, timeout=timeout_s)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def cluster_processes(temp_dir: str) -> list:
    """``psutil.Process`` of every process of the cluster whose ``--temp-dir`` is ``temp_dir``: those with it on
    their command line (GCS, raylets, agents, log monitors) and all their descendants (workers, replicas)."""
    import psutil

    if not temp_dir:
        return []
    roots = []
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(temp_dir in a for a in (p.info["cmdline"] or [])):
                roots.append(p)
    seen: dict[int, object] = {}
    for r in roots:
        seen[r.pid] = r
        with contextlib.suppress(psutil.Error):
            for c in r.children(recursive=True):
                seen[c.pid] = c
    return list(seen.values())


def cluster_rss_bytes(temp_dir: str) -> int:
    """Summed RSS (bytes) of every process of the cluster (:func:`cluster_processes`)."""
    import psutil

    total = 0
    for p in cluster_processes(temp_dir):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total
