#!/usr/bin/env bash
# Chat, then a streamed completion, over plain HTTP. With VLLM_RECIPE_API_KEY set on the server, send it.
set -euo pipefail
BASE_URL="${VLLM_RECIPE_BASE_URL:-http://127.0.0.1:8000}"
AUTH="Authorization: Bearer ${VLLM_RECIPE_API_KEY:-unused}"

curl -sS --fail-with-body "$BASE_URL/v1/chat/completions" -H "$AUTH" \
  -H "Content-Type: application/json" \
  -d '{"model": "smollm2-135m-instruct",
       "messages": [{"role": "user", "content": "What is the capital of France?"}],
       "max_tokens": 32, "temperature": 0}'
echo

# Server-sent events: one "data: {...}" line per token, then "data: [DONE]".
curl -sS --fail-with-body -N "$BASE_URL/v1/completions" -H "$AUTH" \
  -H "Content-Type: application/json" \
  -d '{"model": "smollm2-135m-instruct", "prompt": "Once upon a time",
       "max_tokens": 8, "temperature": 0, "stream": true}'
