"""Markdown rendering of catalog sections, comparison tables, recipe pages and results.

Pure functions from data (``cookbook.catalog`` / ``cookbook.recipes``) to Markdown strings, so
the MkDocs hook stays thin and the rendering is testable without a build.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any, Iterable

from cookbook import benchpage, freshness
from cookbook.catalog import Entry, Section
from cookbook.recipes import RESULTS_MARKER, VERIFIED_MARKER, RecipeMeta, read_pins, stale_versions

#: Custom admonition types: (Material icon under material/.icons, colour as "r, g, b").
#: ``docs/assets/stylesheets/admonitions.css`` is generated from this table by the hook.
CUSTOM_ADMONITIONS: dict[str, tuple[str, str]] = {
    "code": ("material/code-braces", "63, 81, 181"),
    "website": ("material/web", "0, 150, 136"),
    "tutorial": ("material/school", "255, 145, 0"),
    "paper": ("material/file-document-outline", "121, 85, 72"),
    "platform": ("material/cloud-outline", "3, 169, 244"),
    "api": ("material/api", "156, 39, 176"),
}

#: Committed cross-backend benchmark results (``make bench-all``): the decision guide's measured rows.
BENCH_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"

HOSTING_LABEL = {"self-hosted": "Self-hosted", "managed": "Managed / API", "both": "Both", "n/a": "—"}


def _indent(text: str, n: int = 4) -> str:
    return textwrap.indent(text.strip("\n"), " " * n, lambda line: True)


def _esc_title(text: str) -> str:
    """Escape a string for use inside an admonition title's double quotes."""
    return text.replace("\\", "\\\\").replace('"', "&quot;")


def entry_markdown(entry: Entry, section: Section, recipe_titles: dict[str, str],
                   on: "freshness.dt.date | None" = None) -> str:
    """One entry as a collapsible admonition in the seed's house style, preceded by its anchor.

    Dates: the facts line says "checked YYYY-MM" with the entry's sources; dated ``facts`` are listed
    with their own badges; the correction box names its month and sources. ``on`` is "today" for
    the staleness marks (default :func:`cookbook.freshness.today`)."""
    on = on or freshness.today()
    kind = (entry.admonition or section.default_admonition).value
    title = _esc_title(f"[{entry.name}]({entry.url}) {entry.summary}")
    facts = []
    if entry.license:
        facts.append(f":material-scale-balance: {entry.license}")
    facts.append(f":material-server: {HOSTING_LABEL[entry.hosting]}")
    if entry.hardware:
        facts.append(":material-chip: " + ", ".join(h.value.upper() if len(h.value) <= 3 else h.value
                                                    for h in entry.hardware))
    if entry.openai_compatible:
        facts.append(":material-api: OpenAI-compatible")
    entry_fact = freshness.DatedFact("", "", entry.name, "entry", entry.checked, tuple(str(u) for u in entry.sources))
    tags = " ".join(f'<span class="cb-tag">{t.value}</span>' for t in entry.tags)
    parts = []
    if entry.body:
        parts.append(entry.body.strip())
    if entry.facts:
        parts.append("\n".join(
            f"- {f.text} " + freshness.badge(freshness.DatedFact("", "", f.text, f.kind, f.checked,
                                                                 tuple(str(u) for u in f.sources), f.reported_by), on)
            for f in entry.facts))
    parts.append(" · ".join(facts) + " · " + freshness.badge(entry_fact, on) + f"<br>{tags}")
    if entry.recipes:
        links = ", ".join(f"[{recipe_titles.get(r, r)}](../recipes/{r}.md)" for r in entry.recipes)
        parts.append(f":material-flask-outline: **Tested recipe:** {links}")
    if entry.correction:
        seeds = ", ".join(entry.seeds) or "a seed page"
        c = entry.correction
        cfact = freshness.DatedFact("", "", entry.name, "correction", c.checked, tuple(str(u) for u in c.sources))
        parts.append(f'!!! info "Updated from the seed ({seeds}) · checked {c.checked}"\n\n'
                     f'{_indent(c.text.strip() + chr(10) + chr(10) + freshness.badge(cfact, on))}')
    body = "\n\n".join(parts)
    return f'<a id="{entry.id}" class="cb-anchor"></a>\n\n??? {kind} "{title}"\n\n{_indent(body)}\n'


