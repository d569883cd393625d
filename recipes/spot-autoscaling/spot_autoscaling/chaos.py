"""The chaos harness: HAProxy in front of N replicas of a real cookbook model server, each wrapped by the agent
and polling its own metadata emulator, a reclaimer, and a bounded load through the balancer.

Everything binds 127.0.0.1. Time is compressed: the AWS notice is 120 s; here the emulator posts
``notice_s`` (a few seconds) and the "cloud" SIGKILLs the replica at the notice's ``time``, whether or not it has
drained. The replica server is the ``onnx-embeddings`` recipe's (``python -m onnx_embeddings`` from that
recipe's own venv, found by ``SPOT_REPLICA_RECIPE``, default ``../onnx-embeddings``), serving
all-MiniLM-L6-v2 on ONNX Runtime with one intra-op thread.

Modes of a run (``Scenario``): ``agent`` (agent drains on notice) or bare server (nobody watches the notice:
the replica dies at the deadline with requests in flight); client ``retries`` on or off (``examples/retry_client``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import httpx

from .emulator import MetadataEmulator

log = logging.getLogger("spot_autoscaling.chaos")
logging.getLogger("httpx").setLevel(logging.WARNING)

RECIPE_DIR = Path(__file__).resolve().parent.parent
MODEL_NAME = "all-MiniLM-L6-v2"
RETRY_AFTER_S = 5  # the balancer's 503 when no replica is up


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_retry_module():
    """``examples/retry_client.py`` as a module: the load generator runs the snippet the page shows."""
    spec = importlib.util.spec_from_file_location("retry_client", RECIPE_DIR / "examples" / "retry_client.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def replica_recipe() -> Path:
    """The sibling recipe whose server the replicas run (``SPOT_REPLICA_RECIPE``, default ``../onnx-embeddings``)."""
    return Path(os.environ.get("SPOT_REPLICA_RECIPE", RECIPE_DIR.parent / "onnx-embeddings")).resolve()


def missing_parts() -> Optional[str]:
    """Why the chaos harness cannot run here (``None`` when it can): HAProxy or the sibling recipe's venv."""
    if shutil.which("haproxy") is None:
        return "haproxy is not installed (Debian package 'haproxy': apt-get install haproxy)"
    r = replica_recipe()
    if not (r / ".venv" / "bin" / "python").exists():
        return f"the replica recipe's venv {r}/.venv is missing (run `make -C {r} venv`, or set SPOT_REPLICA_RECIPE)"
    return None


def ensure_onnx_model(cache: Path = RECIPE_DIR / ".cache" / "onnx") -> Path:
    """Export all-MiniLM-L6-v2 to ONNX once with the sibling recipe's own exporter (skipped when up to date)."""
    if not (cache / "model.fp32.onnx").is_file():
        r = replica_recipe()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        subprocess.run([str(r / ".venv" / "bin" / "python"), "-m", "onnx_embeddings.export", "--out", str(cache)],
                       cwd=r, env=env, check=True, timeout=300, capture_output=True)
    return cache


@dataclass
class Timing:
    """Compressed timings (seconds). ``notice_s`` is what the agents budget for; the emulator posts
    ``notice_posted_s`` (rounded down to whole seconds, as the documented ``time`` field is)."""

    poll_interval_s: float = 0.2
    lb_inter_ms: int = 200
    lb_fall: int = 2
    lb_rise: int = 2
    drain_delay_s: float = 0.8
    drain_timeout_s: float = 1.5
    margin_s: float = 0.3
    notice_s: float = 3.5
    notice_posted_s: float = 4.5


