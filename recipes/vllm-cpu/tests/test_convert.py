"""``make model``: the converted folder is what vLLM needs and still carries the GGUF's chat template."""

from __future__ import annotations

import json

import pytest

from vllm_recipe.convert import convert, gguf_path
from vllm_recipe.provenance import sha256_file
from vllm_recipe.settings import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "conversion.json").is_file(),
                                reason="converted model missing: run `make model` (make test does)")


def test_folder_has_config_weights_tokenizer_and_no_quantization():
    names = {p.name for p in DEFAULT_MODEL_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    cfg = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in cfg  # a GGUF quantization record would make vLLM refuse the folder


def test_conversion_records_the_gguf_and_is_idempotent():
    stamp = json.loads((DEFAULT_MODEL_DIR / "conversion.json").read_text())
    assert stamp["gguf_sha256"] == sha256_file(gguf_path())
    before = (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_mtime
    convert()  # same GGUF: nothing to do
    assert (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_mtime == before


def test_chat_template_survived():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(DEFAULT_MODEL_DIR))
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>user\nhi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
