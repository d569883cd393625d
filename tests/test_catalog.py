"""The catalog: valid, schema published, seed-complete, and errors a contributor can act on."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from cookbook.catalog import CATALOG_DIR, ROOT, SCHEMA_PATH, CatalogError, json_schema, load_catalog

SEEDS = ROOT.parent / "shared" / "seeds"
MENTIONS = yaml.safe_load((ROOT / "tests" / "data" / "seed_mentions.yaml").read_text(encoding="utf-8"))


def test_catalog_is_valid():
    sections = load_catalog()  # raises CatalogError listing every problem
    assert {s.section for s in sections} == {"backends", "platforms", "tutorials"}


def test_published_json_schema_is_current_and_validates_every_file():
    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == json_schema(), "catalog/schema.json is stale: run `make check-catalog`"
    for path in sorted(CATALOG_DIR.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), published)


def test_each_file_points_editors_at_the_schema():
    for path in sorted(CATALOG_DIR.glob("*.yaml")):
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=schema.json"), path


def test_seed_mentions_map_to_entries():
    ids = {e.id for s in load_catalog() for e in s.entries}
    missing = [m for m in MENTIONS if m["entry"] not in ids]
    assert not missing, f"seed mentions without a catalog entry: {missing}"


def test_every_seed_link_is_covered():
    if not SEEDS.is_dir():
        pytest.skip(f"seed pages not present at {SEEDS} (they live in the project's shared/ folder)")
    covered = {m["url"] for m in MENTIONS if m.get("url")}
    links = set()
    for seed in sorted(SEEDS.glob("*.txt")):
        for m in re.finditer(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)", seed.read_text(encoding="utf-8")):
            url = m.group(1)
            if url.startswith("http") and "/assets/" not in url and "user-attachments" not in url:
                links.add(url)
    assert not links - covered, f"seed links with no catalog mapping: {sorted(links - covered)}"


def test_beyond_the_seeds():
    entries = [e for s in load_catalog() for e in s.entries]
    assert sum(1 for e in entries if not e.seeds) >= 20, "at least 20 entries beyond the seed pages"


def test_corrections_are_present_where_seeds_were_wrong():
    by_id = {e.id: e for s in load_catalog() for e in s.entries}
    for entry_id in ("text-generation-inference", "litgpt", "vertex-ai", "vllm", "aws-spot-instances"):
        assert by_id[entry_id].correction, f"{entry_id} needs an 'Updated from the seed' correction"
    assert "huggingface/text-generation-inference" in str(by_id["text-generation-inference"].url)


# --- what a contributor sees ---------------------------------------------------------------------

BASE = textwrap.dedent("""\
    section: backends
    title: Backends
    intro: Test.
    default_admonition: code
    groups:
      - {id: serving, title: Serving}
    entries:
      - id: first
        name: First
        url: https://example.org/first
        checked: 2026-11
        sources: [https://example.org/first]
        group: serving
        summary: The first entry in this test file.
        tags: [serving]
        hosting: self-hosted
    """)


def _errors(tmp_path: Path, extra: str) -> list[str]:
    (tmp_path / "backends.yaml").write_text(BASE + textwrap.indent(textwrap.dedent(extra), "  "))
    with pytest.raises(CatalogError) as exc:
        load_catalog(tmp_path, recipes_dir=tmp_path)
    return exc.value.problems


@pytest.mark.parametrize("extra, expected", [
    ("""\
     - id: second
       name: Second
       checked: 2026-11
       sources: [https://example.org/second]
       group: serving
       summary: An entry without its link.
       tags: [serving]
       hosting: self-hosted
     """, "catalog/backends.yaml: entry #2 'Second': field 'url': missing (every entry needs a link)"),
    ("""\
     - id: second
       name: first
       url: https://example.org/second
       group: serving
       summary: A second entry with a taken name.
       checked: 2026-11
       sources: [https://example.org/second]
       tags: [serving]
       hosting: self-hosted
     """, "catalog/backends.yaml: entry #2 'first': field 'name': duplicate name 'first' (already used by "
          "catalog/backends.yaml: entry #1 'First')"),
    ("""\
     - id: second
       name: Second
       url: https://example.org/second
       group: serveing
       summary: An entry with a misspelt group.
       checked: 2026-11
       sources: [https://example.org/second]
       tags: [serving]
       hosting: self-hosted
     """, "catalog/backends.yaml: entry #2 'Second': field 'group': unknown category 'serveing'; expected one "
          "of: serving"),
    ("""\
     - id: second
       name: Second
       url: htps//example.org
       group: serving
       summary: An entry with a broken link.
       checked: 2026-11
       sources: [https://example.org/second]
       tags: [serving]
       hosting: self-hosted
     """, "catalog/backends.yaml: entry #2 'Second': field 'url': not a valid URL"),
    ("""\
     - id: second
       name: Second
       url: https://example.org/second
       group: serving
       summary: An entry nobody dated.
       sources: [https://example.org/second]
       tags: [serving]
       hosting: self-hosted
     """, "catalog/backends.yaml: entry #2 'Second': field 'checked': missing (the month you last verified this "
          "against its sources, e.g. checked: 2026-12)"),
    ("""\
     - id: second
       name: Second
       url: https://example.org/second
       checked: 2026-11
       group: serving
       summary: An entry with no sources.
       tags: [serving]
       hosting: self-hosted
     """, "catalog/backends.yaml: entry #2 'Second': field 'sources': missing (list the primary source URLs"),
    ("""\
     - id: second
       name: Second
       url: https://example.org/second
       checked: Dec 2026
       sources: [https://example.org/second]
       group: serving
       summary: An entry dated the wrong way.
       tags: [serving]
       hosting: self-hosted
     """, "catalog/backends.yaml: entry #2 'Second': field 'checked': 'Dec 2026' is not a month; write YYYY-MM"),
    ("""\
     - id: second
       name: Second
       url: https://example.org/second
       checked: 2026-11
       sources: [https://example.org/second]
       group: serving
       summary: An entry with an undated correction.
       tags: [serving]
       hosting: self-hosted
       correction: The seed said something else.
     """, "catalog/backends.yaml: entry #2 'Second': field 'correction': must be a mapping with 'text', 'checked' "
          "(YYYY-MM) and 'sources'"),
    ("""\
     - id: second
       name: Second
       url: https://example.org/second
       checked: 2026-11
       sources: [https://example.org/second]
       group: serving
       summary: An entry with a fact without a source.
       tags: [serving]
       hosting: self-hosted
       facts:
         - {text: Costs $1 per hour., kind: price, checked: 2026-11, sources: []}
     """, "catalog/backends.yaml: entry #2 'Second': field 'facts.0.sources': empty (give at least one source URL)"),
])
def test_error_messages_name_file_entry_and_field(tmp_path, extra, expected):
    problems = [p.replace(str(tmp_path) + "/", "catalog/") for p in _errors(tmp_path, extra)]
    assert any(p.startswith(expected) for p in problems), problems
