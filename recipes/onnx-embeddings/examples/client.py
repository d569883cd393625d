"""Call the service with the official OpenAI Python client (unchanged: only base_url differs).

    ONNX_EMB_URL=http://127.0.0.1:8000/v1 python examples/client.py
"""

import os

import numpy as np
from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("ONNX_EMB_URL", "http://127.0.0.1:8000/v1"),
    api_key=os.environ.get("ONNX_EMB_API_KEY", "unused"),  # sent as "Authorization: Bearer ..."
    max_retries=5,  # the client retries 429/503 and honours Retry-After
)

sentences = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply."]
resp = client.embeddings.create(model="all-MiniLM-L6-v2", input=sentences)
vectors = np.array([d.embedding for d in resp.data], dtype=np.float32)  # [3, 384], L2-normalised

print(f"{len(resp.data)} embeddings of dimension {vectors.shape[1]}, {resp.usage.total_tokens} tokens")
for i in (1, 2):
    print(f"cosine({sentences[0]!r}, {sentences[i]!r}) = {vectors[0] @ vectors[i]:.3f}")
