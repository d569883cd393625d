"""Call the Ray Serve recipe with the official openai client: embeddings and a chat completion (streamed).

    python examples/client.py [BASE_URL]   # default http://127.0.0.1:8000/v1 ; key from RAY_RECIPE_API_KEY
"""

import os
import sys

from openai import OpenAI

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/v1"
client = OpenAI(base_url=base, api_key=os.environ.get("RAY_RECIPE_API_KEY") or "none")

emb = client.embeddings.create(model="all-MiniLM-L6-v2", input=["A cat sits on the mat.", "Stocks fell today."])
print("embeddings:", len(emb.data), "x", len(emb.data[0].embedding))

stream = client.chat.completions.create(
    model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": "Name one colour."}],
    max_tokens=8, temperature=0, stream=True)
print("chat:", "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))
