"""schemathesis over every operation of the server's own OpenAPI document, every check, bounded.

Excluded check, with the reason: ``positive_data_acceptance`` — it fails whenever a server refuses a
schema-valid request for a reason JSON Schema cannot express (a model id that is not served, a prompt longer
than the loaded model's context, ``dimensions`` other than the model's). Those refusals are documented 4xx,
which ``status_code_conformance`` and ``response_schema_conformance`` still verify.

Runs the CLI (schemathesis 4.32.5's pytest plugin does not load under pytest 9.2). Recipes without an OpenAPI
document (``serve.openapi_path: null``) must declare the ``schemathesis`` deviation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import body_json, check

EXCLUDED = {"positive_data_acceptance": "schema-valid requests refused for model-dependent limits (see module doc)"}
MAX_EXAMPLES = int(os.environ.get("CONFORMANCE_MAX_EXAMPLES", "25"))


def _openapi(srv, spec) -> dict:
    if spec.openapi_path is None:
        pytest.fail("the server publishes no OpenAPI document")
    r = httpx.get(srv.url + spec.openapi_path, timeout=10)
    assert r.status_code == 200, r.text[:300]
    return body_json(r)


@check("schemathesis")
def test_schemathesis_every_operation(recipe, default_server, spec, tmp_path):
    doc = _openapi(default_server, spec)
    n_ops = sum(1 for item in doc.get("paths", {}).values() for m in item
                if m in ("get", "post", "put", "patch", "delete"))
    st = Path(sys.executable).parent / "schemathesis"
    cmd = [str(st), "run", default_server.url + spec.openapi_path, "--url", default_server.url,
           "--checks", "all", "--exclude-checks", ",".join(EXCLUDED), "--max-examples", str(MAX_EXAMPLES),
           "--generation-deterministic", "--request-timeout", "60", "--workers", "1", "--warnings", "off"]
    env = {**os.environ, "NO_COLOR": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-8000:]
    tested = re.search(r"Tested:\s*(\d+)", report)
    assert tested and int(tested.group(1)) == n_ops, f"not every operation was tested ({n_ops} in the " \
                                                     f"document):\n{report[-3000:]}"


@check("auth.openapi-no-security")
def test_openapi_declares_no_security_without_a_key(recipe, default_server, spec):
    doc = _openapi(default_server, spec)
    assert not doc.get("security"), doc.get("security")
    secured = [f"{m.upper()} {p}" for p, item in doc.get("paths", {}).items() for m, op in item.items()
               if isinstance(op, dict) and op.get("security")]
    assert not secured, f"operations declaring security with no key configured: {secured}"
