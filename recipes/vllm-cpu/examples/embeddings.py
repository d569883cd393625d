"""Embeddings from the second server (`make serve-embeddings`: MiniLM through vLLM's pooling runner)."""

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("VLLM_RECIPE_EMBED_BASE_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ.get("VLLM_RECIPE_API_KEY", "unused"),
)
r = client.embeddings.create(model="all-minilm-l6-v2", input=["A cat sits on the mat.", "A dog runs."])
print(len(r.data), len(r.data[0].embedding), r.usage.prompt_tokens)
