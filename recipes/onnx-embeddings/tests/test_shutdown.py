"""SIGTERM under load: readiness flips first, in-flight requests finish, none is lost, exit status 0."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx

from .conftest import MODELS, RECIPE, SENTENCES, free_port, wait_ready


def test_sigterm_under_load_drains(onnx_paths, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    env = {**os.environ, "ONNX_EMB_PORT": str(port), "ONNX_EMB_ONNX_DIR": str(MODELS),
           "ONNX_EMB_DRAIN_SECONDS": "1.5", "ONNX_EMB_MAX_QUEUE": "100000"}
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "onnx_embeddings"], cwd=RECIPE, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    try:
        wait_ready(url, proc)
        n = 64

        async def scenario():
            async with httpx.AsyncClient(base_url=url, timeout=60,
                                         limits=httpx.Limits(max_connections=n)) as c:
                # each request carries 8 sentences: ~500 sentences of work, > 0.5 s on 2 cores
                tasks = [asyncio.create_task(c.post("/v1/embeddings", json={"input": SENTENCES}))
                         for _ in range(n)]
                await asyncio.sleep(0.3)  # requests are in flight
                assert not all(t.done() for t in tasks), "load finished before SIGTERM; raise n"
                proc.send_signal(signal.SIGTERM)
                t0 = time.monotonic()
                readiness = []
                async with httpx.AsyncClient(base_url=url, timeout=5) as probe:
                    while time.monotonic() - t0 < 1.0:
                        try:
                            readiness.append((await probe.get("/readyz")).status_code)
                        except httpx.TransportError:
                            readiness.append("refused")
                        await asyncio.sleep(0.05)
                responses = await asyncio.gather(*tasks, return_exceptions=True)
                return readiness, responses

        readiness, responses = asyncio.run(scenario())
        assert 503 in readiness, readiness
        assert 200 not in readiness[readiness.index(503):], readiness  # once not ready, never ready again
        errors = [r for r in responses if not isinstance(r, httpx.Response)]
        assert not errors, errors[:3]
        assert [r.status_code for r in responses] == [200] * n
        assert all(len(r.json()["data"]) == len(SENTENCES) for r in responses)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        assert "draining" in log.read_text()
        # after exit, nothing listens any more
        try:
            httpx.get(url + "/healthz", timeout=2)
            raise AssertionError("server still answering after exit")
        except httpx.TransportError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