class Replica:
    """One replica: the model server (under the agent, or bare) and its metadata emulator."""

    def __init__(self, idx: int, workdir: Path, onnx_dir: Path, timing: Timing, agent: bool) -> None:
        self.idx, self.workdir, self.onnx_dir, self.t, self.agent = idx, workdir, onnx_dir, timing, agent
        self.port = free_port()
        self.emu = MetadataEmulator(instance_id=f"i-{idx:017x}").start()
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = workdir / f"replica{idx}.log"
        self.killed_at: Optional[float] = None

    def env(self) -> dict[str, str]:
        t = self.t
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONNX_EMB_", "SPOT_"))}
        env.update({
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
            "ONNX_EMB_HOST": "127.0.0.1", "ONNX_EMB_PORT": str(self.port), "ONNX_EMB_ONNX_DIR": str(self.onnx_dir),
            "ONNX_EMB_EXPORT_ON_START": "false", "ONNX_EMB_INTRA_OP_THREADS": "1", "ONNX_EMB_LOG_LEVEL": "warning",
            "ONNX_EMB_DRAIN_DELAY_S": f"{t.drain_delay_s:g}", "ONNX_EMB_DRAIN_TIMEOUT_S": f"{t.drain_timeout_s:g}",
            "SPOT_PROVIDER": "aws", "SPOT_AWS_IMDS_URL": self.emu.url, "SPOT_POLL_INTERVAL_S": f"{t.poll_interval_s:g}",
            "SPOT_LB_CHECK_INTERVAL_S": f"{t.lb_inter_ms / 1000:g}", "SPOT_LB_UNHEALTHY_THRESHOLD": str(t.lb_fall),
            "SPOT_DRAIN_DELAY_S": f"{t.drain_delay_s:g}", "SPOT_DRAIN_TIMEOUT_S": f"{t.drain_timeout_s:g}",
            "SPOT_MARGIN_S": f"{t.margin_s:g}", "SPOT_NOTICE_S": f"{t.notice_s:g}",
            "SPOT_SERVER_ENV_PREFIX": "ONNX_EMB_", "SPOT_METADATA_TIMEOUT_S": "0.5",
            "PYTHONPATH": str(RECIPE_DIR),
        })
        return env

    def start(self) -> None:
        """Start (agent → server, or the bare server) in its own session, so the "cloud" can kill the group."""
        r = replica_recipe()
        server = [str(r / ".venv" / "bin" / "python"), "-m", "onnx_embeddings"]
        cmd = [sys.executable, "-m", "spot_autoscaling.agent", "--", *server] if self.agent else server
        self.killed_at = None
        self.emu.instance_action = None
        if getattr(self, "logf", None):
            self.logf.close()
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=r, env=self.env(), stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """The instance disappears: SIGKILL the whole process group (agent and server)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.killed_at = time.time()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        """Graceful stop (SIGTERM, then kill after 10 s); closes the emulator too."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.emu.stop()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


HAPROXY_CFG = """\
global
    maxconn 512
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 15s
    timeout server 15s
    timeout queue 2s
    timeout http-request 5s
    retries 2
    option redispatch 1
    errorfile 502 {dir}/502.http
    errorfile 503 {dir}/503.http
    errorfile 504 {dir}/504.http
frontend fe
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter {inter}ms fastinter {inter}ms downinter {inter}ms fall {fall} rise {rise}
{servers}
"""

ERRORFILE = ("HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
             "{extra}Connection: close\r\n\r\n"
             '{{"error": {{"message": "{msg}", "type": "server_error", "param": null, "code": "{ecode}"}}}}\n')


def write_errorfiles(d: Path) -> None:
    """OpenAI-shaped JSON bodies for the balancer's own 502/503/504; the 503 carries ``Retry-After``."""
    files = {502: ("Bad Gateway", "", "a replica failed while answering; safe requests may be retried",
                   "replica_failed"),
             503: ("Service Unavailable", f"Retry-After: {RETRY_AFTER_S}\r\n",
                   "no replica is available (all reclaimed or starting); retry after the Retry-After seconds",
                   "no_replica"),
             504: ("Gateway Timeout", "", "a replica did not answer in time", "replica_timeout")}
    for code, (reason, extra, msg, ecode) in files.items():
        (d / f"{code}.http").write_text(ERRORFILE.format(code=code, reason=reason, extra=extra, msg=msg, ecode=ecode))


