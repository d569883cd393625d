"""Autoscaling on the real cluster (serve_config.yaml's tuned delays): a burst of 12 concurrent clients makes
Serve add Embedder replicas; one replica's process is SIGKILLed mid-load; no request fails; after the load the
deployment goes back to one replica. Bounded: at most ~25 s of load and 6,000 requests on 127.0.0.1."""

import asyncio
import os
import signal
import time

import aiohttp

from conftest import API_KEY
from ray_serve_recipe.bench import connect, replica_counts

BODY = {"model": "all-MiniLM-L6-v2", "input": "Autoscaling adds replicas when requests queue up."}


def embedder_replicas(server) -> list[dict]:
    connect(server.state)
    return replica_counts().get("Embedder", [])


def test_scale_up_kill_and_back_without_failures(server):
    results, samples, killed = [], [], {}

    async def go():
        t0 = time.monotonic()
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as s:
            async def client():
                while time.monotonic() - t0 < 25 and len(results) < 6000:
                    try:
                        async with s.post(server.url + "/v1/embeddings", json=BODY) as r:
                            await r.read()
                            results.append(r.status)
                    except aiohttp.ClientError as exc:
                        results.append(repr(exc))

            async def watch():
                while time.monotonic() - t0 < 25:
                    reps = await asyncio.to_thread(embedder_replicas, server)
                    samples.append((time.monotonic() - t0, len(reps)))
                    if len(reps) >= 2 and not killed:
                        os.kill(int(reps[-1]["pid"]), signal.SIGKILL)  # a crash, mid-load
                        killed.update(t=time.monotonic() - t0, pid=reps[-1]["pid"])
                    await asyncio.sleep(0.5)

            await asyncio.gather(watch(), *(client() for _ in range(12)))

    asyncio.run(go())
    assert max(n for _, n in samples) >= 2, f"never scaled up: {samples}"
    assert killed, "no replica to kill"
    failures = [r for r in results if r != 200]
    assert not failures and len(results) > 100, (failures[:5], len(results))
    deadline = time.monotonic() + 60  # tuned downscale_delay_s is 10 s
    while time.monotonic() < deadline and len(embedder_replicas(server)) > 1:
        time.sleep(1)
    n = len(embedder_replicas(server))
    import ray

    ray.shutdown()  # leave the cluster before the drain test stops it (a driver outliving its GCS exits)
    assert n == 1, "did not scale back to one replica within 60 s"
