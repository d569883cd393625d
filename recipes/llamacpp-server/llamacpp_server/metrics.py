"""Prometheus metrics for the server (prometheus-client, one registry per app).

Names follow Prometheus conventions (seconds, ``_total`` counters). Scrape ``GET /metrics``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Buckets in seconds: TTFT of a 135M model on CPU is tens of ms, a 256-token answer a few s.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The server's metrics, registered on their own ``CollectorRegistry``.

    Attributes (label names in brackets):
      requests: Counter ``llamacpp_requests_total[route, status]`` - finished generation requests.
      rejected: Counter ``llamacpp_rejected_total[reason]`` - refused before generation
        (``queue_full`` 429, ``queue_timeout`` 503, ``draining`` 503, ``invalid`` 4xx, ``client_gone``).
      latency: Histogram ``llamacpp_request_duration_seconds[route, stream]`` - end-to-end, incl. queue.
      queue_wait: Histogram ``llamacpp_queue_wait_seconds`` - time waiting for a generation slot.
      ttft: Histogram ``llamacpp_time_to_first_token_seconds[route]`` - streaming only, first SSE data event.
      tokens: Counter ``llamacpp_tokens_total[kind]`` - ``prompt`` and ``completion`` tokens
        (from ``usage``; streamed completions count one token per content chunk).
      in_flight: Gauge ``llamacpp_in_flight_requests`` - generating now.
      queued: Gauge ``llamacpp_queued_requests`` - waiting for a slot.
      ready: Gauge ``llamacpp_ready`` - 1 when models are loaded and the server is not draining.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("llamacpp_requests", "Generation requests by final HTTP status",
                                ["route", "status"], registry=r)
        self.rejected = Counter("llamacpp_rejected", "Requests refused before generation", ["reason"],
                                registry=r)
        self.latency = Histogram("llamacpp_request_duration_seconds", "End-to-end request latency",
                                 ["route", "stream"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_wait = Histogram("llamacpp_queue_wait_seconds", "Time waiting for a generation slot",
                                    buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("llamacpp_time_to_first_token_seconds", "Time to first streamed token",
                              ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("llamacpp_tokens", "Prompt and completion tokens", ["kind"], registry=r)
        self.in_flight = Gauge("llamacpp_in_flight_requests", "Requests generating now", registry=r)
        self.queued = Gauge("llamacpp_queued_requests", "Requests waiting for a slot", registry=r)
        self.ready = Gauge("llamacpp_ready", "1 when ready to serve", registry=r)
