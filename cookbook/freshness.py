"""Freshness of the site's facts: every dated claim, how old it is, and which are due for re-checking.

Facts come from two places:

- the catalog (``catalog/*.yaml``): each entry's ``checked``/``sources`` (its summary and body), its
  ``correction`` and each item of its ``facts`` list (see ``cookbook.catalog``);
- concept pages (``docs/concepts/*.md``): a ``facts:`` list in the page's YAML front matter, one item
  per number, price or notice period, referenced in the text by an HTML comment marker
  ``<!-- fact:<id> -->`` right after the claim. The build replaces each marker with a
  "checked YYYY-MM" badge linking the sources (:func:`render_markers`).

A fact is **due** when it was last checked more than :data:`STALE_MONTHS` (6) months ago, or
:data:`PRICE_STALE_MONTHS` (3) months for prices: prices change fastest. The generated page
``catalog/freshness.md`` (:func:`freshness_page`) lists the due ones; a due price is also marked on the
page that states it. "Today" is the build date, or ``COOKBOOK_TODAY=YYYY-MM-DD`` for reproducible
builds and tests.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import yaml

from cookbook.catalog import MONTH, ROOT, Section

#: Months after which a fact is due for re-checking (the issue-15 policy).
STALE_MONTHS = 6
#: Months after which a price is due for re-checking.
PRICE_STALE_MONTHS = 3
#: Kinds a concept-page fact may have (as for catalog facts).
KINDS = ("fact", "price", "number", "notice", "status")

CONCEPTS_DIR = ROOT / "docs" / "concepts"
#: Where an entry's ``data_controls`` are shown (the table of ``cookbook.residency``).
RESIDENCY_PAGE = "concepts/managed-apis.md#data-residency-by-provider"
MARKER = re.compile(r"<!--\s*fact:([a-z0-9]+(?:-[a-z0-9]+)*)\s*-->")
_FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.S)


@dataclass(frozen=True)
class DatedFact:
    """One dated claim wherever it lives.

    ``where`` names the data file (``catalog/platforms.yaml`` or ``docs/concepts/compute.md``),
    ``page`` the site page and anchor that shows it (``catalog/platforms.md#groq``), ``label`` a
    short human description, ``kind`` one of entry/correction/fact/price/number/notice/status,
    ``checked`` the month ``YYYY-MM`` (``None`` when missing: a defect), ``sources`` the URLs.
    """

    where: str
    page: str
    label: str
    kind: str
    checked: Optional[str]
    sources: tuple[str, ...] = ()
    reported_by: Optional[str] = None
    id: str = ""


@dataclass
class ConceptPage:
    """A concept page's declared facts (from front matter) and the marker ids used in its text."""

    path: Path
    facts: dict[str, DatedFact] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def today() -> dt.date:
    """The build date, overridable with ``COOKBOOK_TODAY=YYYY-MM-DD``."""
    env = os.environ.get("COOKBOOK_TODAY")
    return dt.date.fromisoformat(env) if env else dt.date.today()


def months_old(checked: str, on: dt.date) -> int:
    """Whole calendar months from ``checked`` (``YYYY-MM``) to the month of ``on``; 0 in the same month.

    Raises ``ValueError`` if ``checked`` is not ``YYYY-MM``."""
    if not re.match(MONTH, checked or ""):
        raise ValueError(f"{checked!r} is not a month (YYYY-MM)")
    y, m = (int(x) for x in checked.split("-"))
    return (on.year - y) * 12 + (on.month - m)


def limit_months(kind: str) -> int:
    """Re-check interval in months for a fact kind: 3 for prices, 6 otherwise."""
    return PRICE_STALE_MONTHS if kind == "price" else STALE_MONTHS


def is_due(fact: DatedFact, on: dt.date) -> bool:
    """True when the fact has no valid date or is older than its kind's interval."""
    try:
        return months_old(fact.checked or "", on) > limit_months(fact.kind)
    except ValueError:
        return True


# ----------------------------------------------------------------------------- collecting

def catalog_facts(sections: Iterable[Section]) -> list[DatedFact]:
    """Every dated claim in the (validated) catalog: entry, correction, each item of ``facts`` and the
    ``data_controls`` block of a managed model API (one claim; shown in ``cookbook.residency``'s table)."""
    out = []
    for s in sections:
        where = f"catalog/{s.section}.yaml"
        for e in s.entries:
            page = f"catalog/{s.section}.md#{e.id}"
            out.append(DatedFact(where, page, f"{e.name}: summary and description", "entry", e.checked,
                                 tuple(str(u) for u in e.sources), id=e.id))
            if e.correction:
                out.append(DatedFact(where, page, f"{e.name}: Updated from the seed", "correction",
                                     e.correction.checked, tuple(str(u) for u in e.correction.sources),
                                     id=f"{e.id}/correction"))
            for i, f in enumerate(e.facts, 1):
                out.append(DatedFact(where, page, f"{e.name}: {f.text}", f.kind, f.checked,
                                     tuple(str(u) for u in f.sources), f.reported_by, id=f"{e.id}/fact-{i}"))
            if e.data_controls:
                dc = e.data_controls
                out.append(DatedFact(where, RESIDENCY_PAGE,
                                     f"{e.name}: data controls (region, retention, fine-tuning, pricing)", "fact",
                                     dc.checked, tuple(str(u) for u in dc.sources), id=f"{e.id}/data-controls"))
    return out


def front_matter(text: str) -> tuple[dict, str]:
    """Split a Markdown page into (front-matter mapping, body). No front matter gives ``({}, text)``."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    meta = yaml.safe_load(m.group(1)) or {}
    return (meta if isinstance(meta, dict) else {}), text[m.end():]


def _page_uri(path: Path) -> str:
    try:
        return path.relative_to(ROOT / "docs").as_posix()
    except ValueError:
        return path.name


def read_concept_page(path: Path) -> ConceptPage:
    """Parse one page's ``facts:`` front matter and its markers; problems name the page and fact id."""
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    meta, body = front_matter(path.read_text(encoding="utf-8"))
    page = ConceptPage(path)
    page.markers = MARKER.findall(body)
    for i, item in enumerate(meta.get("facts") or [], 1):
        if not isinstance(item, dict):
            page.problems.append(f"{rel}: facts item #{i}: must be a mapping with id, text, kind, checked, sources")
            continue
        fid = str(item.get("id") or "")
        here = f"{rel}: fact {fid or f'#{i}'!r}"
        if not re.match(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", fid):
            page.problems.append(f"{here}: field 'id': missing or not a lowercase slug")
        if fid in page.facts:
            page.problems.append(f"{here}: field 'id': duplicate")
        checked = item.get("checked")
        if not isinstance(checked, str) or not re.match(MONTH, checked):
            page.problems.append(f"{here}: field 'checked': {checked!r} is not a month; write YYYY-MM, "
                                 "e.g. checked: 2026-12")
            checked = None
        sources = item.get("sources") or ([item["source"]] if item.get("source") else [])
        if isinstance(sources, str):
            sources = [sources]
        if not sources or not all(isinstance(u, str) and u.startswith("https://") for u in sources):
            page.problems.append(f"{here}: field 'sources': give at least one https source URL")
        kind = item.get("kind", "fact")
        if kind not in KINDS:
            page.problems.append(f"{here}: field 'kind': unknown value {kind!r}; expected one of: {', '.join(KINDS)}")
        if not str(item.get("text") or "").strip():
            page.problems.append(f"{here}: field 'text': missing (the claim as the page states it)")
        page.facts[fid] = DatedFact(rel, f"{_page_uri(path)}", str(item.get("text") or fid), str(kind), checked,
                                    tuple(str(u) for u in sources), item.get("reported_by"), id=fid)
    for fid in page.markers:
        if fid not in page.facts:
            page.problems.append(f"{rel}: marker <!-- fact:{fid} --> has no entry in the page's 'facts:' front matter")
    for fid in page.facts:
        if fid not in page.markers:
            page.problems.append(f"{rel}: fact {fid!r} is declared but never marked in the text "
                                 f"(put <!-- fact:{fid} --> after the claim)")
    return page


def concept_pages(directory: Path = CONCEPTS_DIR) -> list[ConceptPage]:
    """Every concept page, parsed (pages without ``facts:`` included, with no facts)."""
    return [read_concept_page(p) for p in sorted(directory.glob("*.md"))]


def all_facts(sections: Iterable[Section], directory: Path = CONCEPTS_DIR) -> list[DatedFact]:
    """Catalog facts plus every concept page's declared facts."""
    return catalog_facts(sections) + [f for p in concept_pages(directory) for f in p.facts.values()]


def problems(facts: Iterable[DatedFact], on: dt.date) -> list[str]:
    """Facts with no valid date, no source, or a date after ``on``: one message each."""
    out = []
    for f in facts:
        if not f.checked or not re.match(MONTH, f.checked):
            out.append(f"{f.where}: {f.label}: no valid 'checked' month")
        elif months_old(f.checked, on) < 0:
            out.append(f"{f.where}: {f.label}: checked {f.checked} is in the future")
        if not f.sources:
            out.append(f"{f.where}: {f.label}: no source URL")
    return out


# ----------------------------------------------------------------------------- rendering

def _sources_md(sources: Iterable[str]) -> str:
    srcs = list(sources)
    if len(srcs) == 1:
        return f"[source]({srcs[0]})"
    return "sources " + " ".join(f"[{i}]({u})" for i, u in enumerate(srcs, 1))


def badge(fact: DatedFact, on: dt.date) -> str:
    """Inline Markdown shown next to a claim: "checked YYYY-MM" with links to its sources.

    A price older than 3 months (or any fact older than 6) gets a visible warning instead of the
    plain badge; a secondary-only claim says who reported it."""
    rep = f" · reported by {fact.reported_by}" if fact.reported_by else ""
    srcs = f" · {_sources_md(fact.sources)}" if fact.sources else ""
    if is_due(fact, on):
        what = "price" if fact.kind == "price" else "fact"
        return (f'<small class="cb-checked cb-due">:material-alert: **{what} checked {fact.checked or "never"}, '
                f'older than {limit_months(fact.kind)} months: verify before relying on it**{rep}{srcs}</small>')
    return f'<small class="cb-checked">:material-calendar-check: checked {fact.checked}{rep}{srcs}</small>'


def render_markers(markdown: str, facts: dict[str, DatedFact], on: dt.date) -> str:
    """Replace each ``<!-- fact:<id> -->`` marker with its badge. Raises ``KeyError`` for an unknown id."""
    def sub(m: re.Match) -> str:
        fid = m.group(1)
        if fid not in facts:
            raise KeyError(f"marker <!-- fact:{fid} --> has no entry in the page's 'facts:' front matter")
        return " " + badge(facts[fid], on)
    return MARKER.sub(sub, markdown)


def _link(f: DatedFact) -> str:
    page, _, anchor = f.page.partition("#")
    # the freshness page lives at catalog/freshness.md
    target = page[len("catalog/"):] if page.startswith("catalog/") else f"../{page}"
    return f"[{f.label}]({target}{'#' + anchor if anchor else ''})"


def freshness_page(facts: list[DatedFact], on: dt.date) -> str:
    """The generated ``catalog/freshness.md``: counts by month, then every due fact, oldest first."""
    due = sorted((f for f in facts if is_due(f, on)), key=lambda f: (f.checked or "", f.where, f.label))
    by_month: dict[str, int] = {}
    for f in facts:
        by_month[f.checked or "none"] = by_month.get(f.checked or "none", 0) + 1
    prices = [f for f in facts if f.kind == "price"]
    secondary = [f for f in facts if f.reported_by]
    lines = [
        "# Freshness of facts\n",
        "Every fact on this site carries the month it was last checked against its sources "
        "(`checked: YYYY-MM` in the catalog's YAML or in a concept page's front matter) and the URLs it was "
        f"checked against. A fact is **due for re-checking** after {STALE_MONTHS} months; a price after "
        f"{PRICE_STALE_MONTHS} months, and a due price is also marked on the page that states it. This page is "
        f"generated at build time (as of **{on.isoformat()}**); how to re-check a fact is in "
        "[Contributing](../contributing.md#dates-and-sources).\n",
        f"*{len(facts)} dated facts* ({sum(1 for f in facts if f.where.startswith('catalog/'))} in the catalog, "
        f"{sum(1 for f in facts if f.where.startswith('docs/'))} on concept pages), {len(prices)} of them prices; "
        f"**{len(due)} due**.\n",
        "| Last checked | Facts |", "|---|--:|",
    ]
    lines += [f"| {m} | {n} |" for m, n in sorted(by_month.items(), reverse=True)]
    lines.append("")
    lines.append("## Due for re-checking\n")
    if due:
        lines += ["| Fact | Kind | Last checked | Age (months) | Sources |", "|---|---|---|--:|---|"]
        for f in due:
            age = months_old(f.checked, on) if f.checked else "—"
            lines.append(f"| {_link(f)} | {f.kind} | {f.checked or 'never'} | {age} | {_sources_md(f.sources)} |")
    else:
        lines.append(f"Nothing: every fact was checked within the last {STALE_MONTHS} months "
                     f"({PRICE_STALE_MONTHS} for prices).")
    lines.append("")
    lines.append("## Claims confirmed only by secondary sources\n")
    if secondary:
        lines.append("The page says *reported by …* next to each of these; a primary source would replace it.\n")
        lines += ["| Fact | Reported by | Last checked |", "|---|---|---|"]
        lines += [f"| {_link(f)} | {f.reported_by} | {f.checked} |" for f in secondary]
    else:
        lines.append("None.")
    lines.append("")
    lines.append("## Prices\n")
    lines += ["| Price | Last checked | Status |", "|---|---|---|"]
    lines += [f"| {_link(f)} | {f.checked} | {'due' if is_due(f, on) else 'current'} |" for f in prices]
    return "\n".join(lines) + "\n"
