"""ollama-local recipe: a Modelfile for SmolLM2 from a local GGUF, checked against the GGUF's chat template, plus a
small chat web app that proxies Ollama with an API key. ``ollama serve`` itself is Ollama's own binary."""
