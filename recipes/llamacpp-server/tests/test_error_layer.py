"""The guard's last-line error layer (``guard.call_shielded``) against small ASGI apps that fail on purpose.

Unit tests of the layer alone: the real server's routes are covered black-box in test_hostile.py; here the
point is what happens when an inner app misbehaves in ways no request we can craft triggers today.
"""

from __future__ import annotations

import json

import anyio

from llamacpp_server.guard import call_shielded


def _run(app) -> tuple[int, dict, dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/x", "headers": []}
    anyio.run(call_shielded, app, scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), json.loads(body)


def _answer(status: int, body: bytes, headers=()):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *headers]})
        await send({"type": "http.response.body", "body": body})
    return app


SECRET = 'Traceback (most recent call last):\n  File "/srv/app/.venv/lib/python3.11/site-packages/x.py", line 1'


def test_exception_before_the_response_is_a_generic_500():
    async def app(scope, receive, send):
        raise KeyError(SECRET)

    status, _, body = _run(app)
    assert status == 500
    assert body["error"]["type"] == "server_error" and "Traceback" not in json.dumps(body)


def test_library_500_with_a_traceback_is_rewritten():
    status, _, body = _run(_answer(500, json.dumps({"error": {"message": SECRET}}).encode()))
    assert status == 500 and SECRET not in json.dumps(body) and "site-packages" not in json.dumps(body)
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_fastapi_detail_4xx_becomes_openai_shape_and_keeps_allow():
    status, headers, body = _run(_answer(405, b'{"detail": "Method Not Allowed"}', [(b"allow", b"GET")]))
    assert status == 405 and headers[b"allow"] == b"GET"
    assert body == {"error": {"message": "Method Not Allowed", "type": "invalid_request_error", "param": None,
                              "code": "method_not_allowed"}}


def test_openai_shaped_4xx_passes_through():
    err = {"message": "too long", "type": "invalid_request_error", "param": "messages",
           "code": "context_length_exceeded"}
    status, _, body = _run(_answer(400, json.dumps({"error": err}).encode()))
    assert status == 400 and body == {"error": err}


def test_success_passes_through_untouched():
    status, _, body = _run(_answer(200, b'{"ok": true}'))
    assert status == 200 and body == {"ok": True}
