"""LLM gateway recipe: the LiteLLM proxy in front of the cookbook's llama.cpp servers (config + thin launcher)."""

__all__ = ["__version__"]
__version__ = "0.1.0"
