"""The official openai client against the local server: an answer, a stream, a completion."""

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("LLAMACPP_BASE_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ.get("LLAMACPP_API_KEY", "unused"),  # any string unless the server sets a key
)
question = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]

reply = client.chat.completions.create(
    model="smollm2-135m-instruct", messages=question, max_tokens=32, temperature=0, seed=42
)
print(reply.choices[0].message.content)
print(reply.usage)

stream = client.chat.completions.create(
    model="smollm2-135m-instruct", messages=question, max_tokens=32, temperature=0, seed=42, stream=True
)
for chunk in stream:
    print(chunk.choices[0].delta.content or "", end="", flush=True)
print()

# Gemma-3-270M here is a base model: use completions, not chat.
completion = client.completions.create(
    model="gemma3-270m", prompt="The capital of France is", max_tokens=8, temperature=0
)
print(completion.choices[0].text)
