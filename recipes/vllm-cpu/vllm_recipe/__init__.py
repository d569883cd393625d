"""vLLM on CPU, as a cookbook recipe: settings, a thin launcher for vLLM's own OpenAI server, model
conversion (GGUF -> safetensors), tests and a bench with ``vllm bench serve``.

The package is named ``vllm_recipe`` (never ``vllm``: that would shadow the engine).
"""

__all__ = ["settings"]