def section_markdown(section: Section, recipe_titles: dict[str, str],
                     on: "freshness.dt.date | None" = None) -> str:
    """A whole catalog page: intro, a jump list, then each group's entries in file order."""
    on = on or freshness.today()
    out = [f"# {section.title}\n", section.intro.strip(), "",
           f"*{len(section.entries)} entries.* Compare them side by side in the "
           "[comparison tables](index.md#comparison-tables). Each entry says when it was last checked "
           "against its sources; [Freshness](freshness.md) lists what is due. Something missing or wrong? "
           f"[Edit `catalog/{section.section}.yaml`](../contributing.md).\n"]
    for g in section.groups:
        entries = [e for e in section.entries if e.group == g.id]
        if not entries:
            continue
        out.append(f"## {g.title} {{ #{g.id} }}\n")
        if g.intro:
            out.append(g.intro.strip() + "\n")
        out += [entry_markdown(e, section, recipe_titles, on) for e in entries]
    return "\n".join(out)


def _yes(v: bool | None) -> str:
    return {True: ":material-check:", False: ":material-close:", None: "—"}[v]


def _link(e: Entry, section: Section) -> str:
    return f"[{e.name}]({section.section}.md#{e.id})"


def comparison_tables(sections: list[Section]) -> str:
    """The catalog overview's tables, generated from the same data as the entry pages."""
    by_name = sorted(((e, s) for s in sections for e in s.entries if s.section != "tutorials"),
                     key=lambda es: es[0].name.casefold())
    hw_cols = ["cpu", "gpu", "tpu", "lpu"]
    lines = ["## Comparison tables\n",
             "Generated from the catalog data. :material-check: yes · :material-close: no · — not applicable "
             "or unknown.\n",
             "### Self-hosted or API, hardware, OpenAI compatibility, license\n",
             "| Name | Section | Hosting | " + " | ".join(h.upper() for h in hw_cols) +
             " | OpenAI-compatible | License | Recipe |",
             "|---|---|---|" + "|".join(":-:" for _ in hw_cols) + "|:-:|---|---|"]
    for e, s in by_name:
        hw = {h.value for h in e.hardware}
        cells = [":material-check:" if h in hw else "" for h in hw_cols]
        recipe = ", ".join(f"[{r}](../recipes/{r}.md)" for r in e.recipes)
        lines.append(f"| {_link(e, s)} | {s.title} | {HOSTING_LABEL[e.hosting]} | " + " | ".join(cells) +
                     f" | {_yes(e.openai_compatible)} | {e.license or '—'} | {recipe} |")
    counts: dict[str, int] = {}
    for e, _ in by_name:
        counts[e.hosting] = counts.get(e.hosting, 0) + 1
    lines.append("")
    lines.append("### Counts\n")
    lines.append("| Hosting | Entries |\n|---|--:|")
    for k in ("self-hosted", "managed", "both"):
        lines.append(f"| {HOSTING_LABEL[k]} | {counts.get(k, 0)} |")
    return "\n".join(lines) + "\n"


#: The decision guide: (question, answer predicate over entries, advice). Each row lists the
#: entries whose data matches, so adding an entry with the right tags adds it to the guide.
DECISION_GUIDE: list[tuple[str, str, Any]] = [
    ("I have no GPU and a small model (embeddings, ≤ 3B LLM)", "Self-hosted, runs on CPU",
     lambda e: e.hosting in ("self-hosted", "both") and any(h.value == "cpu" for h in e.hardware)
     and any(t.value in ("serving", "local") for t in e.tags)),
    ("I need the highest LLM throughput on my own GPUs", "Continuous batching and a paged KV cache",
     lambda e: e.hosting in ("self-hosted", "both") and any(t.value == "batching" for t in e.tags)
     and any(h.value == "gpu" for h in e.hardware) and any(t.value == "llm" for t in e.tags)),
    ("My clients already speak the OpenAI API", "OpenAI-compatible servers and gateways",
     lambda e: bool(e.openai_compatible) and e.hosting in ("self-hosted", "both")),
    ("I do not want to run servers at all", "Managed APIs and serverless inference",
     lambda e: e.hosting == "managed" and any(t.value in ("api", "serverless") for t in e.tags)),
    ("Data must stay in a region / jurisdiction", "Providers with regional or data-residency controls",
     lambda e: any(t.value == "data-residency" for t in e.tags)),
    ("Cost matters more than a guaranteed node", "Spot/preemptible capacity and autoscaling",
     lambda e: any(t.value in ("spot", "autoscaling") for t in e.tags)),
    ("I serve many model types (vision, tabular, embeddings) on one server", "Multi-framework inference servers",
     lambda e: any(t.value == "serving" for t in e.tags) and not any(t.value == "llm" for t in e.tags)
     and e.hosting in ("self-hosted", "both")),
]


