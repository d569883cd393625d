"""Property-based API fuzzing: schemathesis against the live server's own OpenAPI document, every operation.

Runs schemathesis' CLI (its pytest plugin does not load under pytest 9.2 in 4.32.5) with every check except
``positive_data_acceptance``: some schema-valid requests are *meant* to be refused because the limits
depend on the server's settings or the loaded model and cannot be written in the library's JSON Schema
(``max_tokens`` <= ``LLAMACPP_MAX_TOKENS_LIMIT``, ``temperature`` <= 2, ``n`` = 1, a prompt shorter than the
context, token ids below the vocabulary size, a grammar that compiles). Those answers are documented 400s
and 404s, which the other checks verify (status code documented, body matches the error schema).
Bounded: a one-model server, 8 generated tokens at most, 50 examples per operation, deterministic
generation, a 120 s wall-clock limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ServerProcess

OPERATIONS = 6  # GET /v1/models, POST /v1/chat/completions, /v1/completions, /extras/tokenize[/count], /extras/detokenize


@pytest.fixture(scope="module")
def fuzz_server():
    srv = ServerProcess(LLAMACPP_EXTRA_MODEL_PATH="none", LLAMACPP_MAX_TOKENS_LIMIT="8",
                        LLAMACPP_DEFAULT_MAX_TOKENS="8", LLAMACPP_N_CTX="512").start()
    yield srv
    srv.stop()


def test_schemathesis_finds_no_5xx_no_undocumented_status_no_schema_violation(fuzz_server, tmp_path):
    st = Path(sys.executable).parent / "schemathesis"
    cmd = [str(st), "run", fuzz_server.url + "/openapi.json", "--checks", "all",
           "--exclude-checks", "positive_data_acceptance", "--max-examples", "50", "--generation-deterministic",
           "--request-timeout", "30", "--workers", "1", "--warnings", "off", "--max-failures", "20"]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-8000:]
    assert f"Tested: {OPERATIONS}" in report or f"{OPERATIONS} operations" in report, report[-3000:]
    assert fuzz_server.proc.poll() is None, "the server died during fuzzing"
