#!/usr/bin/env sh
# Embed two sentences with curl. Usage: ONNX_EMB_URL=http://127.0.0.1:8000 sh examples/curl.sh
set -eu
URL="${ONNX_EMB_URL:-http://127.0.0.1:8000}"

curl -sS --fail-with-body "$URL/v1/embeddings" \
  -H "Content-Type: application/json" \
  ${ONNX_EMB_API_KEY:+-H "Authorization: Bearer $ONNX_EMB_API_KEY"} \
  -d '{"model": "all-MiniLM-L6-v2", "input": ["A man is playing a guitar.", "Someone plays an instrument."]}' \
  | head -c 300
echo
curl -sS --fail-with-body "$URL/readyz"
echo
