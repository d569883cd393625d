"""The suite's in-process tier: the hostile-input matrix through ``httpx.ASGITransport``, no socket, no uvicorn.

Run by ``test_hostile.py`` with the RECIPE's own venv interpreter (the app's dependencies live there), never
imported by the suite::

    recipes/<name>/.venv/bin/python tests/conformance/inprocess.py RECIPE_DIR MODULE:FACTORY API LIVE READY [MODEL]

``MODULE:FACTORY`` (``serve.asgi_app`` in recipe.yaml) builds the app with settings from the environment. The
script runs the app's ASGI lifespan (startup: models load), waits until ``READY`` answers 200, sends every case
of :func:`cases.cases_for`, and prints the outcomes as one JSON line on stdout. Exit 2 if the app never became
ready within 300 s.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import cases_for, run_cases  # noqa: E402


class Lifespan:
    """Drive an ASGI app's lifespan protocol (startup, then shutdown) like a server does."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> "Lifespan":
        async def receive() -> dict:
            return await self.inbox.get()

        async def send(msg: dict) -> None:
            await self.outbox.put(msg)

        self.task = asyncio.create_task(self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                                 receive, send))
        await self.inbox.put({"type": "lifespan.startup"})
        msg = await asyncio.wait_for(self.outbox.get(), 300)
        if msg["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {msg}")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self.outbox.get(), 60)
        except asyncio.TimeoutError:
            pass


async def main(recipe_dir: str, factory: str, api: str, live: str, ready: str, model: str | None) -> int:
    import httpx

    sys.path.insert(0, recipe_dir)
    mod, _, name = factory.partition(":")
    app = getattr(importlib.import_module(mod), name)()
    async with Lifespan(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://conformance.local") as client:
            deadline = time.monotonic() + 300
            while (await client.get(ready)).status_code != 200:
                if time.monotonic() > deadline:
                    print(json.dumps({"error": "not ready after 300 s"}))
                    return 2
                await asyncio.sleep(0.2)
            if model is None:
                model = (await client.get("/v1/models")).json()["data"][0]["id"]
            outcomes = await run_cases(client, cases_for(api, model), live)
    print(json.dumps([o.to_json() for o in outcomes]))
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(asyncio.run(main(*args[:5], args[5] if len(args) > 5 else None)))
