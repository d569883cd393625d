"""Backends and workloads as data: ``benchmarks/targets.yaml`` and ``benchmarks/prices.yaml``, validated.

Raises ``pydantic.ValidationError`` on a malformed file and ``FileNotFoundError`` when one is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RECIPES = REPO / "recipes"

Task = Literal["chat", "embeddings"]
Api = Literal["openai-chat", "openai-embeddings", "kserve-v2"]


class Extras(BaseModel):
    """What a chat request adds so every backend generates the same number of tokens.

    ``ignore_eos``: vLLM's ``ignore_eos: true``. ``eog_logit_bias``: ``logit_bias`` -100 on every
    end-of-generation token of the SmolLM2 vocabulary (llama.cpp has no ``ignore_eos``).
    ``stream_options``: ask for ``usage`` in the last streamed chunk (``include_usage: true``).
    """

    model_config = ConfigDict(extra="forbid")
    ignore_eos: bool = False
    eog_logit_bias: bool = False
    stream_options: bool = False


class Target(BaseModel):
    """One backend: a recipe folder, the make target that serves it, and how to reach and load it.

    The model's provenance comes from ``model_file`` (a glob relative to the recipe folder: the file is
    hashed), else from the ``model`` block of ``model_results`` (a committed results file of the recipe,
    default: the first ``results/*.json`` that has one). ``after_ready``: make targets run (same env) once
    the server is ready and before the load, e.g. Ollama's ``make model`` (``ollama create``); not part of
    the cold start.
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    label: str
    recipe: str
    catalog: str
    target: str = "serve"
    env_prefix: str = Field(pattern=r"^[A-Z0-9_]+_$")
    address_env: str | None = None
    extra_port_envs: list[str] = []
    ready_path: str = Field(pattern=r"^/")
    api: Api
    model: str | None = None
    env: dict[str, str] = {}
    extras: Extras = Extras()
    requires_binaries: list[str] = []
    after_ready: list[str] = []
    model_results: str | None = None
    model_file: str | None = None
    notes: str = ""

    @property
    def dir(self) -> Path:
        """The recipe folder (``recipes/<recipe>``)."""
        return RECIPES / self.recipe


class Targets(BaseModel):
    """``targets.yaml``: the backends of each task, in run order."""

    model_config = ConfigDict(extra="forbid")
    chat: list[Target]
    embeddings: list[Target]


class Prices(BaseModel):
    """``prices.yaml``: one dated on-demand price (USD per hour) of an instance the size of the bench machine."""

    model_config = ConfigDict(extra="forbid")
    instance: str
    vcpus: int = Field(gt=0)
    usd_per_hour: float = Field(gt=0)
    region: str
    pricing: str
    as_of: str
    source: str


class Workload(BaseModel):
    """Load levels and sizes of one run (defaults: the full run; :meth:`smoke` the tiny runner check).

    Chat: ``input_words`` random words per prompt (about one SmolLM2 token each; the server's own
    ``usage.prompt_tokens`` is recorded), ``output_tokens`` per request, concurrency levels ``chat_levels``.
    Embeddings: ``embed_batches`` sentences per request at each of ``embed_levels``.
    Requests per level = ``prompts_per_level`` x concurrency (``num_prompts = 10 x concurrency``).
    """

    model_config = ConfigDict(extra="forbid")
    chat_levels: list[int] = [1, 2, 4, 8, 16]
    embed_levels: list[int] = [1, 8, 32]
    embed_batches: list[int] = [1, 32]
    prompts_per_level: int = Field(10, ge=1)
    input_words: int = Field(64, ge=1)
    output_tokens: int = Field(32, ge=2)
    sentence_words: int = Field(12, ge=1)
    request_timeout_s: float = Field(300, gt=0)
    seed: int = 0

    @classmethod
    def smoke(cls) -> "Workload":
        """Tiny levels for checking the runner: concurrency 1 and 2, 2 requests per concurrency step, 8 tokens."""
        return cls(chat_levels=[1, 2], embed_levels=[1, 2], embed_batches=[1, 4], prompts_per_level=2,
                   input_words=16, output_tokens=8)


def load_targets(path: Path = HERE / "targets.yaml") -> Targets:
    """Parse and validate ``targets.yaml``; ids are unique within a task (else ``ValueError``)."""
    t = Targets.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    for task in ("chat", "embeddings"):
        ids = [x.id for x in getattr(t, task)]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{path}: duplicate ids in {task}: {ids}")
    return t


def load_prices(path: Path = HERE / "prices.yaml") -> Prices:
    """Parse and validate ``prices.yaml``."""
    return Prices.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
