"""Fill the model repository: export all-MiniLM-L6-v2's encoder to ONNX (fp32 + dynamic int8), copy the tokenizer.

    python -m triton_embeddings.export                  # into model_repository/ (skipped when up to date)
    python -m triton_embeddings.export --force          # re-export
    python -m triton_embeddings.export --model-dir DIR  # another BERT-like sentence-transformers folder

What it writes (the rest of the repository, configs and ``model.py`` files, is committed):

    model_repository/minilm_tokenizer/1/tokenizer.json     copied from the model folder
    model_repository/minilm_encoder/1/model.onnx           fp32 encoder, ~90 MB
    model_repository/minilm_encoder_int8/1/model.onnx      dynamic int8 (per-channel), ~33 MB
    model_repository/export.json                           source fingerprint, timings, sizes

The ONNX graph is the transformer only (no pooling): inputs ``input_ids``, ``attention_mask``,
``token_type_ids`` int64 ``[batch, sequence]``; output ``token_embeddings`` float32 ``[batch, sequence, 384]``.
Pooling and L2 normalisation are the ensemble's third step (``minilm_pooling``), so the same file serves
Triton's onnxruntime backend in the GPU config unchanged. Exporter: the TorchScript-based
``torch.onnx.export(..., dynamo=False)``, ~6 s on 2 cores (FEASIBILITY.md).

int8 is ONNX Runtime's ``quantize_dynamic`` with ``per_channel=True`` and the six FFN down-projection MatMuls
left in fp32: per-tensor int8 gives cosine 0.964–0.971 vs PyTorch on this model, per-channel 0.993–0.996
(FEASIBILITY.md, measured 2026-11-21); the tests check ≥ 0.99.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
import warnings
from pathlib import Path

log = logging.getLogger("triton_embeddings.export")

OPSET = 17
"""ONNX opset of the export (ONNX Runtime ≥ 1.14 and Triton's onnxruntime backend support it)."""
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUT_NAME = "token_embeddings"


def export_encoder(model_dir: Path, out_path: Path, opset: int = OPSET) -> Path:
    """Export the transformer of ``model_dir`` to ``out_path`` (one self-contained fp32 ONNX file).

    Both the batch and the sequence axis are dynamic; the hidden width (384) stays static.
    Raises whatever ``torch.onnx.export`` raises for architectures it cannot trace.
    """
    import onnx
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # never trust_remote_code: only architectures that transformers ships
            self.model = AutoModel.from_pretrained(str(model_dir), trust_remote_code=False).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    module = Encoder()
    width = int(module.model.config.hidden_size)
    dummy = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in INPUT_NAMES)
    axes = {n: {0: "batch", 1: "sequence"} for n in INPUT_NAMES}
    axes[OUTPUT_NAME] = {0: "batch", 1: "sequence"}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.onnx")
    with torch.inference_mode(), warnings.catch_warnings():
        # TracerWarnings from transformers' mask helpers: the frozen branches do not depend on batch or
        # sequence size for encoder models (the parity tests cover lengths 3-40 at batch 1 and 16)
        warnings.simplefilter("ignore")
        torch.onnx.export(module, dummy, str(tmp), input_names=INPUT_NAMES, output_names=[OUTPUT_NAME],
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)
    graph = onnx.load(str(tmp))
    dim = graph.graph.output[0].type.tensor_type.shape.dim[2]
    dim.Clear()
    dim.dim_value = width  # the exporter leaves a generated symbol here
    onnx.save(graph, str(tmp))
    tmp.replace(out_path)
    return out_path


def ffn_output_matmuls(onnx_path: Path) -> list[str]:
    """Names of the FFN down-projection MatMuls (``/model/encoder/layer.N/output/dense/MatMul``), kept fp32."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and "/output/dense" in n.name and "attention" not in n.name]


def quantize_int8(fp32_path: Path, out_path: Path) -> Path:
    """Dynamic int8 (weights QInt8 per channel; activations uint8 with a per-call scale) of ``fp32_path``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out_path.with_suffix(".tmp.onnx")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    logging.disable(logging.WARNING)  # it logs every skipped node
    try:
        quantize_dynamic(str(fp32_path), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                         nodes_to_exclude=ffn_output_matmuls(fp32_path))
    finally:
        logging.disable(logging.NOTSET)
    tmp.replace(out_path)
    return out_path


def _fingerprint(model_dir: Path) -> dict:
    files = sorted(p for p in Path(model_dir).glob("*") if p.suffix in {".safetensors", ".json"})
    return {"model_dir": str(Path(model_dir).resolve()),
            "files": {p.name: [p.stat().st_size, int(p.stat().st_mtime)] for p in files}}


def artefacts(repo: Path) -> dict[str, Path]:
    """The files this script writes into the repository ``repo``, by role."""
    return {"tokenizer": repo / "minilm_tokenizer" / "1" / "tokenizer.json",
            "fp32": repo / "minilm_encoder" / "1" / "model.onnx",
            "int8": repo / "minilm_encoder_int8" / "1" / "model.onnx"}


def export_all(model_dir: Path, repo: Path, force: bool = False) -> dict[str, Path]:
    """Write the tokenizer and both encoders into ``repo``; skip when ``repo/export.json`` matches the source.

    Returns ``artefacts(repo)``. Raises ``FileNotFoundError`` when ``model_dir`` lacks ``tokenizer.json``.
    """
    paths = artefacts(Path(repo))
    meta_path = Path(repo) / "export.json"
    fp = _fingerprint(model_dir)
    if not force and meta_path.exists() and all(p.exists() for p in paths.values()):
        if json.loads(meta_path.read_text()).get("source") == fp:
            return paths
    t0 = time.perf_counter()
    paths["tokenizer"].parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(model_dir) / "tokenizer.json", paths["tokenizer"])
    export_encoder(Path(model_dir), paths["fp32"])
    t1 = time.perf_counter()
    quantize_int8(paths["fp32"], paths["int8"])
    t2 = time.perf_counter()
    meta_path.write_text(json.dumps({
        "source": fp, "opset": OPSET, "export_s": round(t1 - t0, 2), "quantize_s": round(t2 - t1, 2),
        "int8": {"per_channel": True, "kept_fp32": ffn_output_matmuls(paths["fp32"])},
        "bytes": {k: p.stat().st_size for k, p in paths.items()}}, indent=2) + "\n")
    log.info("exported %s in %.1f s, quantised in %.1f s", model_dir, t1 - t0, t2 - t1)
    return paths


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m triton_embeddings.export [--model-dir DIR] [--repo DIR] [--force]``."""
    from .settings import Settings

    s = Settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=None, help="sentence-transformers folder")
    ap.add_argument("--repo", type=Path, default=s.model_repository, help="model repository (%(default)s)")
    ap.add_argument("--force", action="store_true", help="re-export even if up to date")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    for k, p in export_all(a.model_dir or s.resolved_model_dir(), a.repo, force=a.force).items():
        log.info("%s: %s (%.1f MB)", k, p, p.stat().st_size / 1e6)


if __name__ == "__main__":
    main()
