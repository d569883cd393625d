"""Tokenizer + ONNX Runtime session: text → float32 sentence embeddings.

The tokenizer is the model folder's ``tokenizer.json`` run by the Rust ``tokenizers`` library (no torch
at serving time). Padding and truncation are switched off: the service rejects over-long inputs instead of
silently truncating them (OpenAI's API does the same), and pads per batch to the longest member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from .head import read_head_config

OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
"""Settings value → ORT graph optimisation level (see onnxruntime.ai/docs/performance/model-optimizations)."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """One tokenised input: token ids and token type ids (lists of int, same length, CLS/SEP included)."""

    ids: list[int]
    type_ids: list[int]

    def __len__(self) -> int:
        return len(self.ids)


class ProviderUnavailable(RuntimeError):
    """The requested execution provider is not in this onnxruntime build (message names no file path)."""


def make_session(onnx_path: Path, provider: str = "CPUExecutionProvider", threads: int = 0,
                 opt_level: str = "all", spinning: bool = False) -> ort.InferenceSession:
    """Create an ORT session.

    provider: "CPUExecutionProvider" or "CUDAExecutionProvider" (needs onnxruntime-gpu; CPU stays as
    fallback for ops CUDA lacks). threads: intra-op threads, 0 = ORT default (physical cores).
    spinning: let idle intra-op threads busy-wait for the next op (ORT turns it on by default; lowest latency when
    the cores are otherwise idle, wasted CPU when the HTTP side or other processes need them).
    Raises ``ProviderUnavailable`` (a ``RuntimeError``) if the provider is not in the installed onnxruntime build.
    """
    if provider not in ort.get_available_providers():
        raise ProviderUnavailable(f"{provider} is not available in this onnxruntime build "
                                  f"(available: {ort.get_available_providers()}); for CUDA install onnxruntime-gpu")
    if provider == "CUDAExecutionProvider" and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels of onnxruntime-gpu[cuda,cudnn]
    so = ort.SessionOptions()
    so.graph_optimization_level = OPT_LEVELS[opt_level]
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    providers = [provider] if provider == "CPUExecutionProvider" else [provider, "CPUExecutionProvider"]
    return ort.InferenceSession(str(onnx_path), sess_options=so, providers=providers)


class Embedder:
    """Tokenise and embed with one ONNX Runtime session.

    ``embed(texts) -> np.ndarray float32 [len(texts), dim]`` (L2-normalised when the model says so).
    Thread-safety: ``run`` may be called from one worker thread while ``tokenize`` runs elsewhere.
    """

    def __init__(self, onnx_path: Path, model_dir: Path, provider: str = "CPUExecutionProvider",
                 threads: int = 0, opt_level: str = "all", max_tokens: int | None = None,
                 spinning: bool = False) -> None:
        self.onnx_path = Path(onnx_path)
        self.model_dir = Path(model_dir)
        self.head = read_head_config(self.model_dir)
        self.max_tokens = int(max_tokens or self.head.max_seq_length)
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.session = make_session(self.onnx_path, provider, threads, opt_level, spinning)
        self.input_names = [i.name for i in self.session.get_inputs()]
        width = self.session.get_outputs()[0].shape[1]
        self.dim = width if isinstance(width, int) else self.head.dim

    def tokenize(self, texts: Sequence[str]) -> list[Encoded]:
        """Tokenise without truncation; callers check ``len(enc) <= self.max_tokens``.

        Small lists are encoded one by one: ``encode_batch`` wakes the tokenizer's thread pool, which costs
        more than it saves for a few short texts while ONNX Runtime is using every core.
        """
        if len(texts) <= 16:
            encs = [self.tokenizer.encode(t) for t in texts]
        else:
            encs = self.tokenizer.encode_batch(list(texts))
        return [Encoded(e.ids, e.type_ids) for e in encs]

    def run(self, batch: Sequence[Encoded]) -> np.ndarray:
        """One ``session.run`` on a padded batch → float32 [len(batch), dim].

        Pads with id 0 to the longest member; the attention mask keeps padding out of attention and pooling.
        """
        n, t = len(batch), max(len(e) for e in batch)
        ids = np.zeros((n, t), dtype=np.int64)
        types = np.zeros((n, t), dtype=np.int64)
        mask = np.zeros((n, t), dtype=np.int64)
        for i, e in enumerate(batch):
            k = len(e)
            ids[i, :k] = e.ids
            types[i, :k] = e.type_ids
            mask[i, :k] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self.session.run(None, {k: feeds[k] for k in self.input_names})[0]

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed ``texts`` in batches of ``batch_size`` → float32 [len(texts), dim].

        Raises ``ValueError`` if a text exceeds ``max_tokens``.
        """
        enc = self.tokenize(texts)
        for i, e in enumerate(enc):
            if len(e) > self.max_tokens:
                raise ValueError(f"text {i} has {len(e)} tokens; the limit is {self.max_tokens}")
        if not enc:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self.run(enc[i:i + batch_size]) for i in range(0, len(enc), batch_size)])
