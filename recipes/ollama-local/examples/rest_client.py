"""Ollama's REST API from Python with httpx: chat (streamed NDJSON and whole), generate, embed, tags, ps, keep-alive.

Run: ``python examples/rest_client.py`` (reads ``OLLAMA_HOST`` like Ollama's own clients; default
127.0.0.1:11434). The tests import these functions and run them against a real Ollama.
"""

import json
import os
from typing import Iterator

import httpx

HOST = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434")
BASE = HOST if HOST.startswith(("http://", "https://")) else f"http://{HOST}"
MODEL, EMBED_MODEL = "smollm2-local", "minilm-local"


def chat_stream(messages: list[dict], num_predict: int = 32) -> Iterator[str]:
    """Yield the reply's text chunks as Ollama streams them (one JSON object per line, last has done=true)."""
    body = {"model": MODEL, "messages": messages, "options": {"num_predict": num_predict}}
    with httpx.stream("POST", f"{BASE}/api/chat", json=body, timeout=120) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line:
                chunk = json.loads(line)
                if "error" in chunk:  # errors after the stream started arrive as a line too
                    raise RuntimeError(chunk["error"])
                if not chunk["done"]:
                    yield chunk["message"]["content"]


def chat(messages: list[dict], num_predict: int = 32) -> dict:
    """The whole reply in one JSON object (``stream: false``), with token counts and timings (nanoseconds)."""
    body = {"model": MODEL, "messages": messages, "stream": False, "options": {"num_predict": num_predict}}
    r = httpx.post(f"{BASE}/api/chat", json=body, timeout=120)
    r.raise_for_status()
    return r.json()


def generate(prompt: str, num_predict: int = 32) -> str:
    """``/api/generate``: a prompt in, text out; the model's TEMPLATE and SYSTEM are applied by the server."""
    body = {"model": MODEL, "prompt": prompt, "stream": False, "options": {"num_predict": num_predict}}
    r = httpx.post(f"{BASE}/api/generate", json=body, timeout=120)
    r.raise_for_status()
    return r.json()["response"]


def embed(texts: list[str]) -> list[list[float]]:
    """``/api/embed``: one vector per input."""
    r = httpx.post(f"{BASE}/api/embed", json={"model": EMBED_MODEL, "input": texts}, timeout=120)
    r.raise_for_status()
    return r.json()["embeddings"]


def models() -> tuple[list[str], list[str]]:
    """(models on disk from ``/api/tags``, models loaded in memory from ``/api/ps``)."""
    tags = httpx.get(f"{BASE}/api/tags", timeout=30).json()["models"]
    ps = httpx.get(f"{BASE}/api/ps", timeout=30).json()["models"]
    return [m["name"] for m in tags], [m["name"] for m in ps]


def keep_alive(duration: "str | int") -> None:
    """Load the model and keep it for ``duration`` ("10m", seconds, -1 = forever), or unload it now (0)."""
    r = httpx.post(f"{BASE}/api/generate", json={"model": MODEL, "keep_alive": duration}, timeout=120)
    r.raise_for_status()


if __name__ == "__main__":
    question = [{"role": "user", "content": "Name a colour of the rainbow."}]
    print("".join(chat_stream(question)))
    print(chat(question)["message"]["content"])
    print(generate("Why is the sky blue?"))
    print(len(embed(["a cat", "a dog"])[0]), "dimensions")
    keep_alive("10m")
    print("on disk, loaded:", models())
    keep_alive(0)
