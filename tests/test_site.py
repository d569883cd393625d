"""The built site: strict build without warnings, every internal link resolves (notebooks included),
and the generated pages carry what the data says."""

from __future__ import annotations

import functools
import http.server
import re
import threading
import subprocess
import sys
from pathlib import Path

from cookbook.catalog import load_catalog
from cookbook.recipes import load_meta, recipe_dirs
from cookbook.render import CUSTOM_ADMONITIONS


def test_strict_build_has_no_warnings(built_site):
    _, log = built_site
    bad = [ln for ln in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", ln)]
    assert not bad, "\n".join(bad)


def test_internal_links_resolve_with_linkchecker(built_site):
    """LinkChecker crawls the built HTML over HTTP on 127.0.0.1 (it drops root privileges to `nobody`,
    who cannot read pytest's private temp dirs, so file:// URLs would fail for the wrong reason)."""
    site, _ = built_site
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exe = Path(sys.executable).with_name("linkchecker")
        proc = subprocess.run([str(exe), "--no-status", "--no-warnings", "--threads", "4", "-o", "text",
                               f"http://127.0.0.1:{server.server_port}/"], capture_output=True, text=True,
                              timeout=300)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # it really crawled: the summary counts the site's pages, notebook pages among them
    m = re.search(r"(\d+) links? in (\d+) URLs? checked", proc.stdout)
    assert m and int(m.group(2)) > 50, proc.stdout[-1000:]


def test_every_catalog_entry_renders_with_anchor_and_admonition(built_site):
    site, _ = built_site
    for s in load_catalog():
        html = (site / "catalog" / s.section / "index.html").read_text(encoding="utf-8")
        for e in s.entries:
            assert f'id="{e.id}"' in html, f"anchor #{e.id} missing on catalog/{s.section}"
            kind = (e.admonition or s.default_admonition).value
            assert re.search(rf'<details class="{kind}"[^>]*>\s*<summary><a href="{re.escape(str(e.url))}"',
                             html), f"{e.id}: not rendered as a collapsible {kind} admonition with its link"


def test_custom_admonition_types_are_styled(built_site):
    site, _ = built_site
    css = (site / "assets" / "stylesheets" / "admonitions.css").read_text(encoding="utf-8")
    used = {(e.admonition or s.default_admonition).value for s in load_catalog() for e in s.entries}
    builtin = {"abstract", "tip", "info", "example", "quote", "note", "warning"}
    for kind in used - builtin:
        assert kind in CUSTOM_ADMONITIONS, f"admonition type {kind!r} is used but has no style"
        assert f"--md-admonition-icon--{kind}: url(" in css and f"details.{kind}" in css


def test_comparison_tables_and_decision_guide_come_from_data(built_site):
    site, _ = built_site
    html = (site / "catalog" / "index.html").read_text(encoding="utf-8")
    assert 'id="decision-guide"' in html and 'id="comparison-tables"' in html
    for s in load_catalog():
        if s.section == "tutorials":
            continue
        for e in s.entries:
            assert f'href="{s.section}/#{e.id}"' in html, f"{e.id} missing from the comparison table"


def test_recipe_pages_show_results_and_last_verified(built_site):
    site, _ = built_site
    index = (site / "recipes" / "index.html").read_text(encoding="utf-8")
    for d in recipe_dirs():
        meta = load_meta(d)
        assert f'href="{meta.name}/"' in index
        page = (site / "recipes" / meta.name / "index.html").read_text(encoding="utf-8")
        assert "Last verified" in page and "admonition success" in page, f"{meta.name}: no last-verified line"
        assert "cookbook:results" not in page and "<table>" in page, f"{meta.name}: results not rendered"
        for png in (d / "results").glob("*.png"):
            assert (site / "recipes" / meta.name / png.name).is_file()


def test_notebooks_are_pages(built_site):
    site, _ = built_site
    for nb in Path("notebooks").glob("*.ipynb"):
        page = site / "notebooks" / nb.stem / "index.html"
        assert page.is_file(), f"{nb} not rendered"
        assert "jp-OutputArea" in page.read_text(encoding="utf-8"), f"{nb}: stored outputs not shown"


def test_generated_pages_edit_their_source(built_site):
    site, _ = built_site
    html = (site / "catalog" / "backends" / "index.html").read_text(encoding="utf-8")
    assert "edit/main/catalog/backends.yaml" in html


def test_llms_txt(built_site):
    site, _ = built_site
    text = (site / "llms.txt").read_text(encoding="utf-8")
    assert text.startswith("# AI Deployment Cookbook\n\n> ")
    assert "/catalog/backends/" in text and "/recipes/" in text and "/concepts/" in text


def test_theme_is_offline_and_has_the_features(built_site):
    site, _ = built_site
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in html, "font: false must avoid the Google Fonts request"
    for feature in ("navigation.tabs", "navigation.instant", "search.suggest", "search.highlight",
                    "content.code.copy", "content.tabs.link", "content.action.edit", "navigation.top"):
        assert feature in html, feature
    assert html.count('data-md-component="palette"') >= 1 and "Switch to dark mode" in html


def test_pages_show_last_updated_date(built_site):
    site, _ = built_site
    html = (site / "concepts" / "spot-instances" / "index.html").read_text(encoding="utf-8")
    assert "git-revision-date-localized-plugin-date" in html
