"""Auth, CORS and SIGTERM draining, against a second server of each recipe started with an API key, one CORS
origin, ``DRAIN_DELAY_S=1`` and ``DRAIN_TIMEOUT_S=60``. The drain test runs last and stops that server."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
from cases import error_shape_problem
from conftest import ALLOWED_ORIGIN, API_KEY, RECIPES, check
from server import first_model

EVIL = "http://evil.example"
AUTH = {"authorization": f"Bearer {API_KEY}"}
#: Longest time after SIGTERM that /readyz may still answer 200 (seconds): the signal is handled asynchronously.
READY_FLIP_S = 0.25
SKIP_PATHS = re.compile(r"^/(healthz|readyz|metrics|docs.*|redoc.*|openapi\.json|)$")


def model_endpoints(srv, spec, model: str) -> list[tuple[str, str]]:
    """``(method, path)`` of every model endpoint: the OpenAPI document's operations (probes, metrics and docs
    excluded), plus each declared API's own endpoints."""
    eps: set[tuple[str, str]] = set()
    for api in spec.api:
        eps |= {"openai-chat": {("GET", "/v1/models"), ("POST", "/v1/chat/completions")},
                "openai-completions": {("GET", "/v1/models"), ("POST", "/v1/completions")},
                "openai-embeddings": {("GET", "/v1/models"), ("POST", "/v1/embeddings")},
                "kserve-v2": {("GET", f"/v2/models/{model}"), ("POST", f"/v2/models/{model}/infer")},
                "ollama": {("GET", "/api/tags"), ("POST", "/api/chat")}}[api]
    if spec.openapi_path:
        doc = httpx.get(srv.url + spec.openapi_path, headers={"authorization": f"Bearer {API_KEY}"},
                        timeout=10).json()
        for path, item in doc.get("paths", {}).items():
            if SKIP_PATHS.match(path) or path in (spec.live_path, spec.ready_path, spec.metrics_path):
                continue
            concrete = re.sub(r"\{[^}]*model[^}]*\}", model, path)
            concrete = re.sub(r"\{[^}]+\}", "x", concrete)
            eps |= {(m.upper(), concrete) for m in item if m in ("get", "post", "put", "patch", "delete")}
    return sorted(eps)


def _api_of(spec) -> str:
    return spec.api[0]


@check("auth.bearer")
def test_key_required_on_every_model_endpoint_probes_open(recipe, keyed_server, spec):
    srv = keyed_server
    model = first_model(spec, srv.url, _api_of(spec), headers=AUTH)
    problems = []
    for method, path in model_endpoints(srv, spec, model):
        for label, headers in (("no key", {}), ("wrong key", {"authorization": "Bearer sk-wrong"}),
                               ("not bearer", {"authorization": API_KEY})):
            r = httpx.request(method, srv.url + path, headers={**headers, "content-type": "application/json"},
                              content=b"{}" if method != "GET" else None, timeout=30)
            if r.status_code != 401:
                problems.append(f"{method} {path} ({label}): {r.status_code} {r.text[:200]}")
                continue
            if "bearer" not in r.headers.get("www-authenticate", "").lower():
                problems.append(f"{method} {path} ({label}): 401 without WWW-Authenticate: Bearer")
            shape = error_shape_problem(_api_of(spec), r.status_code, r.text, r.headers.get("content-type", ""))
            if shape:
                problems.append(f"{method} {path} ({label}): 401 body {shape}: {r.text[:200]}")
    for path in (spec.live_path, spec.ready_path):
        r = httpx.get(srv.url + path, timeout=10)
        if r.status_code != 200:
            problems.append(f"probe {path} without a key: {r.status_code}")
    r = httpx.get(srv.metrics_url + spec.metrics_path, timeout=10)
    if r.status_code != 200:
        problems.append(f"{spec.metrics_path} without a key: {r.status_code}")
    ok = httpx.get(srv.url + "/v1/models" if _api_of(spec).startswith("openai-") else srv.url + spec.ready_path,
                   headers={"authorization": f"Bearer {API_KEY}"}, timeout=10)
    if ok.status_code != 200:
        problems.append(f"the right key was refused: {ok.status_code} {ok.text[:200]}")
    assert not problems, "\n".join(problems)


def _preflight(url: str, path: str, origin: str) -> httpx.Response:
    return httpx.options(url + path, headers={"origin": origin, "access-control-request-method": "POST",
                                              "access-control-request-headers": "authorization,content-type"},
                         timeout=10)


