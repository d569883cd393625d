"""Hostile input: every case of ``cases.cases_for`` gets a 4xx, in the API's error shape, with nothing internal
in the body, and the server still answers its liveness probe afterwards. Each case runs once per transport:
``http`` against the real server (uvicorn/Triton/vLLM on a socket), ``asgi`` in-process for recipes that declare
``serve.asgi_app`` (seconds, no socket; same requests, same rules)."""

from __future__ import annotations

from cases import error_shape_problem, leaks
from conftest import check, outcomes


def _outcome(recipe, api, transport, case_name):
    return outcomes(recipe, api, transport)[case_name]


def test_rejected_with_4xx_and_still_serving(recipe, api, transport, check, case_name):
    o = _outcome(recipe, api, transport, case_name)
    assert o.transport_error is None, f"no HTTP answer: {o.transport_error}"
    assert o.status is not None and 400 <= o.status < 500, f"{o.status}: {o.body[:600]}"
    assert o.alive_after, "the liveness probe failed after this request"


@check("errors.shape")
def test_error_in_api_shape(recipe, api, transport, check, case_name):
    o = _outcome(recipe, api, transport, case_name)
    problem = error_shape_problem(api, o.status, o.body, o.content_type)
    assert problem is None, f"{problem}: {o.status} {o.body[:600]}"


@check("errors.no-leak")
def test_error_leaks_nothing_internal(recipe, api, transport, check, case_name):
    o = _outcome(recipe, api, transport, case_name)
    found = leaks(o.body)
    assert not found, f"{found} in: {o.body[:1500]}"


def test_valid_request_succeeds(recipe, api, transport, check, case_name):
    """The control: the same endpoint with a valid body answers 200 (so the 4xx above are not a broken server)."""
    o = _outcome(recipe, api, transport, case_name)
    assert o.status == 200, f"{o.status}: {o.body[:600]}"
