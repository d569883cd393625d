#!/usr/bin/env bash
# The llm CLI using this server as an OpenAI-compatible model.
# Registers it in extra-openai-models.yaml under LLM_USER_PATH (a separate config
# directory by default, so your own llm settings stay untouched).
set -euo pipefail
BASE_URL="${LLAMACPP_BASE_URL:-http://127.0.0.1:8000}"
export LLM_USER_PATH="${LLM_USER_PATH:-$HOME/.config/llamacpp-server-llm}"
mkdir -p "$LLM_USER_PATH"
cat > "$LLM_USER_PATH/extra-openai-models.yaml" <<YAML
- model_id: smollm2-local
  model_name: smollm2-135m-instruct
  api_base: "$BASE_URL/v1"
YAML
llm -m smollm2-local -o temperature 0 "What is the capital of France? Answer in one word."
