"""The OpenAI-compatible API through Ray Serve's proxy: real models, real cluster, the official openai client."""

import math

import httpx
from openai import OpenAI

from conftest import API_KEY


def _openai(server) -> OpenAI:
    return OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def test_probes_and_models(server, http):
    assert http.get("/healthz").json() == {"status": "ok"}
    r = http.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready", "detail": None,
                                                  "models": ["all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"]}
    ids = [m.id for m in _openai(server).models.list().data]
    assert ids == ["all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"]


def test_embeddings_are_unit_length_and_meaningful(server):
    texts = ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Interest rates rose by half a point."]
    resp = _openai(server).embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    vecs = [d.embedding for d in resp.data]
    assert [d.index for d in resp.data] == [0, 1, 2] and all(len(v) == 384 for v in vecs)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vecs)
    cos = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]) + 0.3, "similar sentences must be closer"
    assert resp.usage.prompt_tokens > 10


def test_embeddings_match_onnx_runtime_in_process(server):
    """The served vector equals ONNX Runtime run here on the same file (the deployment adds nothing)."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from ray_serve_recipe.settings import Settings

    s = Settings()
    tok = Tokenizer.from_file(str(s.model_dir / "tokenizer.json"))
    enc = tok.encode("Ray Serve scales replicas.")
    ids, mask = np.array([enc.ids], dtype=np.int64), np.array([enc.attention_mask], dtype=np.int64)
    ref = ort.InferenceSession(str(s.model_dir / "minilm.onnx")).run(
        None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0][0]
    got = _openai(server).embeddings.create(model="all-MiniLM-L6-v2", input="Ray Serve scales replicas.")
    assert float(np.dot(ref, np.array(got.data[0].embedding))) > 0.99999


def test_chat_completion_and_stream(server):
    c = _openai(server)
    r = c.chat.completions.create(model="SmolLM2-135M-Instruct", max_tokens=8, temperature=0,
                                  messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert r.choices[0].message.content.strip() and r.model == "SmolLM2-135M-Instruct"
    assert 0 < r.usage.completion_tokens <= 8
    chunks = list(c.chat.completions.create(model="SmolLM2-135M-Instruct", max_tokens=6, temperature=0, stream=True,
                                            messages=[{"role": "user", "content": "Say hello."}]))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert len(chunks) >= 2 and text.strip()


def test_chat_accepts_openai_text_content_parts(server):
    """Content parts are the same prompt as the joined string: greedy decoding gives the same answer."""
    c = _openai(server)
    ask = lambda content: c.chat.completions.create(  # noqa: E731
        model="SmolLM2-135M-Instruct", max_tokens=8, temperature=0, seed=1,
        messages=[{"role": "user", "content": content}]).choices[0].message.content
    parts = [{"type": "text", "text": "What is the capital"}, {"type": "text", "text": "of France?"}]
    got = ask(parts)
    assert got.strip() and got == ask("What is the capital\nof France?")


def test_logit_bias_bans_end_of_generation(server):
    """logit_bias -100 on the end-of-generation tokens (as the cross-backend bench sends) forces max_tokens
    tokens; the same request without it stops early on a prompt that asks for one word."""
    c = _openai(server)
    msgs = [{"role": "user", "content": "Answer with one word: what colour is the sky?"}]
    free = c.chat.completions.create(model="SmolLM2-135M-Instruct", max_tokens=16, temperature=0, messages=msgs)
    assert free.choices[0].finish_reason == "stop" and free.usage.completion_tokens < 16
    import llama_cpp

    from ray_serve_recipe.deployments import _gguf_path
    from ray_serve_recipe.settings import Settings

    vocab_only = llama_cpp.Llama(model_path=_gguf_path(Settings()), vocab_only=True, verbose=False)
    eog = {str(i): -100 for i in range(vocab_only.n_vocab())
           if llama_cpp.llama_vocab_is_eog(vocab_only._model.vocab, i)}
    assert eog  # SmolLM2's GGUF marks 0, 2 and 4 as end-of-generation
    forced = c.chat.completions.create(model="SmolLM2-135M-Instruct", max_tokens=16, temperature=0, messages=msgs,
                                       logit_bias=eog)
    assert forced.choices[0].finish_reason == "length" and forced.usage.completion_tokens == 16


def test_metrics_open_without_key(server):
    r = httpx.get(server.url + "/metrics", timeout=10)
    assert r.status_code == 200 and "recipe_requests_total" in r.text


def test_openapi_documents_both_routes(server):
    doc = httpx.get(server.url + "/openapi.json", timeout=10).json()
    assert {"/v1/embeddings", "/v1/chat/completions", "/healthz", "/readyz"} <= set(doc["paths"])