class Balancer:
    """HAProxy (the Debian package's binary) in the foreground, health-checking ``/readyz`` of each replica."""

    def __init__(self, workdir: Path, replica_ports: list[int], t: Timing) -> None:
        self.workdir, self.port = workdir, free_port()
        self.sock = workdir / "haproxy.sock"
        write_errorfiles(workdir)
        servers = "\n".join(f"    server r{i} 127.0.0.1:{p} check" for i, p in enumerate(replica_ports))
        self.cfg = workdir / "haproxy.cfg"
        self.cfg.write_text(HAPROXY_CFG.format(sock=self.sock, dir=workdir, port=self.port, inter=t.lb_inter_ms,
                                               fall=t.lb_fall, rise=t.lb_rise, servers=servers))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        """Check the config (``haproxy -c``) and start it; raises ``CalledProcessError`` on a bad config."""
        subprocess.run(["haproxy", "-c", "-q", "-f", str(self.cfg)], check=True, capture_output=True, timeout=10)
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.cfg)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.workdir / "haproxy.log", "ab"))
        t0 = time.monotonic()
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() - t0 > 10:
                raise RuntimeError("haproxy did not start: " + (self.workdir / "haproxy.log").read_text()[-2000:])
            time.sleep(0.05)

    def states(self) -> dict[str, str]:
        """``{server: UP|DOWN|...}`` from the stats socket (``show stat``)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(self.sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        out = {}
        for line in data.decode().splitlines():
            f = line.split(",")
            if len(f) > 17 and f[0] == "replicas" and f[1] not in ("BACKEND", "FRONTEND"):
                out[f[1]] = f[17]
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Fleet:
    """N replicas behind one balancer, in a temporary folder. Context manager; ``ensure_up()`` replaces dead
    replicas (what the Auto Scaling group does) and waits until the balancer sees all of them UP."""

    def __init__(self, n: int = 4, agent: bool = True, timing: Optional[Timing] = None) -> None:
        self.t = timing or Timing()
        self.tmp = Path(tempfile.mkdtemp(prefix="spot-chaos-"))
        self.onnx_dir = ensure_onnx_model()
        self.replicas = [Replica(i, self.tmp, self.onnx_dir, self.t, agent) for i in range(n)]
        self.lb = Balancer(self.tmp, [r.port for r in self.replicas], self.t)

    def __enter__(self) -> "Fleet":
        try:
            self.lb.start()
            for r in self.replicas:
                r.start()
            self.ensure_up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        for r in self.replicas:
            r.stop()
        self.lb.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def set_agent(self, agent: bool) -> None:
        """Switch wrapping mode; takes effect for replicas (re)started afterwards."""
        for r in self.replicas:
            r.agent = agent

    def restart_all(self) -> None:
        for r in self.replicas:
            r.kill()
            r.start()
        self.ensure_up()

    def ensure_up(self, timeout_s: float = 60) -> float:
        """Start dead replicas and wait for all to be UP in the balancer; returns the seconds it took.
        Raises ``TimeoutError`` (with the replicas' log tails) when they do not come up."""
        t0 = time.monotonic()
        for r in self.replicas:
            if not r.alive():
                r.start()
        while time.monotonic() - t0 < timeout_s:
            st = self.lb.states()
            if len(st) == len(self.replicas) and all(v == "UP" for v in st.values()) \
                    and all(r.ready() for r in self.replicas):
                return time.monotonic() - t0
            for r in self.replicas:
                if r.proc is not None and r.proc.poll() is not None and r.proc.returncode not in (0, -9):
                    raise RuntimeError(f"replica {r.idx} exited {r.proc.returncode}: {r.log_text()[-2000:]}")
            time.sleep(0.1)
        tails = "\n".join(f"--- replica {r.idx}\n{r.log_text()[-1500:]}" for r in self.replicas)
        raise TimeoutError(f"replicas not UP after {timeout_s} s: {self.lb.states()}\n{tails}")


@dataclass
class Scenario:
    """One chaos run. ``reclaim``: replica indices to reclaim; ``reclaim_at``: load progress (fraction of
    requests sent) at which each notice is posted; ``notice_posted_s``: override of the emulator's notice."""

    name: str
    agent: bool = True
    retries: bool = True
    requests: int = 2000
    concurrency: int = 8
    reclaim: tuple[int, ...] = (0, 1)
    reclaim_at: tuple[float, ...] = (0.05, 0.2)
    notice_posted_s: Optional[float] = None
    attempt_timeout_s: float = 5.0
    max_s: float = 40.0


@dataclass
class Outcome:
    """What a scenario measured. Latencies in ms (client-side, through the balancer, retries included)."""

    name: str
    agent: bool
    retries: bool
    requests: int
    concurrency: int
    ok: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    retried_requests: int = 0
    attempts: int = 0
    duration_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    window_p50_ms: float = 0.0
    window_p99_ms: float = 0.0
    window_max_ms: float = 0.0
    window_requests: int = 0
    drain_s: list[float] = field(default_factory=list)
    notices: list[dict[str, float]] = field(default_factory=list)
    short_notice_warnings: int = 0
    client_cpu_s: float = 0.0
    client_cpu_pct: float = 0.0  # client CPU time ÷ load duration, % of one core
    timeline: list[list[float]] = field(default_factory=list)  # [t_start_s, latency_ms, ok 1/0]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` in [0, 100] of ``values`` (0.0 for an empty list)."""
    if not values:
        return 0.0
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100 * len(v) + 0.5)) - 1))
    return v[k]


