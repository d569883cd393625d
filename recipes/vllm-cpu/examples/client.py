"""The official openai client against vLLM's server: an answer, a stream, a completion, JSON by schema."""

import json
import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("VLLM_RECIPE_BASE_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ.get("VLLM_RECIPE_API_KEY", "unused"),  # any string unless the server sets a key
)
MODEL = "smollm2-135m-instruct"
question = [{"role": "user", "content": "What is the capital of France?"}]

reply = client.chat.completions.create(model=MODEL, messages=question, max_tokens=32, temperature=0)
print(reply.choices[0].message.content)
print(reply.usage)

stream = client.chat.completions.create(model=MODEL, messages=question, max_tokens=32, temperature=0, stream=True)
for chunk in stream:
    print(chunk.choices[0].delta.content or "", end="", flush=True)
print()

completion = client.completions.create(model=MODEL, prompt="1, 2, 3,", max_tokens=8, temperature=0, stop=["\n"])
print(completion.choices[0].text)

# Structured output: vLLM constrains decoding to the JSON schema (guided decoding with xgrammar).
schema = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
          "required": ["city", "country"], "additionalProperties": False}
place = client.chat.completions.create(
    model=MODEL, max_tokens=60, temperature=0,
    messages=[{"role": "user", "content": "Name a city and its country as JSON."}],
    response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
)
print(json.loads(place.choices[0].message.content))
