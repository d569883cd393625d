"""Beyond capacity: more concurrent requests than ``--max-num-seqs`` (8 in the test server) wait in
vLLM's queue (``vllm:num_requests_waiting``) and all finish in bounded time; nothing hangs or fails."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from conftest import MODEL, metric

pytestmark = pytest.mark.slow


def test_requests_beyond_max_num_seqs_queue_and_complete(client, base_url):
    n, results, waiting = 16, [], [0.0]
    done = threading.Event()

    def poll():
        with httpx.Client(timeout=5) as h:
            while not done.is_set():
                text = h.get(base_url + "/metrics").text
                waiting[0] = max(waiting[0], metric(text, "vllm:num_requests_waiting"))
                time.sleep(0.05)

    def one():
        r = client.completions.create(model=MODEL, prompt="Count: 1, 2,", max_tokens=48, temperature=0,
                                      extra_body={"ignore_eos": True})
        results.append(r.usage.completion_tokens)

    t0 = time.monotonic()
    poller = threading.Thread(target=poll)
    poller.start()
    workers = [threading.Thread(target=one) for _ in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(180)
    done.set()
    poller.join(10)
    assert results == [48] * n, results
    assert waiting[0] >= 1, "no request ever waited: the queue was not exercised"
    assert time.monotonic() - t0 < 180