def _retired(e: Entry) -> bool:
    return any(t.value in ("archived", "maintenance-mode", "status-unknown") for t in e.tags)


def decision_guide(sections: list[Section], bench_results: Path = BENCH_RESULTS) -> str:
    """'Which backend for my latency/cost/hardware?' rendered as a table: rows from entry data, then the
    "which backend is fastest here" rows from the committed cross-backend benchmark (``benchpage``)."""
    rows = ["## Decision guide\n",
            "Start from your constraint; each row lists the catalog entries whose data (tags, hosting, "
            "hardware, API) matches it, and the rows that begin *No GPU;* name the backend that measured best "
            "in the cookbook's own cross-backend benchmark, with the figures, the machine and the date (the "
            "[Benchmarks](../benchmarks.md) page has the conditions). The concept pages explain the trade-offs: "
            "[backend considerations](../concepts/backend-considerations.md), "
            "[compute](../concepts/compute.md), [managed APIs](../concepts/managed-apis.md). Projects tagged "
            "`archived`, `maintenance-mode` or `status-unknown` are left out.\n",
            "| If… | Look at | Candidates |", "|---|---|---|"]
    for question, answer, pred in DECISION_GUIDE:
        hits = sorted(((e, s) for s in sections for e in s.entries if pred(e) and not _retired(e)),
                      key=lambda es: es[0].name.casefold())
        rows.append(f"| {question} | {answer} | " + ", ".join(_link(e, s) for e, s in hits) + " |")
    rows += benchpage.decision_table_rows(bench_results)
    return "\n".join(rows) + "\n"


def catalog_index(sections: list[Section]) -> str:
    """The catalog landing page: sections as cards, decision guide, comparison tables."""
    total = sum(len(s.entries) for s in sections)
    cards = "\n".join(
        f"-   __[{s.title}]({s.section}.md)__\n\n    ---\n\n    {len(s.entries)} entries in "
        f"{len([g for g in s.groups if any(e.group == g.id for e in s.entries)])} groups: "
        + ", ".join(g.title for g in s.groups if any(e.group == g.id for e in s.entries)) + "\n"
        for s in sections)
    return (f"# Catalog\n\nBackends, platforms, API providers, tutorials and references for deploying AI "
            f"models: {total} entries, each a YAML record validated against a "
            f"[published JSON Schema](schema.json), rendered into these pages and tables. Entries marked "
            f"*Updated from the seed* correct or date the source pages this catalog grew from. Every entry, "
            f"correction and dated fact says the month it was last checked against its sources; "
            f"[Freshness](freshness.md) lists the ones due for re-checking.\n\n"
            f'<div class="grid cards" markdown>\n\n{cards}\n</div>\n\n'
            + decision_guide(sections) + "\n" + comparison_tables(sections))


# ----------------------------------------------------------------------------- recipes

