"""MkDocs hooks: generate the catalog, recipe and notebook pages from data, plus llms.txt.

Wired in ``mkdocs.yml`` (``hooks: [cookbook/hooks.py]``). Generated pages (all virtual; nothing
is written into docs/):

- ``catalog/<section>.md`` from ``catalog/<section>.yaml``; ``catalog/index.md`` (decision guide and
  comparison tables); ``catalog/schema.json`` (the published JSON Schema); ``catalog/freshness.md``
  (facts due for re-checking, ``cookbook.freshness``); concept pages' fact markers become date badges
- ``recipes/index.md`` and ``recipes/<name>.md`` from each recipe's README, recipe.yaml and results/
- ``benchmarks.md`` (the cross-backend benchmarks, ``cookbook.benchpage``) and its plots from
  ``benchmarks/results/``
- ``verification.md`` (the verification dashboard, ``cookbook.dashboard``) from every recipe's results and
  metadata and the committed test-run record ``verification/last-run.json``
- ``notebooks/index.md`` from the notebooks' metadata; ``contributing.md`` from CONTRIBUTING.md
- ``assets/stylesheets/admonitions.css`` from ``render.CUSTOM_ADMONITIONS``
- ``llms.txt`` (llmstxt.org format) after the build

A catalog or recipe-metadata error aborts the build with the validator's messages.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # mkdocs loads hooks by path; make the package importable
    sys.path.insert(0, str(ROOT))

from cookbook import benchpage, dashboard, freshness, render, residency  # noqa: E402
from cookbook.catalog import CatalogError, json_schema, load_catalog  # noqa: E402
from cookbook.recipes import load_meta, load_results, recipe_dirs  # noqa: E402

_state: dict = {}
log = logging.getLogger("mkdocs.plugins.cookbook")


def _notebooks() -> list[tuple[Path, dict]]:
    out = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        data = json.loads(nb.read_text(encoding="utf-8"))
        out.append((nb, data.get("metadata", {}).get("cookbook", {})))
    return out


def on_config(config):
    """Load and validate the data; add generated recipe and notebook pages to the nav."""
    try:
        sections = load_catalog()
    except CatalogError as exc:
        raise PluginError("catalog is invalid:\n" + str(exc)) from None
    recipes = []
    for d in recipe_dirs():
        try:
            recipes.append((d, load_meta(d), load_results(d)))
        except Exception as exc:  # noqa: BLE001 - report any metadata problem as a build error
            raise PluginError(f"recipes/{d.name}: {exc}") from None
    _state.update(sections=sections, recipes=recipes, notebooks=_notebooks())
    for item in config["nav"] or []:
        if isinstance(item, dict) and "Recipes" in item:
            item["Recipes"] = ["recipes/index.md"] + [{m.title: f"recipes/{m.name}.md"} for _, m, _ in recipes]
        if isinstance(item, dict) and "Notebooks" in item:
            item["Notebooks"] = ["notebooks/index.md"] + [f"notebooks/{nb.name}" for nb, _ in _state["notebooks"]]
    return config


def _gen(files: Files, config, uri: str, content: str | bytes) -> None:
    """Add (or replace) a generated file; its edit link is set in on_page_context."""
    existing = files.get_file_from_path(uri)
    if existing:
        files.remove(existing)
    files.append(File.generated(config, uri, content=content))


def on_files(files: Files, config) -> Files:
    """Add every generated page and asset."""
    sections = _state["sections"]
    recipes = _state["recipes"]
    titles = {m.name: m.title for _, m, _ in recipes}
    entry_pages = {e.id: (s.section, e.name) for s in sections for e in s.entries}
    _state["entry_pages"] = entry_pages
    edits: dict[str, str] = {}
    for s in sections:
        _gen(files, config, f"catalog/{s.section}.md", render.section_markdown(s, titles))
        edits[f"catalog/{s.section}.md"] = f"catalog/{s.section}.yaml"
    _gen(files, config, "catalog/index.md", render.catalog_index(sections))
    edits["catalog/index.md"] = "cookbook/render.py"
    _gen(files, config, "catalog/schema.json", json.dumps(json_schema(), indent=2))
    _freshness_page(files, config, sections, edits)
    repo_url = config.get("repo_url") or ""
    for d, meta, results in recipes:
        _gen(files, config, f"recipes/{meta.name}.md", render.recipe_page(d, meta, results, repo_url, entry_pages))
        edits[f"recipes/{meta.name}.md"] = f"recipes/{meta.name}/README.md"
        for r in results:
            for plot in r.get("plots") or []:
                _gen(files, config, f"recipes/{meta.name}/{plot}", (d / "results" / plot).read_bytes())
    _gen(files, config, "recipes/index.md",
         render.recipes_index(((m, r) for _, m, r in recipes), entry_pages))
    edits["recipes/index.md"] = "cookbook/render.py"
    bench = ROOT / "benchmarks" / "results"
    _gen(files, config, "benchmarks.md", benchpage.benchmarks_page(bench))
    edits["benchmarks.md"] = "cookbook/benchpage.py"
    for f in benchpage.page_files(bench):
        _gen(files, config, f"benchmarks/{f.name}", f.read_bytes())
    _gen(files, config, "verification.md", dashboard.dashboard_page(recipes, dashboard.load_record()))
    edits["verification.md"] = "cookbook/dashboard.py"
    _gen(files, config, "notebooks/index.md", _notebooks_index())
    edits["notebooks/index.md"] = "cookbook/hooks.py"
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    _gen(files, config, "contributing.md", _site_links(contributing, repo_url))
    edits["contributing.md"] = "CONTRIBUTING.md"
    icons = Path(__import__("material").__file__).parent / "templates" / ".icons"
    _gen(files, config, "assets/stylesheets/admonitions.css", render.admonitions_css(icons))
    _state["edits"] = edits
    return files


def _freshness_page(files: Files, config, sections, edits: dict[str, str]) -> None:
    """``catalog/freshness.md``: facts not re-checked in 6 months (3 for prices); undated facts fail the build."""
    pages = freshness.concept_pages()
    facts = freshness.catalog_facts(sections) + [f for p in pages for f in p.facts.values()]
    bad = [m for p in pages for m in p.problems] + freshness.problems(facts, freshness.today())
    if bad:
        raise PluginError("facts without a valid date or source:\n" + "\n".join(bad))
    _gen(files, config, "catalog/freshness.md", freshness.freshness_page(facts, freshness.today()))
    edits["catalog/freshness.md"] = "cookbook/freshness.py"


def on_page_markdown(markdown, page, config, files):
    """Concept pages: replace ``<!-- fact:<id> -->`` markers with "checked YYYY-MM" badges and
    ``<!-- residency-table -->`` with the data-residency table from the catalog (``cookbook.residency``)."""
    markdown = residency.render_marker(markdown, _state["sections"], freshness.today())
    if not freshness.MARKER.search(markdown):
        return markdown
    facts = freshness.read_concept_page(Path(page.file.abs_src_path)).facts if page.file.abs_src_path else {}
    try:
        return freshness.render_markers(markdown, facts, freshness.today())
    except KeyError as exc:
        raise PluginError(f"{page.file.src_uri}: {exc.args[0]}") from None


def _site_links(text: str, repo_url: str) -> str:
    """CONTRIBUTING.md links point at repo files; on the site, point them at the repository."""
    base = f"{repo_url.rstrip('/')}/blob/main/"
    return re.sub(r"\]\((?!https?:|#|mailto:)([^)]+)\)", lambda m: f"]({base}{m.group(1)})", text)


def _notebooks_index() -> str:
    rows = []
    for nb, meta in _state["notebooks"]:
        title = meta.get("title", nb.stem)
        recipe = meta.get("recipe")
        concept = meta.get("concept")
        rel = []
        if recipe:
            rel.append(f"recipe [{recipe}](../recipes/{recipe}.md)")
        if concept:
            rel.append(f"concept [{concept}](../concepts/{concept}.md)")
        rows.append(f"| [{title}]({nb.name}) | {meta.get('summary', '')} | {', '.join(rel)} |")
    return ("# Notebooks\n\nWalkthroughs executed on every commit by pytest + "
            "[nbmake](https://github.com/treebeardtech/nbmake); the outputs shown are the committed ones from "
            "the last run. Each notebook is tied to a recipe or a concept page, and a recipe's notebooks run "
            "in that recipe's own virtual environment.\n\n| Notebook | What it shows | Related |\n|---|---|---|\n"
            + "\n".join(rows) + "\n")


_HREF = re.compile(r'href="(?![a-z][a-z0-9+.-]*:|#|/)([^"#?]+\.md)(#[^"]*)?"')


def on_page_content(html, page, config, files):
    """Notebook pages: resolve ``.md`` links the way MkDocs does for Markdown pages.

    mkdocs-jupyter renders notebooks without MkDocs' link processing, so ``../recipes/x.md`` in a
    notebook would stay a dead link. A link to a missing page is logged as a warning, which
    ``--strict`` turns into a build failure.
    """
    if not page.file.src_uri.endswith(".ipynb"):
        return html

    def fix(m: re.Match) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), m.group(1)))
        f = files.get_file_from_path(target)
        if f is None:
            log.warning("Notebook '%s' links to '%s', which is not a documentation page.", page.file.src_uri,
                        m.group(1))
            return m.group(0)
        return f'href="{f.url_relative_to(page.file)}{m.group(2) or ""}"'

    return _HREF.sub(fix, html)


def on_page_context(context, page, config, nav):
    """Edit-this-page for generated pages points at the data file they come from."""
    src = _state.get("edits", {}).get(page.file.src_uri)
    if src and config.get("repo_url"):
        page.edit_url = f"{config['repo_url'].rstrip('/')}/edit/main/{src}"
    elif page.file.src_uri.startswith("notebooks/") and config.get("repo_url"):
        page.edit_url = f"{config['repo_url'].rstrip('/')}/edit/main/{page.file.src_uri}"
    return context


def on_post_build(config):
    """Write ``llms.txt`` (https://llmstxt.org/): site summary plus a link list per section."""
    site = config["site_url"].rstrip("/") + "/"
    lines = [f"# {config['site_name']}", "", f"> {config['site_description'].strip()}", "",
             "Every recipe runs a real model on CPU in CI; numbers on recipe pages come from committed bench "
             "results with date, versions and hardware.", ""]

    def walk(items, depth=0):
        for it in items:
            if it.is_section:
                lines.append(f"\n## {it.title}\n" if depth == 0 else f"\n### {it.title}\n")
                walk(it.children, depth + 1)
            elif it.is_page:
                desc = (it.meta or {}).get("description", "") if hasattr(it, "meta") else ""
                lines.append(f"- [{it.title}]({site}{it.url})" + (f": {desc}" if desc else ""))

    nav = _state.get("nav")
    if nav is not None:
        walk(nav.items)
    lines += ["", "## Optional", "", f"- [Catalog JSON Schema]({site}catalog/schema.json)"]
    Path(config["site_dir"], "llms.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def on_nav(nav, config, files):
    """Keep the nav for llms.txt."""
    _state["nav"] = nav
    return nav
