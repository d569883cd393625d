#!/usr/bin/env bash
# Chat with SmolLM2, then stream a completion from Gemma-3-270M (base model), over plain HTTP.
set -euo pipefail
BASE_URL="${LLAMACPP_BASE_URL:-http://127.0.0.1:8000}"

curl -sS --fail-with-body "$BASE_URL/v1/chat/completions" \
  -H "Content-Type: application/json" \
  -d '{"model": "smollm2-135m-instruct",
       "messages": [{"role": "user", "content": "What is the capital of France? Answer in one word."}],
       "max_tokens": 32, "temperature": 0, "seed": 42}'
echo

# Server-sent events: one "data: {...}" line per token, then "data: [DONE]".
curl -sS --fail-with-body -N "$BASE_URL/v1/completions" \
  -H "Content-Type: application/json" \
  -d '{"model": "gemma3-270m", "prompt": "The capital of France is",
       "max_tokens": 8, "temperature": 0, "stream": true}'