async def _load(fleet: Fleet, sc: Scenario, out: Outcome) -> None:
    retry_mod = load_retry_module()
    sent = 0
    done: list[tuple[float, float, bool, str, int]] = []
    thresholds = sorted(zip(sc.reclaim_at, sc.reclaim))
    pending: list[asyncio.Task] = []
    t0 = time.time()

    async def reclaim(idx: int) -> None:
        r = fleet.replicas[idx]
        posted = sc.notice_posted_s if sc.notice_posted_s is not None else fleet.t.notice_posted_s
        deadline = r.emu.aws_interrupt(posted)
        out.notices.append({"replica": idx, "posted_s": round(time.time() - t0, 3),
                            "deadline_s": round(deadline - t0, 3)})
        await asyncio.sleep(max(0.0, deadline - time.time()))
        await asyncio.to_thread(r.kill)  # the cloud takes the instance back, drained or not

    async def one(client: httpx.AsyncClient, i: int) -> None:
        start = time.time()
        attempts = 0

        async def send() -> None:
            nonlocal attempts
            attempts += 1
            r = await client.post("/v1/embeddings", json={"model": MODEL_NAME, "input": f"request {i} on spot"})
            r.raise_for_status()
            if len(r.json()["data"][0]["embedding"]) != 384:
                raise ValueError("wrong embedding size")

        err = ""
        try:
            if sc.retries:
                from tenacity import AsyncRetrying
                async for attempt in AsyncRetrying(**retry_mod.policy(max_total_s=sc.max_s / 2)):
                    with attempt:
                        await send()
            else:
                await send()
        except httpx.HTTPStatusError as exc:
            err = f"HTTP {exc.response.status_code}"
        except httpx.HTTPError as exc:
            err = type(exc).__name__
        except ValueError as exc:
            err = f"bad body: {exc}"
        done.append((start - t0, (time.time() - start) * 1000, not err, err, attempts))

    limits = httpx.Limits(max_connections=sc.concurrency, max_keepalive_connections=sc.concurrency)
    timeout = httpx.Timeout(sc.attempt_timeout_s, connect=1.0)
    sem = asyncio.Semaphore(sc.concurrency)
    async with httpx.AsyncClient(base_url=fleet.lb.url, limits=limits, timeout=timeout) as client:
        async def gated(i: int) -> None:
            async with sem:
                await one(client, i)

        tasks = []
        for i in range(sc.requests):
            while thresholds and sent >= thresholds[0][0] * sc.requests:
                pending.append(asyncio.create_task(reclaim(thresholds.pop(0)[1])))
            await sem.acquire()
            sem.release()
            tasks.append(asyncio.create_task(gated(i)))
            sent += 1
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=sc.max_s)
        await asyncio.wait_for(asyncio.gather(*pending), timeout=sc.max_s)
    out.duration_s = round(time.time() - t0, 3)
    lat = [d[1] for d in done]
    out.ok = sum(1 for d in done if d[2])
    out.failed = len(done) - out.ok
    for d in done:
        if not d[2]:
            out.failures[d[3]] = out.failures.get(d[3], 0) + 1
    out.attempts = sum(d[4] for d in done)
    out.retried_requests = sum(1 for d in done if d[4] > 1)
    out.p50_ms, out.p99_ms, out.max_ms = (round(percentile(lat, 50), 2), round(percentile(lat, 99), 2),
                                          round(max(lat), 2))
    if out.notices:
        w0 = min(n["posted_s"] for n in out.notices)
        w1 = max(n["deadline_s"] for n in out.notices) + 1.0
        win = [d[1] for d in done if w0 <= d[0] <= w1]
        out.window_requests = len(win)
        if win:
            out.window_p50_ms, out.window_p99_ms = round(percentile(win, 50), 2), round(percentile(win, 99), 2)
            out.window_max_ms = round(max(win), 2)
    out.timeline = [[round(d[0], 4), round(d[1], 2), 1 if d[2] else 0] for d in sorted(done)]


