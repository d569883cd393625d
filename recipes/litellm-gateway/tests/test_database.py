"""PostgreSQL-backed features: virtual keys through LiteLLM's own key API, per-key budget and rate limit ->
documented 4xx, unknown key -> 401, spend rows in the real database (queried with psycopg).

The PostgreSQL part always runs where the Debian ``postgresql`` package is installed. The LiteLLM part also
needs Prisma's query engine (LiteLLM's database layer is Prisma Client Python), which Prisma downloads from its
own binary host on first use: the tests skip, saying so, where it is not installed (README, Troubleshooting).
"""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from conftest import BACKEND_DIR, MASTER, MODEL, need_backend
from litellm_gateway.launcher import GatewayProcess, Postgres, pg_bin, prisma_engines

BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0}
needs_pg = pytest.mark.skipif(pg_bin("initdb") is None, reason="PostgreSQL not installed: apt-get install postgresql")


@needs_pg
def test_throwaway_postgres_on_loopback():
    import psycopg

    pg = Postgres().start()
    try:
        with psycopg.connect(pg.url) as c:
            version = c.execute("SHOW server_version").fetchone()[0]
            listen = c.execute("SHOW listen_addresses").fetchone()[0]
        assert version and listen == "127.0.0.1"
    finally:
        pg.stop()
    assert not pg.dir.exists()


@pytest.fixture(scope="module")
def db_gateway():
    if pg_bin("initdb") is None:
        pytest.skip("PostgreSQL not installed: apt-get install postgresql")
    if prisma_engines() is None:
        pytest.skip("Prisma's query engine is not installed (LiteLLM's database layer runs it; `prisma generate` "
                    "downloads it from Prisma's binary host, which this machine cannot reach): README, "
                    "Troubleshooting")
    need_backend()
    gw = GatewayProcess(LITELLM_GW_API_KEY=MASTER, LITELLM_GW_START_BACKEND="1", LITELLM_GW_START_POSTGRES="1",
                        LITELLM_GW_BACKEND_DIR=str(BACKEND_DIR)).start(timeout_s=420)
    yield gw
    gw.stop()


def _key(gw, **spec) -> str:
    r = httpx.post(gw.url + "/key/generate", headers={"authorization": f"Bearer {MASTER}"},
                   json={"models": [MODEL], **spec}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["key"]


def _chat(gw, key: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, json=BODY,
                      timeout=60)


def test_virtual_key_works_and_unknown_key_is_401(db_gateway):
    key = _key(db_gateway)
    assert _chat(db_gateway, key).status_code == 200
    r = _chat(db_gateway, "sk-not-issued-0000")
    assert r.status_code == 401 and r.json()["error"]["type"] == "auth_error", r.text
    import openai

    bad = openai.OpenAI(base_url=db_gateway.url + "/v1", api_key="sk-not-issued-0000", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(**BODY)


def test_rate_limited_key_gets_429(db_gateway):
    key = _key(db_gateway, rpm_limit=1)
    codes = [_chat(db_gateway, key).status_code for _ in range(3)]
    assert codes[0] == 200 and 429 in codes[1:], codes


def test_key_over_budget_gets_budget_exceeded(db_gateway):
    """config.yaml prices the local model per token, so spend grows; LiteLLM refuses once spend > max_budget
    (status ``litellm.budget_exceeded_status_code``, 422 in this version; error type ``budget_exceeded``)."""
    key = _key(db_gateway, max_budget=0.0000001)
    assert _chat(db_gateway, key).status_code == 200
    deadline, r = time.monotonic() + 40, None
    while time.monotonic() < deadline:  # spend is written to the database in batches
        r = _chat(db_gateway, key)
        if r.status_code != 200:
            break
        time.sleep(2)
    assert r is not None and r.status_code == 422, r.text if r is not None else None
    assert r.json()["error"]["type"] == "budget_exceeded", r.text


def test_spend_rows_land_in_postgres(db_gateway):
    import psycopg

    key = _key(db_gateway)
    assert _chat(db_gateway, key).status_code == 200
    hashed = hashlib.sha256(key.encode()).hexdigest()  # LiteLLM stores sha256(key), never the key (hash_token)
    db = [ln.split("on 127.0.0.1:")[1].split()[0] for ln in db_gateway.logs().splitlines() if "PostgreSQL on" in ln]
    dsn = f"postgresql://postgres@127.0.0.1:{db[-1]}/litellm"
    deadline, rows = time.monotonic() + 40, []
    while time.monotonic() < deadline and not rows:
        with psycopg.connect(dsn) as c:
            rows = c.execute('SELECT model, spend, total_tokens FROM "LiteLLM_SpendLogs" WHERE api_key = %s',
                             (hashed,)).fetchall()
        time.sleep(2)
    assert rows and rows[0][2] > 0, rows
