"""Probes and metrics: ``/healthz`` and ``/readyz`` with the one documented body shape, ``/metrics`` as
Prometheus text (CONTRIBUTING.md, "Server conventions"). APIs with their own probe paths (KServe v2:
``/v2/health/live``, ``/v2/health/ready``) use those, and the protocol's own (empty) bodies."""

from __future__ import annotations

import httpx
from conftest import body_json, check
from prometheus_client.parser import text_string_to_metric_families


@check("probes.healthz")
def test_liveness(recipe, default_server, spec):
    r = httpx.get(default_server.url + spec.live_path, timeout=10)
    assert r.status_code == 200, r.text[:500]
    if spec.live_path == "/healthz":
        assert body_json(r) == {"status": "ok"}


@check("probes.readyz")
def test_readiness(recipe, default_server, spec):
    r = httpx.get(default_server.url + spec.ready_path, timeout=10)
    assert r.status_code == 200, r.text[:500]
    if spec.ready_path == "/readyz":
        body = body_json(r)
        assert set(body) == {"status", "models", "detail"}, body
        assert body["status"] == "ready" and body["detail"] is None, body
        assert body["models"] and all(isinstance(m, str) for m in body["models"]), body


@check("metrics")
def test_metrics_are_prometheus_text(recipe, default_server, spec):
    r = httpx.get(default_server.metrics_url + spec.metrics_path, timeout=10)
    assert r.status_code == 200, r.text[:500]
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers
    families = list(text_string_to_metric_families(r.text))
    assert families, "no metric families"
