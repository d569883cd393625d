"""Build the server: llama-cpp-python's own OpenAI-compatible app behind :class:`~.guard.Guard`.

Why the library's server and not our own FastAPI routes: ``llama_cpp.server`` already speaks
the OpenAI wire format (chat + completions, SSE streaming, ``/v1/models``, ``response_format``
and GBNF ``grammar``, tokenize/detokenize extras), and tracks the library's sampling
parameters release by release. We only add what it lacks (see ``guard.py``), and change some
defaults: every model stays loaded (``ResidentProxy``), ``interrupt_requests`` is off (the
library's default cuts a running stream short whenever another request arrives), the library's
allow-all CORS is removed unless ``LLAMACPP_CORS_ORIGINS`` is set, the library's own API-key check
is off (the guard checks every model endpoint, constant-time), ``/v1/embeddings`` and the hidden
copilot-codex route are removed, and the OpenAPI document is corrected (``openapi.py``).

The library keeps its app state in module globals, so one process serves one app.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any
from unittest import mock

import llama_cpp
import llama_cpp.server.app as llama_app
from fastapi.middleware.cors import CORSMiddleware
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.server.settings import ServerSettings

from . import openapi
from .engine import EngineThread
from .guard import REMOVED_ROUTES, Guard
from .runtime import Runtime
from .models import ResidentProxy, model_settings, use_extra_buffer_types
from .settings import Settings

log = logging.getLogger("llamacpp_server")


def chat_formatter(llama: llama_cpp.Llama) -> Jinja2ChatFormatter | None:
    """The GGUF's own chat template as a formatter (None if the file has none).

    Built like ``llama_cpp.Llama.__init__`` builds its ``chat_template.default`` handler; used
    only to count prompt tokens before generation starts.
    """
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id])


def _build_library_app(s: Settings) -> Any:
    """The library's FastAPI app with our models (``ResidentProxy``) and server settings."""
    # model_construct: take our values only; BaseSettings.__init__ would also read unprefixed env
    # vars such as HOST, PORT or API_KEY into the library's settings. api_key=None: the guard
    # authenticates every model endpoint itself (constant-time), the library's check is off.
    server_settings = ServerSettings.model_construct(
        host=s.host, port=s.port, api_key=None, interrupt_requests=False,
        disable_ping_events=False, root_path="", ssl_keyfile=None, ssl_certfile=None)
    saved_config_file = os.environ.pop("CONFIG_FILE", None)  # the library would prefer it
    try:
        proxy_cls = functools.partial(ResidentProxy, use_extra_buffer_types=use_extra_buffer_types(s))
        with mock.patch.object(llama_app, "LlamaProxy", proxy_cls):
            return llama_app.create_app(server_settings=server_settings, model_settings=model_settings(s))
    finally:
        if saved_config_file is not None:
            os.environ["CONFIG_FILE"] = saved_config_file


def _adapt(app: Any, s: Settings) -> None:
    """Our changes to the library's app: routes not served removed, OpenAPI corrected, CORS, engine thread."""
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in REMOVED_ROUTES]
    library_openapi = app.openapi
    cache: dict[str, Any] = {}

    def served_openapi() -> dict[str, Any]:
        if "doc" not in cache:
            cache["doc"] = openapi.rewrite(library_openapi(), s.key() is not None, set(REMOVED_ROUTES))
        return cache["doc"]

    app.openapi = served_openapi
    app.user_middleware = [mw for mw in app.user_middleware if mw.cls is not CORSMiddleware]
    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=s.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    if s.engine_thread:
        engine = EngineThread()
        llama_app.run_in_threadpool = engine.run  # module globals the library's routes call
        llama_app.iterate_in_threadpool = engine.iterate


def load_library_app(rt: Runtime) -> None:
    """Load the models and build the library's FastAPI app into ``rt`` (blocking: seconds).

    On failure sets ``rt.load_error`` (logged; ``/readyz`` says ``failed`` without the details)
    and re-raises.
    """
    s = rt.settings
    try:
        app = _build_library_app(s)
        _adapt(app, s)
        proxy = llama_app._llama_proxy
        rt.proxy = proxy
        rt.formatters = {alias: chat_formatter(llama) for alias, llama in proxy.loaded.items()}
        rt.app = app
        rt.metrics.ready.set(1)
    except Exception as e:
        rt.load_error = f"model load failed: {type(e).__name__}: {e}"
        log.error("%s", rt.load_error)
        raise
    finally:
        rt.loaded.set()


def create_server_app(settings: Settings | None = None, background: bool = True) -> Guard:
    """The ASGI app to serve (``Guard`` around the library's app); its ``rt`` holds the state.

    ``background=True``: models load in a thread started at ASGI lifespan startup, so
    ``/healthz`` answers at once and ``/readyz`` turns 200 when loading is done.
    ``background=False``: load now (blocking) - for in-process use and tests.
    """
    rt = Runtime(settings or Settings())
    state: dict[str, Any] = {}

    def start_loading() -> None:
        if background and "thread" not in state:
            state["thread"] = threading.Thread(target=_load_quietly, args=(rt,), name="model-loader", daemon=True)
            state["thread"].start()

    def shutdown() -> None:
        if rt.proxy is not None:
            rt.proxy.free()

    if not background:
        load_library_app(rt)
    return Guard(rt, on_startup=start_loading, on_shutdown=shutdown)


def _load_quietly(rt: Runtime) -> None:
    try:
        load_library_app(rt)
    except Exception:  # noqa: S110 - recorded in rt.load_error and logged; serve() exits non-zero
        pass
