#!/usr/bin/env bash
# KServe v2 REST: embed two sentences with the fp32 ensemble. TRITON_URL defaults to the local server.
set -euo pipefail
# (cut, not head: head exits after its bytes, curl then fails writing with exit 23 and pipefail fails the script)
URL="${TRITON_URL:-http://127.0.0.1:8000}"
curl -sS -X POST "$URL/v2/models/minilm/infer" -H 'Content-Type: application/json' -d '{
  "inputs": [{"name": "TEXT", "datatype": "BYTES", "shape": [2, 1],
              "data": ["A man is playing a guitar.", "Someone plays an instrument."]}],
  "outputs": [{"name": "EMBEDDING"}]
}'
echo
# Server and model metadata, per-model statistics, and the repository index
curl -sS "$URL/v2/models/minilm" && echo
curl -sS "$URL/v2/models/minilm_encoder/stats" | cut -c 1-400 && echo
curl -sS -X POST "$URL/v2/repository/index" && echo
