#!/usr/bin/env bash
# Ollama's REST API with curl. OLLAMA_HOST is read like Ollama's own clients do (default 127.0.0.1:11434).
set -euo pipefail
# (cut, not head: head exits after its bytes, curl then fails writing with exit 23 and pipefail fails the script)
host="${OLLAMA_HOST:-127.0.0.1:11434}"
case "$host" in http://*|https://*) base="$host" ;; *) base="http://$host" ;; esac

# Chat, one JSON object back ("stream": false)
curl -sS "$base/api/chat" -d '{
  "model": "smollm2-local", "stream": false,
  "messages": [{"role": "user", "content": "Say hello in French."}],
  "options": {"num_predict": 24}}'
echo

# Chat, streamed: newline-delimited JSON (NDJSON), one object per chunk, the last one has "done": true
curl -sS --no-buffer "$base/api/chat" -d '{
  "model": "smollm2-local",
  "messages": [{"role": "system", "content": "Answer in one sentence."},
               {"role": "user", "content": "What is a GGUF file?"}],
  "options": {"num_predict": 24}}'

# Completion-style: a prompt, the Modelfile's TEMPLATE and SYSTEM are applied by the server
curl -sS "$base/api/generate" -d '{"model": "smollm2-local", "prompt": "Why is the sky blue?",
  "stream": false, "options": {"num_predict": 24}}'
echo

# Embeddings from the embedding model (one vector per input, L2-normalised)
curl -sS "$base/api/embed" -d '{"model": "minilm-local", "input": ["a cat sits on the mat", "a kitten rests"]}' \
  | cut -c 1-300
echo

# Models on disk, models in memory (with expires_at from keep_alive)
curl -sS "$base/api/tags"
echo
curl -sS "$base/api/ps"
echo

# keep_alive: load the model and keep it for 10 minutes; then unload it at once (keep_alive 0)
curl -sS "$base/api/generate" -d '{"model": "smollm2-local", "keep_alive": "10m"}'
echo
curl -sS "$base/api/generate" -d '{"model": "smollm2-local", "keep_alive": 0}'
echo
