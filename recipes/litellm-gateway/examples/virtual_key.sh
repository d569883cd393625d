#!/usr/bin/env bash
# Create a virtual key with a budget (USD) and a rate limit, then use it (needs the gateway with a database:
# LITELLM_GW_START_POSTGRES=1 make serve). LiteLLM's own key API: POST /key/generate with the master key.
set -euo pipefail
GW=${LITELLM_GW_URL:-http://127.0.0.1:4000}
KEY=$(curl -s "$GW/key/generate" -H "Authorization: Bearer $LITELLM_GW_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"models": ["smollm2-135m-instruct"], "max_budget": 5.0, "rpm_limit": 60, "duration": "30d"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
curl -s "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}'
echo
curl -s "$GW/key/info?key=$KEY" -H "Authorization: Bearer $LITELLM_GW_API_KEY"   # spend so far