def _main_path(spec) -> str:
    return {"openai-chat": "/v1/chat/completions", "openai-completions": "/v1/completions",
            "openai-embeddings": "/v1/embeddings", "kserve-v2": "/v2/health/ready", "ollama": "/api/chat"}[
        _api_of(spec)]


@check("cors")
def test_cors_off_by_default_and_exact_when_configured(recipe, default_server, keyed_server, spec):
    path = _main_path(spec)
    off = _preflight(default_server.url, path, EVIL)
    assert "access-control-allow-origin" not in off.headers, f"CORS on without configuration: {off.headers}"
    allowed = _preflight(keyed_server.url, path, ALLOWED_ORIGIN)
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN, (allowed.status_code,
                                                                                  dict(allowed.headers))
    evil = _preflight(keyed_server.url, path, EVIL)
    assert evil.headers.get("access-control-allow-origin") not in (EVIL, "*"), dict(evil.headers)


def load_requests(spec, model: str, url: str, headers: dict[str, str]) -> list[tuple[str, dict]]:
    """In-flight work for the drain test: requests that take a while together but finish well inside 60 s."""
    api = _api_of(spec)
    if api == "openai-chat":
        return [("/v1/chat/completions", {"model": model, "max_tokens": 12, "temperature": 0,
                                          "messages": [{"role": "user", "content": f"Count to {i + 5}."}]})
                for i in range(4)]
    if api == "openai-completions":
        return [("/v1/completions", {"model": model, "prompt": f"Count to {i + 5}:", "max_tokens": 12})
                for i in range(4)]
    if api == "openai-embeddings":
        return [("/v1/embeddings", {"model": model, "input": [f"sentence {i} {j} about cats" for j in range(8)]})
                for i in range(64)]
    if api == "kserve-v2":
        name = httpx.get(f"{url}/v2/models/{model}", headers=headers, timeout=10).json()["inputs"][0]["name"]
        return [(f"/v2/models/{model}/infer", {"inputs": [{"name": name,
                                                           "shape": [8, 1], "datatype": "BYTES",
                                                           "data": [f"sentence {i} {j}" for j in range(8)]}]})
                for i in range(64)]
    return [("/api/chat", {"model": model, "stream": False, "options": {"num_predict": 12},
                           "messages": [{"role": "user", "content": f"Count to {i + 5}."}]}) for i in range(4)]


@check("drain.sigterm")
def test_sigterm_under_load_finishes_in_flight_and_exits_0(recipe, keyed_server, spec):
    srv = keyed_server
    auth = AUTH
    api = _api_of(spec)
    model = first_model(spec, srv.url, api, headers=auth)
    work = load_requests(spec, model, srv.url, auth)

    async def scenario():
        async with httpx.AsyncClient(base_url=srv.url, headers=auth, timeout=120,
                                     limits=httpx.Limits(max_connections=len(work) + 4)) as c:
            tasks = [asyncio.create_task(c.post(p, content=json.dumps(b), headers={"content-type":
                                                                                   "application/json"}))
                     for p, b in work]
            await asyncio.sleep(0.3)
            assert not all(t.done() for t in tasks), "the load finished before SIGTERM; the test needs more work"
            srv.sigterm()
            t0 = time.monotonic()
            seen = []
            while time.monotonic() - t0 < 0.9:
                sent = round(time.monotonic() - t0, 3)  # when the probe was sent: a busy server answers late
                try:
                    status = (await c.get(spec.ready_path, headers={})).status_code
                except httpx.TransportError:
                    status = "refused"
                seen.append((sent, status))
                await asyncio.sleep(0.05)
            return seen, await asyncio.gather(*tasks, return_exceptions=True)

    seen, responses = asyncio.run(scenario())
    # "at once": every probe sent READY_FLIP_S or more after the signal (one probe round trip while the process
    # handles the signal) is not 200, there is at least one such probe, and readiness never returns to 200
    # once it was not
    late = [st for t, st in seen if t >= READY_FLIP_S]
    assert late and all(st != 200 for st in late), f"readiness after SIGTERM (probe sent at s, status): {seen}"
    first_not_ready = next(t for t, st in seen if st != 200)
    assert all(st != 200 for t, st in seen if t >= first_not_ready), f"ready again while draining: {seen}"
    failed = [r if isinstance(r, Exception) else f"{r.status_code} {r.text[:200]}" for r in responses
              if isinstance(r, Exception) or r.status_code != 200]
    assert not failed, f"{len(failed)} of {len(work)} in-flight requests lost: {failed[:3]}"
    code = srv.proc.wait(timeout=90)
    assert code == 0, f"exit status {code}:\n{srv.logs()}"
    assert "drain" in srv.logs().lower(), srv.logs()
