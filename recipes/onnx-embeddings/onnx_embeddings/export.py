"""Export a sentence-transformers model to ONNX, then quantise it to dynamic int8.

    python -m onnx_embeddings.export --out models/            # model.fp32.onnx + model.int8.onnx
    python -m onnx_embeddings.export --model-dir PATH --force  # any sentence-transformers folder

The exported graph includes the sentence-transformers head, so it outputs finished sentence embeddings:

    inputs : input_ids      int64 [batch, sequence]
             attention_mask int64 [batch, sequence]
             token_type_ids int64 [batch, sequence]   (only if the tokenizer produces them, e.g. BERT)
    output : sentence_embedding float32 [batch, dim]  (pooled as 1_Pooling/config.json says; L2-normalised
                                                       when modules.json lists a Normalize module)

Both axes are dynamic. Mean pooling uses the attention mask, so padding a sentence inside a batch does not
change its embedding (up to float rounding, ~1e-7).

Quantisation is ONNX Runtime's *dynamic* int8 (``quantize_dynamic``): weights of MatMul/Gemm are stored as
int8, activations are quantised per call from their observed range. ``per_channel=True`` keeps one scale per
output channel; a single per-tensor scale lets a few outlier columns (common in transformer projections)
stretch the range and costs accuracy (see the notebook: cosine vs PyTorch ≈ 0.97 per-tensor vs ≥ 0.99
per-channel on all-MiniLM-L6-v2). The shipped int8 file also keeps the six FFN down-projections in fp32,
which lifts the worst sentence (a 3-token "Hi") from ≈0.98 to ≥0.99.

Dynamic quantisation picks activation scales per ``session.run`` over the whole batch tensor, so an int8
embedding depends slightly on its batch companions; fp32 does not. The service serves fp32 by default.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from dataclasses import asdict
from pathlib import Path

from .head import HeadConfig, read_head_config  # read_head_config is also imported from here by the notebook

log = logging.getLogger("onnx_embeddings.export")

OPSET = 17
"""ONNX opset of the export (supported by onnxruntime ≥ 1.14)."""


def _wrapper(model_dir: Path, head: HeadConfig):
    """A torch module: tokens → pooled (and normalised) sentence embedding, traceable by torch.onnx."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # never trust_remote_code: only architectures that transformers ships
            self.encoder = AutoModel.from_pretrained(str(model_dir), trust_remote_code=False)
            self.encoder.eval()

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            tokens = self.encoder(**kwargs).last_hidden_state  # [B, T, D]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)  # [B, T, 1]
            if head.pooling == "mean":
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            elif head.pooling == "cls":
                pooled = tokens[:, 0]
            else:  # max over real tokens
                pooled = (tokens + (mask - 1.0) * 1e9).max(1).values
            if head.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
            return pooled

    return SentenceEmbedding()


def input_names_for(model_dir: Path) -> list[str]:
    """Model inputs the tokenizer produces: input_ids, attention_mask (+ token_type_ids for BERT-likes)."""
    from tokenizers import Tokenizer

    enc = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json")).encode("a")
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    names = ["input_ids", "attention_mask"]
    if cfg.get("type_vocab_size", 0) and len(enc.type_ids):
        names.append("token_type_ids")
    return names


def export_fp32(model_dir: Path, out_path: Path, opset: int = OPSET) -> Path:
    """Export the model (with its pooling head) to ``out_path`` as a single fp32 ONNX file.

    Uses the TorchScript-based exporter (``dynamo=False``): a single self-contained file, ~5 s for MiniLM.
    Raises whatever torch.onnx raises for unsupported architectures.
    """
    import torch

    model_dir, out_path = Path(model_dir), Path(out_path)
    head = read_head_config(model_dir)
    module = _wrapper(model_dir, head)
    names = input_names_for(model_dir)
    dummy = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["sentence_embedding"] = {0: "batch"}  # width stays static (e.g. 384)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.onnx")
    with torch.inference_mode(), warnings.catch_warnings():
        # TracerWarnings from transformers' mask helpers: the branches they freeze do not depend on the
        # batch or sequence size for encoder models (tests check lengths 3-20 at batch 1 and 8 against PyTorch)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)  # aten::index note: our indices are never negative
        torch.onnx.export(module, dummy, str(tmp), input_names=names, output_names=["sentence_embedding"],
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)
    import onnx

    graph = onnx.load(str(tmp))
    width = graph.graph.output[0].type.tensor_type.shape.dim[1]
    width.Clear()
    width.dim_value = head.dim  # the exporter leaves a generated symbol here; the width is static
    onnx.save(graph, str(tmp))
    tmp.replace(out_path)
    return out_path


