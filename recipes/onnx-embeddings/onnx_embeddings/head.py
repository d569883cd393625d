"""The sentence-transformers head of a model folder: pooling, normalisation, max length, width.

Read by both the exporter (to build the graph) and the serving model (for ``max_tokens`` and ``dim``); it
needs only the standard library, so the server never imports the export tooling (torch, onnx).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HeadConfig:
    """The sentence-transformers head of a model folder.

    pooling: "mean" | "cls" | "max"; normalize: L2-normalise the pooled vector;
    max_seq_length: tokens (from sentence_bert_config.json; 512 if absent); dim: embedding width.
    """

    pooling: str
    normalize: bool
    max_seq_length: int
    dim: int


def read_head_config(model_dir: Path) -> HeadConfig:
    """Read pooling / normalisation / max length from a sentence-transformers folder.

    Raises ``ValueError`` for pooling modes this recipe does not implement (weighted, lasttoken, ...).
    """
    model_dir = Path(model_dir)
    pooling_cfg: dict = {}
    normalize = False
    modules = model_dir / "modules.json"
    if modules.exists():
        for m in json.loads(modules.read_text()):
            if m["type"].endswith("Pooling"):
                pooling_cfg = json.loads((model_dir / m["path"] / "config.json").read_text())
            if m["type"].endswith("Normalize"):
                normalize = True
    mode = "mean"
    if pooling_cfg:
        enabled = [k for k, v in pooling_cfg.items() if k.startswith("pooling_mode") and v is True]
        if enabled not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"], ["pooling_mode_max_tokens"]):
            raise ValueError(f"unsupported pooling in {model_dir}: {enabled} (supported: mean, cls, max)")
        mode = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
                "pooling_mode_max_tokens": "max"}[enabled[0]]
    sbert = model_dir / "sentence_bert_config.json"
    max_len = json.loads(sbert.read_text()).get("max_seq_length", 512) if sbert.exists() else 512
    cfg = json.loads((model_dir / "config.json").read_text())
    dim = int(pooling_cfg.get("word_embedding_dimension", cfg.get("hidden_size", 0)))
    return HeadConfig(pooling=mode, normalize=normalize, max_seq_length=int(max_len), dim=dim)

