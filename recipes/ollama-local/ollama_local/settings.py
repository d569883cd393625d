"""Settings of the web app (``python -m ollama_local``), read from ``CHATAPP_*`` environment variables.

Plain data: no engine, no other recipe module except the vendored standard-library ``servekit`` (for the cookbook's
one ``CORS_ORIGINS`` parser). Every field is listed with its default in the README's "Configuration" table.
"""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .servekit import split_origins


class Settings(BaseSettings):
    """All settings; environment variables are ``CHATAPP_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="CHATAPP_", extra="ignore")

    ollama_url: str = Field("http://127.0.0.1:11434", description="where Ollama listens (keep it on loopback)")
    model: str = Field("smollm2-local", description="the only model the app lets clients use")
    max_messages: int = Field(32, ge=1, description="most messages in one chat request (else 422)")
    max_content_chars: int = Field(8000, ge=1, description="longest message content in characters (else 422)")
    max_predict: int = Field(512, ge=1, description="largest options.num_predict a client may ask for (else 422)")
    default_predict: int = Field(256, ge=1, description="num_predict when the client sends none")
    max_concurrent: int = Field(4, ge=1, description="chats streaming at once; beyond → 429 + Retry-After")
    upstream_timeout_s: float = Field(120.0, gt=0, description="longest wait for Ollama between two chunks (s)")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    api_key: Optional[SecretStr] = Field(None, description="if set, POST /api/chat needs 'Authorization: Bearer <key>'")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                                         description="comma-separated origins; empty = CORS off")
    log_level: str = Field("info", description="debug, info, warning, error")
    max_body_bytes: int = Field(262_144, ge=1024, description="largest request body (bytes); beyond → 413")
    drain_delay_s: float = Field(2.0, ge=0, description="after SIGTERM: /readyz 503 while chats are still "
                                                        "accepted, so a load balancer can stop routing (s)")
    drain_timeout_s: float = Field(60.0, ge=0, description="then: longest wait for streaming chats to finish (s)")

    _split_origins = field_validator("cors_origins", mode="before")(split_origins)
