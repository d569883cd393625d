"""Every folder under recipes/ follows the recipe contract (CONTRIBUTING.md#the-recipe-contract)."""

from __future__ import annotations

import shutil

import pytest

from cookbook.catalog import load_catalog
from cookbook.recipes import RECIPES_DIR, contract_problems, recipe_dirs

ENTRY_IDS = {e.id for s in load_catalog() for e in s.entries}


def test_there_are_recipes():
    assert recipe_dirs(), "no recipes under recipes/"


@pytest.mark.parametrize("recipe", [d.name for d in recipe_dirs()])
def test_recipe_follows_the_contract(recipe):
    problems = contract_problems(RECIPES_DIR / recipe, ENTRY_IDS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("recipe", [d.name for d in recipe_dirs()])
def test_catalog_links_back_to_recipe(recipe):
    from cookbook.recipes import load_meta

    meta = load_meta(RECIPES_DIR / recipe)
    linked = {e.id for s in load_catalog() for e in s.entries if recipe in e.recipes}
    assert linked & set(meta.backends), f"no catalog entry of {meta.backends} lists recipe {recipe!r}"


def test_contract_checker_catches_breakage(tmp_path):
    """The checker itself: a copied recipe with injected faults yields one message per fault."""
    src = recipe_dirs()[0]
    dst = tmp_path / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".venv", "models", "__pycache__"))
    from cookbook.recipes import load_meta

    pkg = load_meta(dst).package
    (dst / "requirements.txt").write_text((dst / "requirements.txt").read_text() + "\nrequests>=2\n")
    (dst / pkg / "provenance.py").write_text("# drifted\n")
    (dst / pkg / "leak.py").write_text("import sys\nsys.path.insert(0, '../..')\nfrom cookbook import catalog\n")
    (dst / "Dockerfile").unlink()
    meta_text = (dst / "recipe.yaml").read_text()
    (dst / "recipe.yaml").write_text(meta_text.replace("key_packages: [", "key_packages: [not-a-pin, ", 1))
    problems = "\n".join(contract_problems(dst, ENTRY_IDS))
    assert "field 'key_packages': 'not-a-pin' is not pinned in requirements.txt" in problems
    assert "'requests>=2' is not pinned with ==" in problems
    assert "provenance.py: differs from cookbook/provenance_template.py" in problems
    assert "imports 'cookbook' from outside the recipe folder" in problems
    assert "adds a parent folder to sys.path" in problems
    assert "Dockerfile: missing" in problems
