"""Ollama's OpenAI-compatible API (``/v1``) with the official ``openai`` client, unchanged.

The client requires an API key; Ollama ignores it. Run: ``python examples/openai_client.py``.
"""

import os

from openai import OpenAI

HOST = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434")
BASE = HOST if HOST.startswith(("http://", "https://")) else f"http://{HOST}"
client = OpenAI(base_url=f"{BASE}/v1", api_key="ollama")


def ask(question: str, max_tokens: int = 32) -> str:
    """One chat completion (``POST /v1/chat/completions``)."""
    r = client.chat.completions.create(model="smollm2-local", max_tokens=max_tokens, temperature=0.2,
                                       messages=[{"role": "user", "content": question}])
    return r.choices[0].message.content or ""


def ask_streaming(question: str, max_tokens: int = 32) -> str:
    """The same, streamed as server-sent events; returns the joined text."""
    parts = []
    stream = client.chat.completions.create(model="smollm2-local", max_tokens=max_tokens, stream=True,
                                            messages=[{"role": "user", "content": question}])
    for event in stream:
        if event.choices and event.choices[0].delta.content:
            parts.append(event.choices[0].delta.content)
    return "".join(parts)


def embeddings(texts: list[str]) -> list[list[float]]:
    """``POST /v1/embeddings`` with the embedding model."""
    return [d.embedding for d in client.embeddings.create(model="minilm-local", input=texts).data]


if __name__ == "__main__":
    print(ask("What is the capital of France?"))
    print(ask_streaming("Name two planets."))
    print([m.id for m in client.models.list()])
