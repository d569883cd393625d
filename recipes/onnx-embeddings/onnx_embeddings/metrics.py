"""Prometheus metrics of the service, in a per-app registry (several apps can live in one process, e.g. tests).

Names carry the ``onnx_emb_`` prefix; ``GET /metrics`` renders the registry in the Prometheus text format.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
"""Request latency buckets (seconds): 1 ms (a probe) to 10 s (a full queue of long inputs)."""


class Metrics:
    """The service's metrics.

    latency{route,status} (s), batch_size (sentences per ``session.run``), infer_seconds (s per
    ``session.run``), queue_depth (sentences waiting), tokens (input tokens embedded), rejected{reason}
    (requests refused before inference: validation, body_too_large, too_many_inputs, too_many_tokens,
    not_ready, queue_full).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram("onnx_emb_request_duration_seconds", "HTTP request latency (s)",
                                 ["route", "status"], registry=r, buckets=LATENCY_BUCKETS)
        self.batch_size = Histogram("onnx_emb_batch_size", "sentences per ORT session.run", registry=r,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.infer_seconds = Histogram("onnx_emb_inference_seconds", "duration of one ORT session.run (s)",
                                       registry=r, buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
        self.queue_depth = Gauge("onnx_emb_queue_depth", "sentences waiting for a batch", registry=r)
        self.tokens = Counter("onnx_emb_tokens", "input tokens embedded", registry=r)
        self.rejected = Counter("onnx_emb_rejected", "requests refused before inference", ["reason"], registry=r)

    def on_batch(self, n: int, seconds: float) -> None:
        """Batcher hook: one ``session.run`` of ``n`` sentences took ``seconds``."""
        self.batch_size.observe(n)
        self.infer_seconds.observe(seconds)

    def track_queue(self, depth: Callable[[], int]) -> None:
        """Read ``onnx_emb_queue_depth`` from ``depth()`` at scrape time."""
        self.queue_depth.set_function(depth)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of ``GET /metrics``: the Prometheus text exposition format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