DRAINED = re.compile(r"drained in ([0-9.]+) s")


def run_scenario(fleet: Fleet, sc: Scenario) -> Outcome:
    """Run ``sc`` on ``fleet`` (replicas restarted first if the wrapping mode changed or any is dead)."""
    if any(r.agent != sc.agent for r in fleet.replicas):
        fleet.set_agent(sc.agent)
        fleet.restart_all()
    fleet.ensure_up()
    logs_before = {r.idx: len(r.log_text()) for r in fleet.replicas}
    out = Outcome(sc.name, sc.agent, sc.retries, sc.requests, sc.concurrency)
    cpu0 = time.process_time()
    asyncio.run(_load(fleet, sc, out))
    out.client_cpu_s = round(time.process_time() - cpu0, 3)
    out.client_cpu_pct = round(100 * out.client_cpu_s / out.duration_s, 1) if out.duration_s else 0.0
    for r in fleet.replicas:
        new = r.log_text()[logs_before[r.idx]:]
        out.drain_s += [float(x) for x in DRAINED.findall(new)]
        out.short_notice_warnings += new.count("notice shorter than the drain needs")
    log.info("%s: %d ok, %d failed %s, p50 %.1f ms, p99 %.1f ms, drains %s", sc.name, out.ok, out.failed,
             out.failures, out.p50_ms, out.p99_ms, out.drain_s)
    return out


def probe_all_down(fleet: Fleet, n: int = 20, notice_s: Optional[float] = None) -> dict[str, Any]:
    """Reclaim every replica at once (correlated reclaim), then send ``n`` requests with no retries.

    Returns what the clients saw once the balancer had no replica up: statuses, ``Retry-After`` values, JSON
    error codes and the slowest answer (ms). ``notice_s``: the notice posted (default ``timing.notice_posted_s``).
    """
    t = fleet.t
    deadlines = [r.emu.aws_interrupt(notice_s or t.notice_posted_s) for r in fleet.replicas]
    t0 = time.time()
    time.sleep(max(0.0, max(deadlines) - time.time()))
    for r in fleet.replicas:
        r.kill()
    while any(v == "UP" for v in fleet.lb.states().values()) and time.time() - t0 < 15:
        time.sleep(0.05)
    statuses, retry_after, codes, worst = [], [], [], 0.0
    with httpx.Client(base_url=fleet.lb.url, timeout=5) as c:
        for i in range(n):
            s = time.time()
            r = c.post("/v1/embeddings", json={"model": MODEL_NAME, "input": f"all down {i}"})
            worst = max(worst, (time.time() - s) * 1000)
            statuses.append(r.status_code)
            retry_after.append(r.headers.get("Retry-After"))
            try:
                codes.append(r.json()["error"]["code"])
            except (ValueError, KeyError, TypeError):
                codes.append(None)
    drains = [float(x) for r in fleet.replicas for x in DRAINED.findall(r.log_text())]
    return {"requests": n, "statuses": sorted(set(statuses)), "retry_after": sorted(set(map(str, retry_after))),
            "error_codes": sorted(set(map(str, codes))), "max_ms": round(worst, 2),
            "seconds_until_all_down": round(time.time() - t0, 3), "lb_states": fleet.lb.states(),
            "drains_logged": len(drains)}


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    """Median of drain durations etc. for the results file."""
    drains = [d for o in outcomes for d in o.drain_s]
    return {"drain_s_median": round(statistics.median(drains), 3) if drains else None,
            "drain_s_max": round(max(drains), 3) if drains else None, "drains": len(drains)}
