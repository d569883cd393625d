"""The official ``ollama`` Python client: chat (whole and streamed), generate, embed, list, ps.

``Client()`` reads ``OLLAMA_HOST`` (default 127.0.0.1:11434). Run: ``python examples/ollama_client.py``.
"""

from ollama import Client

client = Client()


def chat(question: str) -> str:
    """One reply; ``options`` are the Modelfile PARAMETERs, per request."""
    r = client.chat(model="smollm2-local", messages=[{"role": "user", "content": question}],
                    options={"num_predict": 32})
    return r.message.content or ""


def chat_streaming(question: str) -> str:
    """The same, streamed chunk by chunk; returns the joined text."""
    parts = []
    for chunk in client.chat(model="smollm2-local", messages=[{"role": "user", "content": question}],
                             stream=True, options={"num_predict": 32}):
        parts.append(chunk.message.content or "")
    return "".join(parts)


def generate(prompt: str) -> str:
    """``/api/generate`` through the client."""
    return client.generate(model="smollm2-local", prompt=prompt, options={"num_predict": 32}).response


def embed(texts: list[str]) -> list[list[float]]:
    """``/api/embed`` through the client."""
    return [list(v) for v in client.embed(model="minilm-local", input=texts).embeddings]


if __name__ == "__main__":
    print(chat("What is 2 + 2?"))
    print(chat_streaming("Name a fruit."))
    print(generate("Complete: The quick brown fox"))
    print(len(embed(["hello"])[0]), "dimensions")
    print([m.model for m in client.list().models], [m.model for m in client.ps().models])
