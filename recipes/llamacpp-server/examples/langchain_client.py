"""LangChain's OpenAI chat model pointed at the local server (invoke and stream)."""

import os

from langchain_openai import ChatOpenAI

chat = ChatOpenAI(
    base_url=os.environ.get("LLAMACPP_BASE_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ.get("LLAMACPP_API_KEY", "unused"),
    model="smollm2-135m-instruct",
    temperature=0,
    max_tokens=32,
)
print(chat.invoke("What is the capital of France? Answer in one word.").content)
for chunk in chat.stream("What is the capital of France? Answer in one word."):
    print(chunk.content, end="", flush=True)
print()
