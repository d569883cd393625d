"""SIGTERM under load: readiness flips first, in-flight requests finish, none is lost, exit status 0."""

import asyncio
import signal
import time

import httpx

from onnx_embeddings.launcher import ServerProcess

from .conftest import MODELS, SENTENCES


def test_sigterm_under_load_drains(onnx_paths, tmp_path):
    srv = ServerProcess(log_path=tmp_path / "server.log", ONNX_EMB_ONNX_DIR=str(MODELS),
                        ONNX_EMB_DRAIN_DELAY_S="1.5", ONNX_EMB_MAX_QUEUE="100000")
    url = srv.url
    try:
        srv.start()
        n = 64

        async def scenario():
            async with httpx.AsyncClient(base_url=url, timeout=60,
                                         limits=httpx.Limits(max_connections=n)) as c:
                # each request carries 8 sentences: ~500 sentences of work, > 0.5 s on 2 cores
                tasks = [asyncio.create_task(c.post("/v1/embeddings", json={"input": SENTENCES}))
                         for _ in range(n)]
                await asyncio.sleep(0.3)  # requests are in flight
                assert not all(t.done() for t in tasks), "load finished before SIGTERM; raise n"
                srv.sigterm()
                t0 = time.monotonic()
                readiness = []
                async with httpx.AsyncClient(base_url=url, timeout=5) as probe:
                    while time.monotonic() - t0 < 1.0:
                        try:
                            r = await probe.get("/readyz")
                            readiness.append(r.status_code)
                            if r.status_code == 503:
                                body = r.json()
                                assert body["status"] == "draining" and r.headers["Retry-After"], body
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
        assert srv.wait(60) == 0, srv.logs()[-3000:]
        assert "draining" in srv.logs()
        # after exit, nothing listens any more
        try:
            httpx.get(url + "/healthz", timeout=2)
            raise AssertionError("server still answering after exit")
        except httpx.TransportError:
            pass
    finally:
        srv.kill()


def test_after_the_delay_new_requests_get_503(onnx_paths, tmp_path):
    """Drain policy: past ONNX_EMB_DRAIN_DELAY_S a new request is refused (503 + Retry-After, OpenAI shape)
    while in-flight ones still hold the drain open, and those finish."""
    srv = ServerProcess(log_path=tmp_path / "server.log", ONNX_EMB_ONNX_DIR=str(MODELS),
                        ONNX_EMB_DRAIN_DELAY_S="0.3", ONNX_EMB_DRAIN_TIMEOUT_S="60",
                        ONNX_EMB_MAX_QUEUE="100000")
    try:
        srv.start()

        async def scenario():
            async with httpx.AsyncClient(base_url=srv.url, timeout=60,
                                         limits=httpx.Limits(max_connections=130)) as c:
                # 120 requests x 8 sentences keep the worker busy for > 1.5 s on 2 cores
                work = [asyncio.create_task(c.post("/v1/embeddings", json={"input": SENTENCES}))
                        for _ in range(120)]
                await asyncio.sleep(0.3)
                srv.sigterm()
                await asyncio.sleep(0.5)  # past the 0.3 s delay, while work is still in flight
                assert not all(t.done() for t in work), "work finished before the delay ended; raise its size"
                late = await c.post("/v1/embeddings", json={"input": "late"})
                done = await asyncio.gather(*work, return_exceptions=True)
                return late, done

        late, done = asyncio.run(scenario())
        assert late.status_code == 503 and late.headers.get("Retry-After") == "1", late.text
        assert late.json()["error"]["code"] == "not_ready" and "draining" in late.json()["error"]["message"]
        assert all(isinstance(r, httpx.Response) and r.status_code == 200 for r in done)
        assert srv.wait(60) == 0, srv.logs()[-3000:]
    finally:
        srv.kill()


def test_second_signal_stops_at_once(onnx_paths, tmp_path):
    """With a long drain delay, a second SIGTERM ends the process well before the delay is over."""
    srv = ServerProcess(log_path=tmp_path / "server.log", ONNX_EMB_ONNX_DIR=str(MODELS),
                        ONNX_EMB_DRAIN_DELAY_S="30")
    try:
        srv.start()
        srv.sigterm()
        time.sleep(0.3)
        assert srv.proc.poll() is None, "exited before the drain delay"
        r = httpx.get(srv.url + "/readyz", timeout=5)
        assert r.status_code == 503 and r.json() == {"status": "draining", "models": ["all-MiniLM-L6-v2"],
                                                     "detail": "shutting down"}
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.wait(10) == 0, srv.logs()[-3000:]
        assert time.monotonic() - t0 < 5
    finally:
        srv.kill()