def ffn_output_matmuls(onnx_path: Path) -> list[str]:
    """Names of the feed-forward down-projection MatMuls (``.../layer.N/output/dense/MatMul`` in BERT-likes).

    Their inputs are GELU outputs with the widest activation ranges in the network, so quantising them
    with one dynamic scale per call costs the most accuracy (measured in the notebook). Empty list if the
    naming does not match (then everything is quantised).
    """
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and "/output/dense" in n.name and "attention" not in n.name]


def quantize_int8(fp32_path: Path, out_path: Path, per_channel: bool = True,
                  keep_fp32: list[str] | None = None) -> Path:
    """Dynamic int8 quantisation of ``fp32_path`` (weights QInt8; activations uint8, scale set per call).

    per_channel=False gives the per-tensor variant the notebook compares against (less accurate).
    keep_fp32: node names left in fp32 (see ``ffn_output_matmuls``). Returns ``out_path``.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_path = Path(out_path)
    tmp = out_path.with_suffix(".tmp.onnx")
    logging.disable(logging.WARNING)  # it logs every skipped node and advises pre-processing (no gain here)
    try:
        quantize_dynamic(str(fp32_path), str(tmp), per_channel=per_channel, weight_type=QuantType.QInt8,
                         nodes_to_exclude=list(keep_fp32 or []))
    finally:
        logging.disable(logging.NOTSET)
    tmp.replace(out_path)
    return out_path


def _fingerprint(model_dir: Path) -> dict:
    """Identify the source model cheaply: path, and size + mtime of its weight files."""
    files = sorted(p for p in Path(model_dir).glob("*") if p.suffix in {".safetensors", ".bin", ".json"})
    return {"model_dir": str(Path(model_dir).resolve()),
            "files": {p.name: [p.stat().st_size, int(p.stat().st_mtime)] for p in files}}


def export_all(model_dir: Path, out_dir: Path, force: bool = False) -> dict[str, Path]:
    """Write ``model.fp32.onnx`` and ``model.int8.onnx`` into ``out_dir``.

    The int8 file is dynamic, per-channel, with the FFN down-projections kept in fp32 (``ffn_output_matmuls``):
    on all-MiniLM-L6-v2 that lifts the worst cosine vs PyTorch on the notebook's sentence set from ≈0.98 to
    ≥0.99 for +10 MB (33 vs 23 MB).

    Skips the work when ``out_dir/export.json`` records the same source model and both files exist
    (unless ``force``). Returns ``{"fp32": path, "int8": path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"fp32": out_dir / "model.fp32.onnx", "int8": out_dir / "model.int8.onnx"}
    meta_path = out_dir / "export.json"
    fp = _fingerprint(model_dir)
    if not force and meta_path.exists() and all(p.exists() for p in paths.values()):
        if json.loads(meta_path.read_text()).get("source") == fp:
            return paths
    t0 = time.perf_counter()
    export_fp32(model_dir, paths["fp32"])
    t1 = time.perf_counter()
    keep = ffn_output_matmuls(paths["fp32"])
    quantize_int8(paths["fp32"], paths["int8"], per_channel=True, keep_fp32=keep)
    t2 = time.perf_counter()
    meta = {"source": fp, "opset": OPSET, "int8": {"per_channel": True, "kept_fp32": keep},
            "head": asdict(read_head_config(model_dir)),
            "export_s": round(t1 - t0, 2), "quantize_s": round(t2 - t1, 2),
            "bytes": {k: p.stat().st_size for k, p in paths.items()}}
    meta_path.write_text(json.dumps(meta, indent=2))
    log.info("exported %s in %.1f s, quantised in %.1f s", model_dir, t1 - t0, t2 - t1)
    return paths


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m onnx_embeddings.export [--model-dir DIR] [--out DIR] [--force]``."""
    from .settings import Settings

    s = Settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=None, help="sentence-transformers folder")
    ap.add_argument("--out", type=Path, default=s.onnx_dir, help="output folder (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="re-export even if up to date")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    model_dir = a.model_dir or s.resolved_model_dir()
    for k, p in export_all(model_dir, a.out, force=a.force).items():
        print(f"{k}: {p} ({p.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
