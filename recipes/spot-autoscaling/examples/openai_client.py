"""The official ``openai`` client's own retries, pointed at the fleet's load balancer.

``max_retries`` (default 2) re-sends on connection errors, 408, 409, 429 and 5xx, with exponential backoff and
jitter, and honours ``Retry-After`` / ``retry-after-ms`` when the server sends a short one; ``timeout`` bounds
each attempt. It retries every request it sends, so enable it for embeddings and non-streamed completions only;
for ``stream=True`` set ``max_retries=0`` and decide yourself (a stream that already delivered tokens is not
safe to restart). https://github.com/openai/openai-python#retries
"""

from __future__ import annotations

import os

import httpx
from openai import OpenAI


def make_client(base_url: str) -> OpenAI:
    """An ``OpenAI`` client for ``base_url`` (e.g. ``http://127.0.0.1:8080/v1``) with retries for spot fleets."""
    return OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "unused"),
                  max_retries=5, timeout=httpx.Timeout(10.0, connect=2.0))


if __name__ == "__main__":
    client = make_client(os.environ.get("BASE_URL", "http://127.0.0.1:8080/v1"))
    out = client.embeddings.create(model="all-MiniLM-L6-v2", input=["spot capacity comes and goes"])
    print(len(out.data[0].embedding))
