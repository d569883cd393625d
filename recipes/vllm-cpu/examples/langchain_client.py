"""LangChain's ChatOpenAI, unchanged, pointed at vLLM's OpenAI-compatible server."""

import os

from langchain_openai import ChatOpenAI

llm = ChatOpenAI(
    base_url=os.environ.get("VLLM_RECIPE_BASE_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ.get("VLLM_RECIPE_API_KEY", "unused"),
    model="smollm2-135m-instruct",
    temperature=0,
    max_tokens=32,
)
print(llm.invoke("What is the capital of France?").content)