def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def results_markdown(meta: RecipeMeta, results: list[dict[str, Any]], pins: dict[str, str]) -> str:
    """Tables, plots and provenance of every committed result of a recipe."""
    if not results:
        return '!!! warning "No committed results"\n\n    Run `make bench` in the recipe folder and commit results/.\n'
    out = []
    for r in results:
        out.append(f"### {r.get('title', r['_file'])}\n")
        cond = r.get("conditions")
        hw = r.get("hardware") or {}
        out.append(f"*{r.get('date', '?')[:10]} · {hw.get('cpu', '?')}, {hw.get('logical_cores', '?')} logical "
                   f"cores, {hw.get('memory_gib', '?')} GiB" + (f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU")
                   + f" · 1-min load at start {hw.get('load_avg_1m_at_start', '?')}*" + (f"  \n*{cond}*" if cond else "")
                   + "\n")
        for t in r.get("tables") or []:
            out.append(f"**{t['title']}**\n")
            cols = t["columns"]
            out.append("| " + " | ".join(cols) + " |")
            out.append("|" + "|".join("---" if i == 0 else "--:" for i in range(len(cols))) + "|")
            for row in t["rows"]:
                out.append("| " + " | ".join(_fmt(c) for c in row) + " |")
            if t.get("note"):
                out.append(f"\n{t['note']}")
            out.append("")
        for plot in r.get("plots") or []:
            out.append(f"![{r.get('title', 'results')}]({meta.name}/{plot}){{ loading=lazy }}\n")
        model = r.get("model") or {}
        prov = {k: r.get(k) for k in ("date", "git_revision", "python")}
        prov["model"] = model
        prov["versions"] = r.get("versions")
        prov["hardware"] = hw
        stale = stale_versions(r, pins)
        if stale:
            out.append('!!! warning "Stale: produced with other versions than the recipe pins"\n\n' +
                       _indent("\n".join(f"- {s}" for s in stale)) + "\n")
        out.append(f'??? abstract "Provenance of `results/{r["_file"]}`"\n\n'
                   + _indent("```json\n" + json.dumps(prov, indent=2) + "\n```") + "\n")
    return "\n".join(out)


def latest_measurement(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest result that is a measurement; results marked ``"derived": true`` (computed from other
    results, e.g. a capacity plan) count only when a recipe has nothing else."""
    measured = [r for r in results if r.get("derived") is not True] or results
    return max(measured, key=lambda x: x.get("date", ""))


def last_verified(meta: RecipeMeta, results: list[dict[str, Any]], pins: dict[str, str]) -> str:
    """The 'last verified' line: date, revision, key versions, model, hardware, headline result."""
    if not results:
        return '!!! failure "Never verified"\n\n    No committed bench results.\n'
    r = latest_measurement(results)
    hw = r.get("hardware") or {}
    model = r.get("model") or {}
    key = [b for b in pins if any(k in b for k in ("onnxruntime", "llama", "fastapi", "vllm", "triton", "torch",
                                                    "ollama", "uvicorn"))][:5]
    versions = ", ".join(f"{k} {(r.get('versions') or {}).get(k, '?')}" for k in key)
    ok = not stale_versions(r, pins)
    kind = "success" if ok else "warning"
    sha = model.get("sha256")
    model_s = model.get("name", "?") + (f" (sha256 `{sha[:12]}…`)" if sha else "")
    return (f'!!! {kind} "Last verified {r.get("date", "?")[:10]} at `{r.get("git_revision", "?")}`"\n\n'
            + _indent(f"{r.get('summary', '')}\n\n"
                      f"**Model** {model_s} · **Hardware** {hw.get('cpu', '?')}, {hw.get('logical_cores', '?')} "
                      f"cores" + (f", {hw['gpu']}" if hw.get("gpu") else ", no GPU") + f" · **Versions** {versions}, "
                      f"Python {r.get('python', '?')}" + ("" if ok else "\n\nResults are stale: pins changed since."))
            + "\n")


_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def recipe_page(recipe_dir: Path, meta: RecipeMeta, results: list[dict[str, Any]], repo_url: str,
                entry_pages: dict[str, tuple[str, str]]) -> str:
    """A recipe's README as a site page: markers replaced, relative links pointed at the repository."""
    pins, _ = read_pins(recipe_dir / "requirements.txt")
    text = (recipe_dir / "README.md").read_text(encoding="utf-8")
    blob = f"{repo_url.rstrip('/')}/blob/main/recipes/{recipe_dir.name}/"

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^(https?:|mailto:|#|/)", target):
            return m.group(0)
        return f"{m.group(1)}{blob}{target}{m.group(3)}"

    # rewrite links outside fenced code only
    chunks = re.split(r"(^```.*?^```)", text, flags=re.M | re.S)
    text = "".join(c if c.startswith("```") else _LINK.sub(fix, c) for c in chunks)
    text = text.replace(RESULTS_MARKER, results_markdown(meta, results, pins))
    text = text.replace(VERIFIED_MARKER, last_verified(meta, results, pins))
    backends = ", ".join(f"[{entry_pages[b][1]}](../catalog/{entry_pages[b][0]}.md#{b})" if b in entry_pages else b
                         for b in meta.backends)
    facts = ('!!! abstract "At a glance"\n\n'
             + _indent(f"**Backends** {backends} · **Models** " + ", ".join(m.name for m in meta.models)
                       + f" · **Hardware** {', '.join(h.upper() for h in meta.hardware)} · **RAM** ≥ "
                       f"{meta.min_ram_gb:g} GiB" + (f" · **VRAM** ≥ {meta.min_vram_gb:g} GiB" if meta.min_vram_gb
                                                     else "")
                       + f" · **Source** [recipes/{meta.name}/]({blob})"
                       + ("" if not meta.notebooks else " · **Notebooks** " + ", ".join(
                           f"[{Path(n).stem}](../{n})" for n in meta.notebooks)))
             + "\n")
    # insert the facts box (and the conformance note) after the H1
    facts += "\n" + conformance_note(meta)
    return re.sub(r"^(# .+\n)", lambda m: m.group(1) + "\n" + facts + "\n", text, count=1, flags=re.M)


def conformance_note(meta: RecipeMeta) -> str:
    """What the conformance suite expects of this recipe's server: its APIs, and every declared deviation."""
    if meta.serve is None:
        return ""
    link = "[server conventions](../contributing.md#server-conventions)"
    apis = ", ".join(f"`{a}`" for a in meta.serve.api)
    if not meta.serve.deviations:
        return (f'<a id="conformance"></a>\n\n!!! success "Conformance: no declared deviation"\n\n'
                + _indent(f"Serves {apis}. The repository's conformance suite starts this server on every commit "
                          f"and checks the cookbook's {link} black-box: probes, metrics, error shape, hostile "
                          f"input, schemathesis, auth, CORS and SIGTERM draining.") + "\n")
    rows = ["| Check | Why the upstream server differs | Source |", "|---|---|---|"]
    for d in meta.serve.deviations:
        cases = (f" ({', '.join(d.cases)})" if d.cases else "") + (f" on {', '.join(d.apis)}" if d.apis else "")
        src = f"[link]({d.upstream})" if d.upstream else ""
        rows.append(f"| `{d.check}`{cases} | {d.reason} | {src} |")
    return (f'<a id="conformance"></a>\n\n??? warning "Conformance: {len(meta.serve.deviations)} declared deviation(s) of the upstream server"'
            f"\n\n" + _indent(f"Serves {apis}. The conformance suite checks the cookbook's {link} on every "
                               "commit; these checks are expected to fail because of the upstream server, and "
                               "the suite fails if one of them starts to pass (so this list stays true).\n\n"
                               + "\n".join(rows)) + "\n")


def recipes_index(items: Iterable[tuple[RecipeMeta, list[dict[str, Any]]]],
                  entry_pages: dict[str, tuple[str, str]]) -> str:
    """The recipes landing page: one card per recipe with its last-verified headline."""
    cards, rows = [], []
    for meta, results in items:
        latest = latest_measurement(results) if results else {}
        verified = latest.get("date", "never")[:10]
        cards.append(f"-   __[{meta.title}]({meta.name}.md)__\n\n    ---\n\n    {meta.summary}\n\n"
                     f"    :material-check-decagram: Last verified {verified}: {latest.get('summary', 'no results')}\n")
        backends = ", ".join(f"[{entry_pages[b][1]}](../catalog/{entry_pages[b][0]}.md#{b})" if b in entry_pages
                             else b for b in meta.backends)
        rows.append(f"| [{meta.title}]({meta.name}.md) | {backends} | {', '.join(m.name for m in meta.models)} | "
                    f"{', '.join(h.upper() for h in meta.hardware)} | {meta.min_ram_gb:g} GiB | {verified} |")
    return ("# Recipes\n\nEach recipe is a self-contained folder under `recipes/`: a real model, a real server, "
            "tests that run in CI on every commit, and a bench whose committed results are the numbers on its "
            "page. Copy the folder alone into your project; `make test` there installs its pinned "
            "requirements and passes.\n\n"
            '<div class="grid cards" markdown>\n\n' + "\n".join(cards) + "\n</div>\n\n"
            "| Recipe | Backends | Models | Hardware | RAM | Last verified |\n|---|---|---|---|--:|---|\n"
            + "\n".join(rows) + "\n\n"
            "What every recipe must contain, and how the site checks it: [the recipe contract]"
            "(../contributing.md#the-recipe-contract).\n")


def admonitions_css(icons_dir: Path) -> str:
    """CSS for the custom admonition types, icons inlined from Material's bundled SVGs."""
    rules = [":root {"]
    for name, (icon, _) in CUSTOM_ADMONITIONS.items():
        svg = (icons_dir / f"{icon}.svg").read_text(encoding="utf-8").strip()
        svg = svg.replace('"', "'").replace("#", "%23")
        rules.append(f'  --md-admonition-icon--{name}: url("data:image/svg+xml;charset=utf-8,{svg}");')
    rules.append("}")
    for name, (_, rgb) in CUSTOM_ADMONITIONS.items():
        rules.append(
            f".md-typeset .admonition.{name}, .md-typeset details.{name} {{ border-color: rgb({rgb}); }}\n"
            f".md-typeset .{name} > .admonition-title, .md-typeset .{name} > summary "
            f"{{ background-color: rgba({rgb}, 0.1); }}\n"
            f".md-typeset .{name} > .admonition-title::before, .md-typeset .{name} > summary::before "
            f"{{ background-color: rgb({rgb}); -webkit-mask-image: var(--md-admonition-icon--{name}); "
            f"mask-image: var(--md-admonition-icon--{name}); }}")
    return "/* Generated by cookbook/render.py from CUSTOM_ADMONITIONS. Do not edit. */\n" + "\n".join(rules) + "\n"
