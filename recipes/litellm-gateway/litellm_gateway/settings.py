"""Settings of the gateway launcher, read from ``LITELLM_GW_*`` environment variables.

Plain data (CONTRIBUTING.md, "Server conventions"): imports no engine and no other module of the recipe.
``python -m litellm_gateway --print-settings`` prints the resolved values as JSON. Each field says which
LiteLLM setting it becomes; the README's "Configuration" table lists them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """All launcher settings. Env prefix ``LITELLM_GW_``; e.g. ``LITELLM_GW_PORT=4000``.

    Units: seconds (``*_s``), bytes (``*_bytes``). Raises ``pydantic.ValidationError`` on a malformed value.
    """

    model_config = SettingsConfigDict(env_prefix="LITELLM_GW_", extra="ignore")

    # --- HTTP (the LiteLLM proxy's own listener) ----------------------------------------
    host: str = Field(default="127.0.0.1", description="Listen address (`litellm --host`).")
    port: int = Field(default=4000, ge=0, le=65535, description="Listen port (`litellm --port`).")
    api_key: SecretStr | None = Field(
        default=None, description="LiteLLM master key (LITELLM_MASTER_KEY). Empty: no auth at all. With a "
        "database, virtual keys are created with it through /key/generate.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Allowed CORS origins (LITELLM_CORS_ORIGINS). Empty: CORS off (the "
        "launcher sets an origin that never matches, because LiteLLM's own default is '*').")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Launcher log level; LITELLM_LOG=DEBUG when 'debug', else INFO/ERROR.")
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body. LiteLLM enforces "
        "`max_request_size_mb` only with an Enterprise licence; without one, the backend's own limit applies "
        "(README, Configuration).")
    drain_delay_s: float = Field(
        default=0.0, ge=0, description="On SIGTERM: readiness 503 at once (LiteLLM's /health/drain), then wait "
        "this long before the listener stops, so a load balancer stops routing here.")
    drain_timeout_s: float = Field(
        default=30.0, ge=0, description="On SIGTERM: how long in-flight requests may finish "
        "(LiteLLM's GRACEFUL_SHUTDOWN_TIMEOUT).")
    ready_timeout_s: float = Field(default=180.0, gt=0, description="Longest wait for backends and proxy.")

    # --- LiteLLM configuration ----------------------------------------------------------
    config: str = Field(default="config.yaml", description="LiteLLM config file, relative to the recipe folder.")
    primary_url: str | None = Field(
        default=None, description="OpenAI base URL of the primary backend, e.g. http://127.0.0.1:8000/v1 "
        "(LITELLM_GW_PRIMARY_URL in config.yaml). Set by the launcher when it starts the backend.")
    fallback_url: str | None = Field(default=None, description="Base URL of the fallback backend.")
    vllm_url: str | None = Field(default=None, description="Base URL of the vLLM recipe's server (optional).")

    # --- what the launcher starts -------------------------------------------------------
    start_backend: int = Field(
        default=0, ge=0, le=2, description="llama.cpp servers to start from ../llamacpp-server/.venv: 0 (use "
        "primary_url/fallback_url), 1 (primary) or 2 (primary + fallback).")
    backend_dir: str = Field(default="../llamacpp-server", description="The llama.cpp recipe folder.")
    backend_threads: int = Field(default=1, ge=1, description="LLAMACPP_N_THREADS of each started backend.")
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL for virtual keys, budgets and spend logs (DATABASE_URL).")
    start_postgres: bool = Field(
        default=False, description="Start a throwaway PostgreSQL (Debian `postgresql`) on 127.0.0.1 and a free "
        "port; its data dir is deleted on exit. Needs Prisma's engines (README, Troubleshooting).")

    @field_validator("api_key", "database_url", "primary_url", "fallback_url", "vllm_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and v.strip() == "" else v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):
            return [o.strip() for o in v.split(",") if o.strip()]
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    def key(self) -> str | None:
        """The master key as plain text (``None``: no auth)."""
        return self.api_key.get_secret_value() if self.api_key is not None else None
