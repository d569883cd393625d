"""Every snippet on the page: parses and lints here (CI, no Ollama), and runs against a real Ollama when there is one."""

import ast
import importlib.util
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1]
EXAMPLES = RECIPE / "examples"
PY = sorted(EXAMPLES.glob("*.py"))
SH = sorted(EXAMPLES.glob("*.sh"))
SHELLCHECK = Path(sys.executable).with_name("shellcheck")


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_example_is_on_the_page():
    readme = (RECIPE / "README.md").read_text()
    for f in PY + SH:
        assert f'--8<-- "recipes/ollama-local/examples/{f.name}"' in readme, f.name


@pytest.mark.parametrize("path", PY, ids=lambda p: p.name)
def test_python_example_compiles_and_documents_itself(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    compile(tree, str(path), "exec")
    assert ast.get_docstring(tree), f"{path.name}: module docstring missing"
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            assert ast.get_docstring(node), f"{path.name}: {node.name} has no docstring"


@pytest.mark.parametrize("path", SH, ids=lambda p: p.name)
def test_shell_example_passes_shellcheck(path):
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    r = subprocess.run([str(SHELLCHECK), "--severity=style", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


# ---- against a real Ollama ------------------------------------------------------------------------------------
def _cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.ollama
def test_rest_client(ollama_env):
    m = load("rest_client")
    q = [{"role": "user", "content": "Name a colour of the rainbow."}]
    streamed = list(m.chat_stream(q, num_predict=16))
    assert len(streamed) >= 2 and "".join(streamed).strip()
    whole = m.chat(q, num_predict=16)
    assert whole["done"] and whole["message"]["role"] == "assistant" and whole["eval_count"] <= 16
    assert m.generate("Why is the sky blue?", num_predict=16).strip()
    cat, kitten, tax = m.embed(["a cat sits on the mat", "a kitten rests on a rug", "quarterly tax filing rules"])
    assert len(cat) == 384 and _cos(cat, kitten) > _cos(cat, tax)
    m.keep_alive("10m")
    on_disk, loaded = m.models()
    assert {"smollm2-local:latest", "minilm-local:latest"} <= set(on_disk) and "smollm2-local:latest" in loaded
    m.keep_alive(0)
    deadline = time.monotonic() + 15  # the unload finishes right after the response
    while "smollm2-local:latest" in m.models()[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "smollm2-local:latest" not in m.models()[1]


@pytest.mark.ollama
def test_openai_client(ollama_env):
    m = load("openai_client")
    assert m.ask("What is the capital of France?", max_tokens=16).strip()
    assert m.ask_streaming("Name two planets.", max_tokens=16).strip()
    vecs = m.embeddings(["hello", "world"])
    assert len(vecs) == 2 and len(vecs[0]) == 384


@pytest.mark.ollama
def test_ollama_client(ollama_env):
    m = load("ollama_client")
    assert m.chat("What is 2 + 2?").strip() and m.chat_streaming("Name a fruit.").strip()
    assert m.generate("Complete: The quick brown fox").strip()
    assert len(m.embed(["hello"])[0]) == 384


@pytest.mark.ollama
def test_curl_sh(ollama_env):
    r = subprocess.run(["bash", str(EXAMPLES / "curl.sh")], env=ollama_env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('"done":true') >= 3 and '"embeddings"' in r.stdout and '"models"' in r.stdout


@pytest.mark.ollama
def test_cli_sh(ollama_env):
    if shutil.which("ollama") is None:
        pytest.skip("OLLAMA_HOST is set but the ollama CLI is not on PATH (cli.sh needs it)")
    models = RECIPE / "models"
    if not (models / "SmolLM2-135M-Instruct.Q4_1.gguf").exists():
        subprocess.run(["make", "-C", str(RECIPE), "models/SmolLM2-135M-Instruct.Q4_1.gguf"], check=True)
    r = subprocess.run(["bash", str(EXAMPLES / "cli.sh")], env=ollama_env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "num_ctx" in r.stdout and "4096" in r.stdout
