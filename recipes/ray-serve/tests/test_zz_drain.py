"""SIGTERM under load (runs last: it stops the session's cluster): readiness turns 503 'draining' at once,
every in-flight request completes with 200, the launcher exits 0 and leaves no Ray process behind."""

import signal
import threading
import time

import httpx
from ray_serve_recipe.cluster import cluster_processes

from conftest import API_KEY

CHAT = {"model": "SmolLM2-135M-Instruct", "messages": [{"role": "user", "content": "Count to twenty."}],
        "max_tokens": 32, "temperature": 0}


def test_sigterm_drains_in_flight_and_exits_0(server):
    statuses = []

    def call():
        r = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=120,
                       headers={"Authorization": f"Bearer {API_KEY}"})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    r = httpx.get(server.url + "/readyz", timeout=10)
    assert r.status_code == 503 and r.json()["status"] == "draining" and r.headers.get("retry-after")
    for t in threads:
        t.join(120)
    assert statuses == [200, 200, 200]
    assert server.proc.wait(90) == 0
    alive = cluster_processes(server.state["temp_dir"])
    assert not alive, f"Ray processes left: {alive}"
    log = open(server.proc.log_path).read()
    assert "drained in" in log
