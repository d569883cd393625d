#!/usr/bin/env bash
# The Ollama CLI: build the chat model from the Modelfile, ask one question, see what is loaded, unload it.
# Run from the recipe folder after `make model` has copied the GGUF into models/ (or run `make model` itself).
set -euo pipefail
cd "$(dirname "$0")/.."

ollama create smollm2-local -f Modelfile        # FROM ./models/...gguf, TEMPLATE, SYSTEM, PARAMETERs
ollama run smollm2-local "Name the three primary colours in one line."   # one answer, then exit
ollama show smollm2-local --parameters          # the PARAMETERs Ollama stored
ollama ps                                       # loaded models, their size and how long they stay loaded
ollama stop smollm2-local                       # unload now instead of after OLLAMA_KEEP_ALIVE
