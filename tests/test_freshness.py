"""Every fact on the site has a month and a source; stale ones are listed and marked.

The policy (issue 15): a fact is due for re-checking after 6 months, a price after 3. Catalog facts
live in ``catalog/*.yaml`` (``checked``/``sources`` on each entry, its correction and its ``facts``);
concept-page facts in each page's ``facts:`` front matter, referenced by ``<!-- fact:<id> -->``.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from cookbook import freshness
from cookbook.catalog import CATALOG_DIR, MONTH, load_catalog
from cookbook.freshness import DatedFact

TODAY = dt.date(2026, 12, 1)


# --- the data: every fact dated and sourced ----------------------------------------------------------

def test_every_raw_catalog_entry_correction_and_fact_has_a_month_and_a_source():
    """Checked on the raw YAML, independently of the schema, so loosening the schema cannot hide a gap."""
    missing = []
    for path in sorted(CATALOG_DIR.glob("*.yaml")):
        for e in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]:
            items = [("entry", e)] + ([("correction", e["correction"])] if e.get("correction") else [])
            items += [(f"fact {f.get('text', '')[:40]!r}", f) for f in e.get("facts") or []]
            for what, item in items:
                if not isinstance(item, dict) or not re.match(MONTH, str(item.get("checked", ""))):
                    missing.append(f"{path.name}: {e.get('id')}: {what}: no checked month")
                if not isinstance(item, dict) or not item.get("sources"):
                    missing.append(f"{path.name}: {e.get('id')}: {what}: no sources")
    assert not missing, "\n".join(missing)


def test_every_fact_on_the_site_is_dated_sourced_and_not_in_the_future():
    facts = freshness.all_facts(load_catalog())
    assert len(facts) >= 80 + 4, "every catalog entry plus the concept pages' facts"
    assert not freshness.problems(facts, freshness.today())


def test_concept_page_facts_are_well_formed_and_each_is_marked_in_the_text():
    problems = [m for p in freshness.concept_pages() for m in p.problems]
    assert not problems, "\n".join(problems)


# numbers a reader would want dated: prices, memory bandwidths, interruption-notice periods
_PRICE = re.compile(r"(?<![≈=] )(?<![≈=] \*\*)\$\d[\d,.]*")  # "$1.006/h"; a derived "≈ $0.56" is exempt
_BANDWIDTH = re.compile(r"\d[\d,.]* ?[TG]B/s")
_NOTICE = re.compile(r"(?i)\b\d+[ -](?:second|minute)s?(?:'s|')?(?: [a-z]+)? (?:notice|ahead)\b"
                     r"|notice of about \d+|minimum of \d+ (?:second|minute)s")


def _blocks(body: str):
    """Paragraphs, list items and tables outside fenced code, with their first line number."""
    block, start, fenced = [], 0, False
    for n, line in enumerate(body.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if not line.strip():
            if block:
                yield start, "\n".join(block)
            block = []
            continue
        if not block:
            start = n
        block.append(line)
    if block:
        yield start, "\n".join(block)


def test_prices_bandwidths_and_notice_periods_on_concept_pages_carry_a_fact_marker():
    unmarked = []
    for path in sorted(freshness.CONCEPTS_DIR.glob("*.md")):
        _, body = freshness.front_matter(path.read_text(encoding="utf-8"))
        for n, block in _blocks(body):
            if block.lstrip().startswith(("[^", "- ")) and "<https://" in block:  # source lists, footnotes
                continue
            if (_PRICE.search(block) or _BANDWIDTH.search(block) or _NOTICE.search(block)) \
                    and not freshness.MARKER.search(block):
                unmarked.append(f"{path.name} (block at body line {n}): {block.strip()[:100]}")
    assert not unmarked, "claims without <!-- fact:<id> --> marker:\n" + "\n".join(unmarked)


def test_the_four_outdated_claims_of_issue_15_are_fixed():
    by_id = {e.id: e for s in load_catalog() for e in s.entries}
    replicate = by_id["replicate"]
    assert "announced it was acquiring" not in replicate.body and "part of Cloudflare" in replicate.body
    groq = by_id["groq"]
    assert "Simon Edwards" not in groq.body and groq.checked == "2026-12"
    lamini = by_id["lamini"]
    assert "status-unknown" in {t.value for t in lamini.tags} and "AMD" in lamini.body
    compute = (freshness.CONCEPTS_DIR / "compute.md").read_text(encoding="utf-8")
    assert "Trn3" in compute and "Trn1/Trn2)" not in compute
    assert "Google Cloud only" not in compute


def test_secondary_only_claims_say_who_reported_them_on_the_page():
    facts = freshness.all_facts(load_catalog())
    secondary = [f for f in facts if f.reported_by]
    assert secondary and all(f.reported_by.strip() for f in secondary)
    page = freshness.read_concept_page(freshness.CONCEPTS_DIR / "compute.md")
    text = freshness.render_markers((freshness.CONCEPTS_DIR / "compute.md").read_text(encoding="utf-8"),
                                    page.facts, TODAY)
    assert "reported by glennklockwood.com" in text


# --- the policy: ages, due facts, the generated page ----------------------------------------------

def _fact(checked, kind="fact", sources=("https://example.org/",), label="a claim"):
    return DatedFact("docs/concepts/x.md", "concepts/x.md", label, kind, checked, tuple(sources))


@pytest.mark.parametrize("checked, kind, due", [
    ("2026-12", "fact", False),
    ("2026-06", "fact", False),      # 6 months: still current
    ("2026-05", "fact", True),       # 7 months
    ("2026-09", "price", False),     # 3 months
    ("2026-08", "price", True),      # 4 months: prices go stale faster
    (None, "fact", True),            # undated is always due
])
def test_due_after_six_months_or_three_for_prices(checked, kind, due):
    assert freshness.is_due(_fact(checked, kind), TODAY) is due


def test_months_old_counts_calendar_months_and_rejects_bad_dates():
    assert freshness.months_old("2025-12", TODAY) == 12
    assert freshness.months_old("2026-12", TODAY) == 0
    with pytest.raises(ValueError):
        freshness.months_old("2026-13", TODAY)


def test_problems_name_undated_unsourced_and_future_facts():
    msgs = freshness.problems([_fact(None), _fact("2026-11", sources=()), _fact("2027-02")], TODAY)
    assert any("no valid 'checked' month" in m for m in msgs)
    assert any("no source URL" in m for m in msgs)
    assert any("in the future" in m for m in msgs)


def test_freshness_page_lists_due_facts_and_not_current_ones():
    old = _fact("2026-03", label="an old claim")
    old_price = _fact("2026-08", "price", label="an old price")
    new = _fact("2026-12", label="a fresh claim")
    page = freshness.freshness_page([old, old_price, new], TODAY)
    due = page.split("## Due for re-checking")[1].split("##")[0]
    assert "an old claim" in due and "an old price" in due and "a fresh claim" not in due
    assert "**2 due**" in page


def test_catalog_as_of_mid_2027_shows_due_facts_and_marks_old_prices_on_the_entry_page():
    sections = load_catalog()
    later = dt.date(2027, 7, 1)
    facts = freshness.catalog_facts(sections)
    assert any(freshness.is_due(f, later) for f in facts)
    spot = next(e for s in sections for e in s.entries if e.id == "aws-spot-instances")
    section = next(s for s in sections if any(e.id == "aws-spot-instances" for e in s.entries))
    from cookbook.render import entry_markdown
    md = entry_markdown(spot, section, {}, on=later)
    assert "price checked 2026-11, older than 3 months" in md
    assert "price checked" not in entry_markdown(spot, section, {}, on=TODAY)


def test_badge_for_a_stale_price_warns_and_a_current_fact_shows_its_month_and_source():
    assert "older than 3 months" in freshness.badge(_fact("2026-08", "price"), TODAY)
    b = freshness.badge(_fact("2026-12"), TODAY)
    assert "checked 2026-12" in b and "(https://example.org/)" in b


# --- concept-page markers ------------------------------------------------------------------------

PAGE = textwrap.dedent("""\
    ---
    facts:
      - id: price-a
        text: "A costs $1/h"
        kind: price
        checked: 2026-11
        sources: [https://example.org/a]
    ---
    # Page

    A costs $1/h <!-- fact:price-a -->.
    """)


def test_markers_become_badges_and_unknown_or_unused_ids_are_reported(tmp_path):
    good = tmp_path / "good.md"
    good.write_text(PAGE)
    page = freshness.read_concept_page(good)
    assert not page.problems
    out = freshness.render_markers(good.read_text(), page.facts, TODAY)
    assert "<!-- fact:" not in out and "checked 2026-11" in out
    bad = tmp_path / "bad.md"
    bad.write_text(PAGE.replace("<!-- fact:price-a -->", "<!-- fact:price-b -->").replace("checked: 2026-11",
                                                                                         "checked: Nov"))
    problems = freshness.read_concept_page(bad).problems
    assert any("price-b" in p and "no entry" in p for p in problems)
    assert any("'price-a' is declared but never marked" in p for p in problems)
    assert any("'checked': 'Nov' is not a month" in p for p in problems)
    with pytest.raises(KeyError):
        freshness.render_markers("x <!-- fact:nope -->", {}, TODAY)


def test_a_fact_without_a_source_fails(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(PAGE.replace("    sources: [https://example.org/a]\n", ""))
    assert any("field 'sources'" in p for p in freshness.read_concept_page(page).problems)


# --- the built site ------------------------------------------------------------------------------

def test_site_shows_checked_months_and_the_freshness_page(built_site):
    site, _ = built_site
    fresh = (site / "catalog" / "freshness" / "index.html").read_text(encoding="utf-8")
    assert "Due for re-checking" in fresh and "dated facts" in fresh
    compute = (site / "concepts" / "compute" / "index.html").read_text(encoding="utf-8")
    assert "checked 2026-12" in compute and "fact:" not in compute
    platforms = (site / "catalog" / "platforms" / "index.html").read_text(encoding="utf-8")
    assert "checked 2026-12" in platforms and "Updated from the seed (004) · checked 2026-11" in platforms
