"""Greedy-output agreement between two OpenAI-compatible servers on the same chat prompts.

Used by ``tests/test_agreement.py`` and by the bench (``results/bench.json``, table "agreement") to check
the GGUF -> safetensors conversion: vLLM serving the converted SmolLM2 against llama.cpp serving the
original Q4_1 GGUF. The two are not expected to agree token for token to the end: llama.cpp multiplies
Q4_1 weights with 8-bit-quantized activations, vLLM dequantized weights in float32/bfloat16, so the
first near-tie between two tokens sends the greedy paths apart. The measure is therefore the common
prefix, in tokens of the converted tokenizer.
"""

from __future__ import annotations

from typing import Any, Callable

import httpx

#: Short, varied chat prompts (written for this recipe).
PROMPTS = [
    "What is the capital of France?",
    "Say hello in one short sentence.",
    "Name three colours.",
    "What is 2 + 2?",
    "Write one sentence about the sea.",
    "Give me a synonym for happy.",
    "What do bees make?",
    "Translate 'thank you' into Spanish.",
]


def greedy(url: str, model: str, prompt: str, max_tokens: int, api_key: str = "none") -> dict[str, Any]:
    """One greedy chat completion; returns ``{"text", "prompt_tokens", "completion_tokens"}``.

    Raises ``httpx.HTTPStatusError`` on a non-2xx answer.
    """
    r = httpx.post(url + "/v1/chat/completions", timeout=120, headers={"Authorization": f"Bearer {api_key}"},
                   json={"model": model, "messages": [{"role": "user", "content": prompt}],
                         "max_tokens": max_tokens, "temperature": 0, "seed": 0})
    r.raise_for_status()
    body = r.json()
    return {"text": body["choices"][0]["message"]["content"] or "",
            "prompt_tokens": body["usage"]["prompt_tokens"], "completion_tokens": body["usage"]["completion_tokens"]}


def compare(a: dict[str, Any], b: dict[str, Any], encode: Callable[[str], list[int]]) -> dict[str, Any]:
    """Agreement of two :func:`greedy` answers: exact text match, common token prefix, prompt token counts."""
    ta, tb = encode(a["text"]), encode(b["text"])
    n = 0
    for x, y in zip(ta, tb):
        if x != y:
            break
        n += 1
    return {"exact": a["text"] == b["text"], "common_prefix_tokens": n, "tokens_a": len(ta), "tokens_b": len(tb),
            "prompt_tokens_equal": a["prompt_tokens"] == b["prompt_tokens"]}


def run(url_a: str, model_a: str, url_b: str, model_b: str, encode: Callable[[str], list[int]],
        max_tokens: int = 16, key_a: str = "none", key_b: str = "none") -> dict[str, Any]:
    """Compare both servers on :data:`PROMPTS`. Returns per-prompt rows and a summary:

    ``exact`` (prompts with identical text), ``first_token_agree`` (prompts whose first generated token is the
    same), ``mean_common_prefix_tokens`` and ``prompt_tokens_equal`` (all prompts rendered to the same number
    of tokens, i.e. the same chat template), each over ``len(PROMPTS)`` prompts.
    """
    rows = []
    for p in PROMPTS:
        a = greedy(url_a, model_a, p, max_tokens, key_a)
        b = greedy(url_b, model_b, p, max_tokens, key_b)
        rows.append({"prompt": p, "a": a["text"], "b": b["text"], **compare(a, b, encode)})
    n = len(rows)
    return {"rows": rows, "prompts": n, "max_tokens": max_tokens,
            "exact": sum(r["exact"] for r in rows),
            "first_token_agree": sum(r["common_prefix_tokens"] >= 1 for r in rows),
            "mean_common_prefix_tokens": round(sum(r["common_prefix_tokens"] for r in rows) / n, 2),
            "prompt_tokens_equal": all(r["prompt_tokens_equal"] for r in rows)}
