"""The conformance suite: one black-box statement of what every recipe server does (CONTRIBUTING.md,
"Server conventions"), parametrised over every recipe whose ``recipe.yaml`` has a ``serve:`` block.

Each test belongs to one check id (``cookbook.recipes.CONFORMANCE_CHECKS``). A recipe that wraps an upstream
server it cannot fix lists that check in ``serve.deviations``; the test then runs as a strict ``xfail`` with the
declared reason (it must still fail: a deviation that no longer happens fails the suite), and the recipe page
shows the list. Nothing is skipped silently: a recipe whose server needs a program that is not installed (Ollama)
is skipped with that reason, and a missing recipe venv fails under CI.

Run it after the recipes' venvs exist (``scripts/test-all.sh`` does): ``.venv/bin/python -m pytest
tests/conformance [-k <recipe>]``. Servers: one default instance per recipe (no key, CORS off) for probes, the
hostile-input matrix and schemathesis; one keyed instance (API key + one CORS origin) for auth and CORS, then
drained with SIGTERM under load.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import Case, Outcome, cases_for, run_cases  # noqa: E402
from server import RecipeServer, first_model, venv_python  # noqa: E402

from cookbook.recipes import RecipeMeta, load_meta, recipe_dirs  # noqa: E402

API_KEY = "sk-conformance-0123456789"
ALLOWED_ORIGIN = "http://allowed.example"


def http_recipes() -> dict[str, tuple[Path, RecipeMeta]]:
    """Every recipe that declares ``serve:``, by name."""
    out = {}
    for d in recipe_dirs():
        if (d / "recipe.yaml").is_file():
            meta = load_meta(d)
            if meta.serve is not None:
                out[d.name] = (d, meta)
    return out


RECIPES = http_recipes()


def matrix_ids(name: str) -> list[tuple[str, str, Case]]:
    """``(api, transport, case)`` of a recipe's hostile matrix (case ids do not depend on the model id)."""
    spec = RECIPES[name][1].serve
    transports = ["http"] + (["asgi"] if spec.asgi_app else [])
    return [(api, t, c) for api in spec.api for t in transports for c in cases_for(api, "MODEL")]


def deviation(name: str, check: str, case: str | None = None, api: str | None = None):
    """The declared deviation of recipe ``name`` for ``check`` (and ``case``, ``api``), or None."""
    for d in RECIPES[name][1].serve.deviations:
        if d.check != check or (d.apis and api not in d.apis):
            continue
        if not d.cases or case in d.cases or (case or "").split(":", 1)[-1] in d.cases:
            return d
    return None


def pytest_collection_modifyitems(config, items):
    """A declared deviation turns its tests into strict xfails carrying the declared reason."""
    for item in items:
        cs = getattr(item, "callspec", None)
        if cs is None or HERE not in Path(item.path).parents or cs.params.get("recipe") not in RECIPES:
            continue
        check = getattr(item.function, "check", None) or cs.params.get("check")
        case = cs.params.get("case_name")
        if check is None:
            continue
        dev = deviation(cs.params["recipe"], check, case, cs.params.get("api"))
        if dev is not None:
            why = f"declared deviation ({check}): {dev.reason}" + (f" [{dev.upstream}]" if dev.upstream else "")
            item.add_marker(pytest.mark.xfail(strict=True, reason=why))


def check(check_id: str):
    """Decorator: the conformance check a test function verifies (deviations are looked up by it)."""
    def mark(fn):
        fn.check = check_id
        return fn
    return mark


# ------------------------------------------------------------------------------------------ servers

_servers: dict[tuple[str, str], RecipeServer] = {}


