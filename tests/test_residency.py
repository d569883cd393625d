"""The data-residency table (issue 12, item 4): catalog fields, their validation, and the generated table.

Every catalog entry tagged ``api`` + ``managed`` (a managed model API) must carry ``data_controls``
(region pinning, zero retention, fine-tuning, pricing, checked, sources); ``cookbook.residency`` renders
one table row per such entry on ``docs/concepts/managed-apis.md`` in place of ``<!-- residency-table -->``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from cookbook import freshness, residency
from cookbook.catalog import CATALOG_DIR, ROOT, SCHEMA_PATH, CatalogError, load_catalog

TODAY = dt.date(2026, 12, 1)
PAGE = ROOT / "docs" / "concepts" / "managed-apis.md"

HEADER = textwrap.dedent("""\
    section: platforms
    title: Platforms
    intro: Test file.
    default_admonition: website
    groups:
      - {id: model-apis, title: Model APIs}
    entries:
    """)

API = textwrap.dedent("""\
    - id: some-api
      name: Some API
      url: https://example.org/api
      checked: 2026-12
      sources: [https://example.org/api]
      group: model-apis
      summary: A managed model API used by the tests.
      tags: [api, managed, llm]
      hosting: managed
    """)

CONTROLS = textwrap.indent(textwrap.dedent("""\
      data_controls:
        region_pinning: {status: some-offerings, how: "Regional deployments only."}
        jurisdictions: [EU, US]
        zero_retention: {status: unknown}
        fine_tuning: {status: "no", how: "The docs say fine-tuning is not offered."}
        pricing: [pay-per-token, reserved-throughput]
        checked: 2026-12
        sources: [https://example.org/api/data]
    """), "  ")


def _load(tmp_path: Path, entry: str) -> list[str]:
    """Validate one platforms.yaml holding ``entry``; return the problems ([] when it is valid)."""
    (tmp_path / "platforms.yaml").write_text(HEADER + textwrap.indent(entry, "  "))
    try:
        load_catalog(tmp_path, recipes_dir=tmp_path)
    except CatalogError as exc:
        return [p.replace(str(tmp_path) + "/", "catalog/") for p in exc.problems]
    return []


def _managed(sections):
    return [e for s in sections for e in s.entries if {"api", "managed"} <= {t.value for t in e.tags}]


# --- the schema ----------------------------------------------------------------------------------------

def test_a_managed_api_entry_with_the_block_is_valid(tmp_path):
    assert _load(tmp_path, API + CONTROLS) == []


def test_a_managed_api_entry_without_the_block_is_rejected_naming_the_entry_and_field(tmp_path):
    problems = _load(tmp_path, API)
    assert any(p.startswith("catalog/platforms.yaml: entry #1 'Some API': field 'data_controls': missing (an "
                            "entry tagged api + managed") for p in problems), problems


def test_the_block_is_not_required_without_both_tags(tmp_path):
    assert _load(tmp_path, API.replace("tags: [api, managed, llm]", "tags: [api, llm]")) == []
    assert _load(tmp_path, API.replace("tags: [api, managed, llm]", "tags: [managed, gpu]")) == []


@pytest.mark.parametrize("old, new, expected", [
    ("status: some-offerings", "status: maybe",
     "field 'data_controls.region_pinning.status': unknown value 'maybe'"),
    ("[pay-per-token, reserved-throughput]", "[pay-per-token, free]", "field 'data_controls.pricing.1': unknown "
                                                                       "value 'free'"),
    ("[pay-per-token, reserved-throughput]", "[pay-per-token, unknown]", "field 'data_controls.pricing': "
                                                                         "'unknown' cannot be combined"),
    ('status: "no"', "status: no", "field 'data_controls.fine_tuning.status': YAML read a bare no as false"),
    ('{status: some-offerings, how: "Regional deployments only."}', "{status: some-offerings}",
     "field 'data_controls.region_pinning': status 'some-offerings' needs 'how'"),
    ("checked: 2026-12\n    sources: [https://example.org/api/data]", "checked: 2026-12",
     "field 'data_controls.sources': missing"),
    ("jurisdictions: [EU, US]", "jurisdictions: [EU, EU]", "field 'data_controls.jurisdictions': "
                                                           "jurisdictions must not repeat"),
    ('{status: some-offerings, how: "Regional deployments only."}', "{status: unknown}",
     "field 'data_controls': jurisdictions listed although region_pinning is 'unknown'"),
    ("zero_retention: {status: unknown}", "zero_retention: {status: unknown}\n    retention: 30 days",
     "field 'data_controls.retention': unknown field"),
])
def test_bad_values_in_the_block_are_rejected_with_a_clear_message(tmp_path, old, new, expected):
    entry = API + CONTROLS
    assert old in entry
    problems = _load(tmp_path, entry.replace(old, new))
    assert any(f"entry #1 'Some API': {expected}" in p for p in problems), problems


def test_the_published_json_schema_requires_the_block_for_managed_apis_too():
    """Editors validate against catalog/schema.json, so the rule is in the schema, not only in Python."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    raw = yaml.safe_load((CATALOG_DIR / "platforms.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(raw, schema)
    broken = copy.deepcopy(raw)
    victim = next(e for e in broken["entries"] if "data_controls" in e)
    del victim["data_controls"]
    with pytest.raises(jsonschema.ValidationError, match="data_controls"):
        jsonschema.validate(broken, schema)
    bad_enum = copy.deepcopy(raw)
    next(e for e in bad_enum["entries"] if "data_controls" in e)["data_controls"]["pricing"] = ["free"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_enum, schema)


# --- the data --------------------------------------------------------------------------------------------

def test_every_managed_model_api_in_the_catalog_has_the_block():
    managed = _managed(load_catalog())
    ids = {e.id for e in managed}
    # the providers issue 12 and the gateway recipe name; the rule must not silently drop one of them
    assert {"openai-api", "azure-openai", "amazon-bedrock", "anthropic-api", "groq", "openrouter", "gemini-api",
            "mistral-api", "together-ai", "vertex-ai"} <= ids
    assert all(e.data_controls for e in managed)


def test_sources_are_https_and_unknowns_carry_no_invented_jurisdictions():
    for e in _managed(load_catalog()):
        dc = e.data_controls
        assert all(str(u).startswith("https://") for u in dc.sources), e.id
        if dc.region_pinning.status.value in ("unknown", "no"):
            assert dc.jurisdictions == [], f"{e.id}: jurisdictions listed although region pinning is " \
                                           f"{dc.region_pinning.status.value}"


# facts the gateway recipe's README states (read 2026-12-01) that the catalog must state as well
AGREES = {
    "openai-api": ["eu.api.openai.com", "30 days", "Zero Data Retention", "Modified Abuse Monitoring"],
    "azure-openai": ["Data Zone", "Global", "Provisioned", "geography"],
    "amazon-bedrock": ["inference profile", "Provisioned Throughput", "hourly", "not usable with inference "
                                                                                "profiles"],
    "anthropic-api": ["zero-data-retention", "2 years"],
    "groq": ["not retained by default", "30 days", "Data Controls"],
    "openrouter": ["ZDR only", "per request or per account", "upstream"],
}


def test_the_catalog_agrees_with_the_gateway_recipe_on_the_six_providers_it_configures():
    readme = (ROOT / "recipes" / "litellm-gateway" / "README.md").read_text(encoding="utf-8")
    by_id = {e.id: e for e in _managed(load_catalog())}
    problems = []
    for eid, phrases in AGREES.items():
        dc = by_id[eid].data_controls
        text = " ".join([dc.region_pinning.how or "", dc.zero_retention.how or "", dc.fine_tuning.how or "",
                         dc.pricing_how or "", " ".join(p.value for p in dc.pricing)])
        for phrase in phrases:
            if phrase.casefold() not in text.casefold():
                problems.append(f"{eid}: catalog data_controls do not say {phrase!r}")
    # both tables price these six per token; the README says so for each row
    for name in ("OpenAI", "Azure OpenAI", "Amazon Bedrock", "Anthropic", "Groq", "OpenRouter"):
        row = next((line for line in readme.splitlines() if line.startswith(f"| {name} |")), None)
        if row is None:
            problems.append(f"README has no row for {name}")
        elif "per token" not in row:
            problems.append(f"README row for {name} no longer says 'per token'")
    for eid in AGREES:
        if "pay-per-token" not in {p.value for p in by_id[eid].data_controls.pricing}:
            problems.append(f"{eid}: catalog pricing lacks pay-per-token")
    assert not problems, "\n".join(problems)


def test_each_data_controls_block_is_a_dated_fact_on_the_freshness_page():
    sections = load_catalog()
    facts = {f.id: f for f in freshness.catalog_facts(sections)}
    for e in _managed(sections):
        f = facts[f"{e.id}/data-controls"]
        assert f.checked == e.data_controls.checked and f.sources
        assert f.page == freshness.RESIDENCY_PAGE
    later = dt.date(2027, 7, 1)
    assert any(freshness.is_due(facts[f"{e.id}/data-controls"], later) for e in _managed(sections))


# --- the table -------------------------------------------------------------------------------------------

def _rows(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("| [")]


def test_the_table_has_one_row_per_managed_provider_linked_to_its_entry():
    sections = load_catalog()
    table = residency.residency_table(sections, TODAY)
    assert table.splitlines()[0] == ("| Provider | Pin region / jurisdiction | Zero retention | Fine-tuning | "
                                     "Pricing | Checked |")
    rows = _rows(table)
    managed = _managed(sections)
    assert len(rows) == len(managed)
    for e in managed:
        mine = [r for r in rows if r.startswith(f"| [{e.name}](../catalog/platforms.md#{e.id}) |")]
        assert len(mine) == 1, e.id
        assert len(re.findall(r"(?<!\\)\|", mine[0])) == 7, f"{e.id}: a cell leaks a pipe or a newline"


def test_values_from_the_data_appear_in_their_provider_row():
    sections = load_catalog()
    rows = {r.split("](")[0][3:]: r for r in _rows(residency.residency_table(sections, TODAY))}
    for e in _managed(sections):
        dc, row = e.data_controls, rows[e.name]
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert cells[1].startswith(f"**{residency.STATUS_LABEL[dc.region_pinning.status]}**")
        for j in dc.jurisdictions:
            assert j in cells[1]
        for cell, control in ((cells[1], dc.region_pinning), (cells[2], dc.zero_retention),
                              (cells[3], dc.fine_tuning)):
            assert f"**{residency.STATUS_LABEL[control.status]}**" in cell
            if control.how:
                assert " ".join(control.how.split()) in cell
        for p in dc.pricing:
            assert residency.PRICING_LABEL[p] in cells[4]
        assert f"checked {dc.checked}" in cells[5]
        assert all(f"({u})" in cells[5] for u in dc.sources)
    bedrock = rows["Amazon Bedrock"]
    assert "reserved throughput" in bedrock and "cross-Region inference profile" in bedrock


def test_a_row_older_than_six_months_is_flagged_in_the_table():
    table = residency.residency_table(load_catalog(), dt.date(2027, 7, 1))
    assert "older than 6 months: verify before relying on it" in table
    assert "older than" not in residency.residency_table(load_catalog(), TODAY)


def test_the_managed_apis_page_carries_the_marker_and_the_marker_becomes_the_table():
    text = PAGE.read_text(encoding="utf-8")
    assert text.count(residency.MARKER) == 1
    out = residency.render_marker(text, load_catalog(), TODAY)
    assert residency.MARKER not in out
    assert "| [OpenAI API](../catalog/platforms.md#openai-api) |" in out
    assert out.index("## Data residency by provider") < out.index("| Provider | Pin region")
    assert residency.render_marker("no marker here", load_catalog(), TODAY) == "no marker here"
