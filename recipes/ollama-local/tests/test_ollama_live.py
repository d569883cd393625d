"""The Modelfile inside a real Ollama: what Ollama stored, and the prompt it actually builds.

Ollama does not return the prompt it rendered, but two requests tell: a chat request and a raw ``/api/generate``
whose prompt is the GGUF's own Jinja rendering of the same conversation must count the same prompt tokens and,
greedy with one seed, produce the same reply. Both requests unload the model afterwards (``keep_alive: 0``) so the
second one cannot reuse the first one's KV cache, which would lower its ``prompt_eval_count``. Skips without Ollama.
"""

import httpx
import pytest

from ollama_local import chatcheck, launcher
from ollama_local.modelfile import load_modelfile

pytestmark = pytest.mark.ollama
GREEDY = {"temperature": 0, "seed": 7, "num_predict": 12}


def test_ollama_stored_the_modelfile(ollama_url):
    mf = load_modelfile()
    show = httpx.post(ollama_url + "/api/show", json={"model": launcher.CHAT_MODEL}, timeout=60).json()
    assert show["template"] == mf.template and show["system"] == mf.system
    for stop in mf.parameters["stop"]:
        assert stop in show["parameters"]
    assert show["model_info"]["llama.context_length"] == 8192


@pytest.mark.parametrize("name", [n for n in chatcheck.CONVERSATIONS if not n.startswith("assistant prefix")])
def test_ollama_prompt_equals_the_jinja_prompt(ollama_url, name):
    info = chatcheck.read_gguf()
    messages = chatcheck.CONVERSATIONS[name]
    ref = chatcheck.render_jinja(info.chat_template, messages)
    chat = httpx.post(ollama_url + "/api/chat", timeout=120, json={
        "model": launcher.CHAT_MODEL, "messages": messages, "stream": False, "options": GREEDY,
        "keep_alive": 0}).json()
    raw = httpx.post(ollama_url + "/api/generate", timeout=120, json={
        "model": launcher.CHAT_MODEL, "prompt": ref, "raw": True, "stream": False, "options": GREEDY,
        "keep_alive": 0}).json()
    assert chat["prompt_eval_count"] == raw["prompt_eval_count"]
    assert chat["message"]["content"] == raw["response"]


def test_stop_tokens_end_the_reply(ollama_url):
    r = httpx.post(ollama_url + "/api/chat", timeout=120, json={
        "model": launcher.CHAT_MODEL, "stream": False, "options": {"num_predict": 256, "temperature": 0},
        "messages": [{"role": "user", "content": "Say OK."}]}).json()
    assert r["done_reason"] == "stop" and "<|im" not in r["message"]["content"]


def test_unknown_model_is_404_in_ollama_shape(ollama_url):
    r = httpx.post(ollama_url + "/api/chat", json={"model": "no-such-model-xyz", "messages": []}, timeout=30)
    assert r.status_code == 404 and set(r.json()) == {"error"}
