"""The README's "Measured results" prose is generated from the committed results (``make bench`` rewrites it),
so no number on the page is typed by hand."""

from __future__ import annotations

import json

from llamacpp_server.bench import prose_block, render_prose

from llamacpp_server.launcher import RECIPE


def test_readme_prose_is_rendered_from_the_committed_results():
    doc = json.loads((RECIPE / "results" / "bench.json").read_text())
    readme = (RECIPE / "README.md").read_text()
    block = prose_block(readme)
    assert block, "README has no bench-prose block"
    assert block.rstrip("\n") == render_prose(doc).rstrip("\n"), "re-run `make bench` (it rewrites the prose)"
