"""Constrained output: JSON that follows a schema, and a GBNF grammar (llama.cpp's own syntax)."""

import json
import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("LLAMACPP_BASE_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ.get("LLAMACPP_API_KEY", "unused"),
)

# OpenAI structured outputs: the server turns the schema into a grammar, so the
# reply is valid JSON of this shape even from a 135M model.
schema = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 40},
                   "country": {"type": "string", "maxLength": 40}},
    "required": ["city", "country"],
}
reply = client.chat.completions.create(
    model="smollm2-135m-instruct",
    messages=[{"role": "user", "content": "Give the capital of France as JSON with keys city and country."}],
    response_format={"type": "json_schema", "json_schema": {"name": "capital", "schema": schema}},
    max_tokens=64, temperature=0, seed=42,
)
place = json.loads(reply.choices[0].message.content)
print(place)

# A GBNF grammar (not part of the OpenAI API: sent as an extra body field).
answer = client.completions.create(
    model="gemma3-270m", prompt="Question: Is Paris in France? Answer (yes or no):",
    max_tokens=4, temperature=0, extra_body={"grammar": 'root ::= " yes" | " no"'},
)
print(answer.choices[0].text.strip())
