#!/usr/bin/env bash
# Embeddings and chat over plain HTTP; BASE defaults to the `make serve` address.
set -euo pipefail
# (cut, not head: head exits after its bytes, curl then fails writing with exit 23 and pipefail fails the script)
BASE=${BASE:-http://127.0.0.1:8000}
AUTH=()
if [[ -n "${RAY_RECIPE_API_KEY:-}" ]]; then AUTH=(-H "Authorization: Bearer ${RAY_RECIPE_API_KEY}"); fi
curl -sf "${AUTH[@]}" "$BASE/v1/embeddings" -H 'Content-Type: application/json' \
  -d '{"model": "all-MiniLM-L6-v2", "input": "A cat sits on the mat."}' | cut -c 1-120
curl -sf "${AUTH[@]}" "$BASE/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model": "SmolLM2-135M-Instruct", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 8}'
echo
