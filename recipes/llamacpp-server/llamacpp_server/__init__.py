"""Local OpenAI-compatible LLM server: llama-cpp-python's own server plus health, metrics,
request checks, a bounded queue and SIGTERM draining. See README.md."""

__all__ = ["Settings"]

from .settings import Settings
