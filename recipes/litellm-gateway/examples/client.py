"""Call the gateway with the official openai client: plain, then streaming.

    LITELLM_GW_URL=http://127.0.0.1:4000 LITELLM_GW_KEY=sk-... python examples/client.py
"""

import os

from openai import OpenAI

client = OpenAI(base_url=os.environ.get("LITELLM_GW_URL", "http://127.0.0.1:4000") + "/v1",
                api_key=os.environ.get("LITELLM_GW_KEY", "sk-none"), max_retries=0)

reply = client.chat.completions.create(
    model="smollm2-135m-instruct",
    messages=[{"role": "user", "content": "Name one planet."}],
    max_tokens=16, temperature=0)
print(reply.choices[0].message.content)

stream = client.chat.completions.create(
    model="smollm2-135m-instruct",
    messages=[{"role": "user", "content": "Count to three."}],
    max_tokens=16, temperature=0, stream=True)
print("".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))