def _require_runnable(name: str) -> None:
    d, meta = RECIPES[name]
    missing = [b for b in meta.serve.requires_binaries if shutil.which(b) is None]
    if missing:
        pytest.skip(f"{name}: {', '.join(missing)} not on PATH; its server cannot run on this machine "
                    f"(recipes/{name}/README.md says how it was verified)")
    if meta.serve.command[0] in ("python", "python3") and not venv_python(d).exists():
        msg = f"recipes/{name}/.venv missing: run `make -C recipes/{name} venv` first"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def get_server(name: str, kind: str) -> RecipeServer:
    """The running server of ``kind`` ('default' or 'keyed') for recipe ``name``, started on first use."""
    key = (name, kind)
    if key not in _servers:
        _require_runnable(name)
        d, meta = RECIPES[name]
        settings = {"API_KEY": API_KEY, "CORS_ORIGINS": ALLOWED_ORIGIN,
                    "DRAIN_DELAY_S": "1.0", "DRAIN_TIMEOUT_S": "60"} if kind == "keyed" else {}
        try:
            _servers[key] = RecipeServer(d, meta, **settings).start()
        except RuntimeError as exc:
            pytest.fail(str(exc))
    srv = _servers[key]
    if srv.proc is not None and srv.proc.poll() is not None and kind == "default":
        pytest.fail(f"{name}: the default server died earlier (exit {srv.proc.returncode}):\n{srv.logs()}")
    return srv


def pytest_sessionfinish(session, exitstatus):
    for srv in _servers.values():
        srv.stop()


@pytest.fixture
def default_server(recipe: str) -> RecipeServer:
    return get_server(recipe, "default")


@pytest.fixture
def keyed_server(recipe: str) -> RecipeServer:
    return get_server(recipe, "keyed")


@pytest.fixture
def spec(recipe: str):
    return RECIPES[recipe][1].serve


# ------------------------------------------------------------------------------------------ the matrix

_outcomes: dict[tuple[str, str, str], dict[str, Outcome]] = {}


def outcomes(name: str, api: str, transport: str) -> dict[str, Outcome]:
    """Every case's outcome for one recipe, API and transport ('http': the real server; 'asgi': in-process)."""
    key = (name, api, transport)
    if key in _outcomes:
        return _outcomes[key]
    d, meta = RECIPES[name]
    spec = meta.serve
    srv = get_server(name, "default")
    model = first_model(spec, srv.url, api)
    kin = None
    if api == "kserve-v2":
        kin = httpx.get(f"{srv.url}/v2/models/{model}", timeout=10).json()["inputs"][0]["name"]
    if transport == "http":
        async def go() -> list[Outcome]:
            async with httpx.AsyncClient(base_url=srv.url) as c:
                return await run_cases(c, cases_for(api, model, kin), spec.live_path)
        result = asyncio.run(go())
    else:
        proc = subprocess.run([str(venv_python(d)), str(HERE / "inprocess.py"), str(d), spec.asgi_app, api,
                               spec.live_path, spec.ready_path, model], cwd=d, env=srv.env,
                              capture_output=True, text=True, timeout=600)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
        if proc.returncode != 0 or not lines:
            pytest.fail(f"in-process tier failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                        f"{proc.stderr[-3000:]}")
        result = [Outcome(**o) for o in json.loads(lines[-1])]
    _outcomes[key] = {o.id: o for o in result}
    return _outcomes[key]


def pytest_generate_tests(metafunc):
    names = sorted(RECIPES)
    if "case_name" in metafunc.fixturenames:
        params, ids = [], []
        for n in names:
            for api, transport, c in matrix_ids(n):
                if c.expect_ok and metafunc.function.__name__ != "test_valid_request_succeeds":
                    continue
                if not c.expect_ok and metafunc.function.__name__ == "test_valid_request_succeeds":
                    continue
                params.append((n, api, transport, c.check, c.id))
                ids.append(f"{n}-{api}-{transport}-{c.id}")
        metafunc.parametrize("recipe,api,transport,check,case_name", params, ids=ids)
    elif "api" in metafunc.fixturenames:
        params = [(n, a) for n in names for a in RECIPES[n][1].serve.api]
        metafunc.parametrize("recipe,api", params, ids=[f"{n}-{a}" for n, a in params])
    elif "recipe" in metafunc.fixturenames:
        metafunc.parametrize("recipe", names)


def body_json(r: httpx.Response) -> Any:
    """``r``'s JSON body, or a test failure that shows the body."""
    try:
        return r.json()
    except ValueError:
        pytest.fail(f"{r.request.method} {r.request.url.path} -> {r.status_code}, body is not JSON: {r.text[:500]}")
