"""Embeddings with all-MiniLM-L6-v2 through vLLM's pooling runner: the documented second server
(``make serve-embeddings`` = ``VLLM_RECIPE_TASK=embed``). Checked against the model run directly in
transformers (mean pooling + L2 norm, sentence-transformers' recipe for this model)."""

from __future__ import annotations

import pytest

from vllm_recipe.launcher import ServerProcess

pytestmark = pytest.mark.slow

SENTENCES = ["A cat sits on the mat.", "Das Wetter ist heute schön.", "vLLM serves embeddings too."]


@pytest.fixture(scope="module")
def embed_server():
    srv = ServerProcess(TASK="embed", DTYPE="float32", KVCACHE_SPACE_GIB="1").start(420)
    yield srv
    srv.stop()


def _reference(model_dir: str):
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    emb = (out * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(emb, dim=-1)


def test_embeddings_match_transformers(embed_server):
    import torch
    from openai import OpenAI

    from vllm_recipe.settings import Settings

    client = OpenAI(base_url=embed_server.url + "/v1", api_key="none", max_retries=0, timeout=60)
    r = client.embeddings.create(model="all-minilm-l6-v2", input=SENTENCES)
    got = torch.tensor([d.embedding for d in r.data])
    assert got.shape == (3, 384)
    ref = _reference(Settings(task="embed").resolved_model())
    cos = torch.nn.functional.cosine_similarity(got, ref, dim=-1)
    assert float(cos.min()) > 0.999, cos
    assert r.usage.prompt_tokens > 0


def test_embeddings_example(embed_server):
    import os
    import subprocess
    import sys

    from vllm_recipe.launcher import RECIPE

    env = {**os.environ, "VLLM_RECIPE_EMBED_BASE_URL": embed_server.url}
    out = subprocess.run([sys.executable, str(RECIPE / "examples" / "embeddings.py")], env=env, cwd=RECIPE,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    n, dim, tokens = out.stdout.split()
    assert (n, dim) == ("2", "384") and int(tokens) > 0
