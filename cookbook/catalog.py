"""The catalog: schema, loading and validation of ``catalog/*.yaml``.

One YAML file per catalog section (backends, platforms, tutorials). Each file declares its
groups (the seed pages' headings, e.g. "High-performance serving") and a list of entries.
Validation errors name the file, the entry and the field, e.g.::

    catalog/backends.yaml: entry #3 'vLLM': field 'url': missing (every entry needs a link)

``python -m cookbook.catalog`` validates the catalog (exit 1 with messages) and
``python -m cookbook.catalog --schema`` prints the JSON Schema published as
``catalog/schema.json`` (editors such as VS Code validate while typing through the
``# yaml-language-server: $schema=schema.json`` line at the top of each file).
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

ROOT = Path(__file__).resolve().parent.parent
CATALOG_DIR = ROOT / "catalog"
SCHEMA_PATH = CATALOG_DIR / "schema.json"

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: A calendar month, ``YYYY-MM``: when a fact was last verified against its sources.
MONTH = r"^20[0-9]{2}-(?:0[1-9]|1[0-2])$"


class Tag(str, Enum):
    """Controlled vocabulary for entry tags (add a value here to allow a new tag)."""

    cpu = "cpu"
    gpu = "gpu"
    tpu = "tpu"
    lpu = "lpu"
    apple_silicon = "apple-silicon"
    api = "api"
    self_hosted = "self-hosted"
    managed = "managed"
    openai_compatible = "openai-compatible"
    open_source = "open-source"
    llm = "llm"
    embeddings = "embeddings"
    vision = "vision"
    multimodal = "multimodal"
    serving = "serving"
    batching = "batching"
    quantization = "quantization"
    optimization = "optimization"
    orchestration = "orchestration"
    autoscaling = "autoscaling"
    spot = "spot"
    kubernetes = "kubernetes"
    containers = "containers"
    serverless = "serverless"
    gateway = "gateway"
    local = "local"
    cli = "cli"
    library = "library"
    fine_tuning = "fine-tuning"
    data_residency = "data-residency"
    enterprise = "enterprise"
    monitoring = "monitoring"
    security = "security"
    tutorial = "tutorial"
    reference = "reference"
    paper = "paper"
    guide = "guide"
    benchmark = "benchmark"
    edge = "edge"
    distributed = "distributed"
    ui = "ui"
    archived = "archived"
    maintenance_mode = "maintenance-mode"
    status_unknown = "status-unknown"


class Hardware(str, Enum):
    """Where the thing runs inference (for the CPU/GPU table)."""

    cpu = "cpu"
    gpu = "gpu"
    tpu = "tpu"
    lpu = "lpu"
    npu = "npu"
    apple_silicon = "apple-silicon"
    asic = "asic"


class Admonition(str, Enum):
    """Admonition types an entry may render as. ``code``, ``website``, ``tutorial``, ``paper``,
    ``platform`` and ``api`` are custom types styled in ``docs/assets/stylesheets/admonitions.css``;
    the rest are Material built-ins."""

    code = "code"
    website = "website"
    tutorial = "tutorial"
    paper = "paper"
    platform = "platform"
    api = "api"
    abstract = "abstract"
    tip = "tip"
    info = "info"
    example = "example"
    quote = "quote"
    note = "note"
    warning = "warning"


class Group(BaseModel):
    """A group of entries within a section (rendered as an H2)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=SLUG, description="Stable slug, used as the page anchor.")
    title: str = Field(min_length=2, description="Heading shown on the page.")
    intro: Optional[str] = Field(None, description="Markdown shown under the heading.")


def _no_plain_string(v, what: str):
    if isinstance(v, str):
        raise ValueError(f"must be a mapping with 'text', 'checked' (YYYY-MM) and 'sources', not plain text; "
                         f"write {what}: {{text: ..., checked: 2026-12, sources: [https://...]}}")
    return v


class Correction(BaseModel):
    """What a seed page got wrong, or what changed since: rendered as an *Updated from the seed* box.

    ``checked`` is the month someone last verified ``text`` against ``sources`` (primary sources:
    the project's own docs, repository, release notes or announcement)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=10, description="Markdown: the seed's claim and what is true instead.")
    checked: str = Field(pattern=MONTH, description="Month the text was last verified, YYYY-MM (e.g. 2026-12).")
    sources: list[HttpUrl] = Field(min_length=1, description="Primary source URLs the text was checked against.")


class Fact(BaseModel):
    """One time-sensitive claim of an entry (a price, a number, a status, leadership, a deal).

    Prices are due for re-checking after 3 months, everything else after 6 (``cookbook.freshness``)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=5, description="The claim, as the page states it.")
    kind: Literal["fact", "price", "number", "notice", "status"] = Field(
        "fact", description="price (re-check every 3 months), number, notice (a notice period), status, fact.")
    checked: str = Field(pattern=MONTH, description="Month the claim was last verified, YYYY-MM.")
    sources: list[HttpUrl] = Field(min_length=1, description="Source URLs; primary where one exists.")
    reported_by: Optional[str] = Field(
        None, description="Set when only secondary sources confirm the claim: who reported it (shown on the page).")


class Availability(str, Enum):
    """Whether a provider offers a data control (region pinning, zero retention, fine-tuning).

    ``yes``: documented as a feature of the service (``how`` says which models or deployment types);
    ``some-offerings``: only in some of its products, deployment types, plans or contracts (``how`` says
    which); ``no``: the provider's docs say it is not offered; ``unknown``: not established from the
    sources read (the table says so; do not guess)."""

    yes = "yes"
    some_offerings = "some-offerings"
    no = "no"
    unknown = "unknown"


class PricingModel(str, Enum):
    """How a managed model API bills: ``pay-per-token`` (on-demand, per input/output token),
    ``reserved-throughput`` (capacity bought per hour or term: Bedrock Provisioned Throughput, Azure
    provisioned deployments), ``per-hour-instance`` (a dedicated endpoint or machine billed while it runs),
    ``batch-discount`` (an asynchronous batch API at a documented lower price), ``unknown``."""

    pay_per_token = "pay-per-token"
    reserved_throughput = "reserved-throughput"
    per_hour_instance = "per-hour-instance"
    batch_discount = "batch-discount"
    unknown = "unknown"


class Control(BaseModel):
    """One data control of a provider: the answer and, unless it is ``unknown``, how it works."""

    model_config = ConfigDict(extra="forbid")
    status: Availability = Field(description="yes | some-offerings | no | unknown (see Availability).")
    how: Optional[str] = Field(None, min_length=5, max_length=400, description=(
        "One or two sentences: which offerings, how to turn it on, its limits (required unless status is "
        "unknown; for unknown, say what the sources did not cover)."))

    @field_validator("status", mode="before")
    @classmethod
    def _quoted_yes_no(cls, v):
        if isinstance(v, bool):
            raise ValueError(f"YAML read a bare {'yes' if v else 'no'} as {str(v).lower()}; write status: "
                             f"\"{'yes' if v else 'no'}\" (in quotes)")
        return v

    @model_validator(mode="after")
    def _how_needed(self):
        if self.status in (Availability.yes, Availability.some_offerings) and not self.how:
            raise ValueError(f"status {self.status.value!r} needs 'how': which offerings, models or settings")
        if self.how and "\n" in self.how.strip():
            raise ValueError("'how' must be one line (it is shown in a table cell)")
        return self


class DataControls(BaseModel):
    """Data residency, retention, fine-tuning and pricing of a managed model API (issue 12).

    Required on every entry tagged both ``api`` and ``managed``; rendered as the table on
    ``concepts/managed-apis.md`` by ``cookbook.residency``. Dated and sourced like a ``Fact``
    (``cookbook.freshness`` lists it when it is older than 6 months)."""

    model_config = ConfigDict(extra="forbid")
    region_pinning: Control = Field(description=(
        "Can you pin where prompts are processed (a region, data zone or jurisdiction)?"))
    jurisdictions: list[str] = Field(default_factory=list, description=(
        "Regions or jurisdictions processing can be pinned to, as the provider names them "
        "(e.g. 'one Azure region', 'EU', 'US'); empty when none or unknown."))
    zero_retention: Control = Field(description=(
        "Can prompts and outputs be kept from being stored (zero data retention)?"))
    fine_tuning: Control = Field(description="Does the provider fine-tune models on your data for you?")
    pricing: list[PricingModel] = Field(min_length=1, description=(
        "Billing models offered: pay-per-token, reserved-throughput, per-hour-instance, batch-discount, "
        "or [unknown]."))
    pricing_how: Optional[str] = Field(None, min_length=5, max_length=400, description=(
        "Optional one line on the billing models (units, terms, limits)."))
    checked: str = Field(pattern=MONTH, description="Month these facts were last verified, YYYY-MM.")
    sources: list[HttpUrl] = Field(min_length=1, description="The provider's own docs the facts were checked against.")

    @field_validator("jurisdictions")
    @classmethod
    def _short_names(cls, v: list[str]) -> list[str]:
        for j in v:
            if not 2 <= len(j.strip()) <= 24:
                raise ValueError(f"{j!r}: a jurisdiction is a short name (2-24 characters), e.g. EU, US")
        if len(set(v)) != len(v):
            raise ValueError("jurisdictions must not repeat")
        return [j.strip() for j in v]

    @field_validator("pricing")
    @classmethod
    def _pricing(cls, v: list[PricingModel]) -> list[PricingModel]:
        if len(set(v)) != len(v):
            raise ValueError("pricing models must not repeat")
        if PricingModel.unknown in v and len(v) > 1:
            raise ValueError("'unknown' cannot be combined with known pricing models")
        return v

    @model_validator(mode="after")
    def _no_places_without_pinning(self):
        if self.jurisdictions and self.region_pinning.status in (Availability.no, Availability.unknown):
            raise ValueError(f"jurisdictions listed although region_pinning is {self.region_pinning.status.value!r}; "
                             "leave jurisdictions empty or set the status")
        return self


def needs_data_controls(tags) -> bool:
    """True for a managed model API provider: an entry tagged both ``api`` and ``managed``."""
    values = {getattr(t, "value", t) for t in tags or []}
    return {"api", "managed"} <= values


class Entry(BaseModel):
    """One catalog entry: a backend, library, platform, API provider, tutorial or reference.

    Every entry carries ``checked`` (YYYY-MM, when its summary and body were last verified) and
    ``sources`` (the URLs they were verified against); so do its ``correction`` and each of its
    ``facts``. ``cookbook.freshness`` lists the ones not re-checked within 6 months (3 for prices).
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        # the same rule as _data_controls_required, for editors validating against catalog/schema.json
        "if": {"required": ["tags"], "properties": {"tags": {"allOf": [
            {"contains": {"const": "api"}}, {"contains": {"const": "managed"}}]}}},
        "then": {"required": ["data_controls"]},
    })
    id: str = Field(pattern=SLUG, description="Unique slug across the whole catalog; the anchor on its page.")
    name: str = Field(min_length=1, description="Display name, as the project spells it today.")
    url: HttpUrl = Field(description="Canonical https link (project home, docs or repository).")
    checked: str = Field(pattern=MONTH, description=(
        "Month the summary and body were last verified against 'sources', YYYY-MM (e.g. 2026-12)."))
    sources: list[HttpUrl] = Field(min_length=1, description=(
        "Primary source URLs the summary and body were verified against (often just the entry's url)."))
    group: str = Field(description="The id of one of this file's groups (the entry's category).")
    admonition: Optional[Admonition] = Field(None, description="Admonition type; defaults to the section's.")
    summary: str = Field(min_length=10, max_length=240, description="One line, shown in the admonition title.")
    body: Optional[str] = Field(None, description="Markdown shown when the admonition is expanded.")
    tags: list[Tag] = Field(min_length=1, description="From the controlled vocabulary (see Tag).")
    license: Optional[str] = Field(None, description="SPDX id, 'proprietary', or 'various'; null if unknown.")
    hosting: Literal["self-hosted", "managed", "both", "n/a"] = Field(
        description="self-hosted (you run it), managed (someone's API/platform), both, or n/a (docs).")
    hardware: list[Hardware] = Field(default_factory=list, description="Inference hardware supported.")
    openai_compatible: Optional[bool] = Field(None, description="Serves/accepts the OpenAI API; null if n/a.")
    recipes: list[str] = Field(default_factory=list, description="Recipe folders under recipes/ that use it.")
    seeds: list[str] = Field(default_factory=list, description="Seed pages (e.g. '001') that name it.")
    correction: Optional[Correction] = Field(
        None, description="What the seed page got wrong or what has changed since; rendered on the page.")
    facts: list[Fact] = Field(default_factory=list, description=(
        "Time-sensitive claims with their own date and sources (prices, leadership, deals, status)."))
    data_controls: Optional[DataControls] = Field(None, validate_default=True, description=(
        "Managed model APIs (tags api + managed: required): region pinning, zero retention, fine-tuning, "
        "pricing; rendered as the data-residency table on concepts/managed-apis.md."))

    @field_validator("data_controls")
    @classmethod
    def _data_controls_required(cls, v, info):
        if v is None and needs_data_controls(info.data.get("tags")):
            raise ValueError("missing (an entry tagged api + managed is a managed model API: add data_controls "
                             "with region_pinning, zero_retention, fine_tuning (each {status: yes | "
                             "some-offerings | no | unknown, how: ...}), pricing, checked and sources)")
        return v

    @field_validator("correction", mode="before")
    @classmethod
    def _correction_mapping(cls, v):
        return _no_plain_string(v, "correction")

    @field_validator("summary")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v.strip():
            raise ValueError("must be one line (put longer text in 'body')")
        return v.strip()

    @field_validator("url")
    @classmethod
    def _https(cls, v: HttpUrl) -> HttpUrl:
        if v.scheme != "https":
            raise ValueError(f"must use https, got {v.scheme}://")
        return v

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, v: list[Tag]) -> list[Tag]:
        if len(set(v)) != len(v):
            raise ValueError("tags must not repeat")
        return v


class Section(BaseModel):
    """One catalog file: a page of the site's catalog."""

    model_config = ConfigDict(extra="forbid")
    section: str = Field(pattern=SLUG, description="Equals the file name without .yaml; the page's URL slug.")
    title: str
    intro: str = Field(description="Markdown shown at the top of the page.")
    default_admonition: Admonition
    groups: list[Group] = Field(min_length=1)
    entries: list[Entry] = Field(min_length=1)


class CatalogError(Exception):
    """Raised by :func:`load_catalog` with every problem found, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_FRIENDLY = {
    "missing": "missing",
    "too_short": "too short",
    "url_parsing": "not a valid URL",
    "url_scheme": "not a valid http(s) URL",
    "string_pattern_mismatch": "must be a lowercase slug like 'text-generation-inference'",
    "enum": "unknown value",
    "extra_forbidden": "unknown field (typo?)",
    "literal_error": "unknown value",
}


def _describe(err: dict, raw: dict, path: Path) -> str:
    loc = list(err["loc"])
    where = f"{_rel(path)}"
    if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
        idx = loc[1]
        entries = raw.get("entries") or []
        name = entries[idx].get("name") if idx < len(entries) and isinstance(entries[idx], dict) else None
        where += f": entry #{idx + 1}" + (f" {name!r}" if name else "")
        loc = loc[2:]
    field = ".".join(str(x) for x in loc) or "(entry)"
    msg = err["msg"]
    kind = err["type"]
    if kind in _FRIENDLY:
        msg = _FRIENDLY[kind] + ("" if kind == "missing" else f" ({err['msg']})")
        if kind == "enum" or kind == "literal_error":
            msg = f"unknown value {err.get('input')!r}; {err['msg'].split(';')[-1].strip()}"
    if kind == "missing" and field == "url":
        msg = "missing (every entry needs a link)"
    last = str(loc[-1]) if loc else ""
    if last == "checked" and kind == "missing":
        msg = "missing (the month you last verified this against its sources, e.g. checked: 2026-12)"
    if last == "checked" and kind == "string_pattern_mismatch":
        msg = f"{err.get('input')!r} is not a month; write YYYY-MM, e.g. checked: 2026-12"
    if last == "checked" and kind == "string_type":
        msg = f"{err.get('input')!r} is not a month; write YYYY-MM (quote it if your editor turns it into a date)"
    if last == "sources" and kind == "missing":
        msg = "missing (list the primary source URLs you checked the facts against, e.g. sources: [https://...])"
    if last == "sources" and kind == "too_short":
        msg = "empty (give at least one source URL)"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"{where}: field {field!r}: {msg}"


def _rel(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def load_section(path: Path) -> tuple[Section | None, list[str], list[dict]]:
    """Parse and validate one catalog file.

    Returns ``(section or None, problems, raw entry dicts)``. Each entry is validated on its own,
    so one file yields every problem at once (field errors, unknown categories), not just the first.
    """
    rel = _rel(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return None, [f"{rel}: not valid YAML: {exc}"], []
    if not isinstance(raw, dict):
        return None, [f"{rel}: top level must be a mapping with section, title, intro, groups, entries"], []
    entries = raw.get("entries")
    if not isinstance(entries, list) or not entries:
        return None, [f"{rel}: field 'entries': must be a non-empty list"], []
    problems: list[str] = []
    try:  # the file's header, with a stand-in entry list
        Section.model_validate({**raw, "entries": []})
    except ValidationError as exc:
        problems += [_describe(e, raw, path) for e in exc.errors() if e["loc"][:1] != ("entries",)]
    groups = [g.get("id") for g in raw.get("groups") or [] if isinstance(g, dict)]
    for i, item in enumerate(entries):
        if not isinstance(item, dict):
            problems.append(f"{rel}: entry #{i + 1}: must be a mapping of fields")
            continue
        try:
            Entry.model_validate(item)
        except ValidationError as exc:
            for e in exc.errors():
                problems.append(_describe({**e, "loc": ("entries", i, *e["loc"])}, raw, path))
        group = item.get("group")
        if isinstance(group, str) and groups and group not in groups:
            problems.append(f"{rel}: entry #{i + 1} {item.get('name')!r}: field 'group': unknown category "
                            f"{group!r}; expected one of: {', '.join(map(str, groups))}")
    if raw.get("section") != path.stem:
        problems.append(f"{rel}: field 'section': {raw.get('section')!r} must equal the file name {path.stem!r}")
    if problems:
        return None, problems, [e for e in entries if isinstance(e, dict)]
    return Section.model_validate(raw), [], entries


def load_catalog(directory: Path = CATALOG_DIR, recipes_dir: Path | None = None) -> list[Section]:
    """Load every ``*.yaml`` in ``directory``; raise :class:`CatalogError` listing all problems.

    Cross-file checks: entry ids and names are unique across the catalog (case-insensitive
    names), and every ``recipes`` item names an existing folder under ``recipes_dir``.
    """
    recipes_dir = recipes_dir or ROOT / "recipes"
    sections: list[Section] = []
    problems: list[str] = []
    seen_ids: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        section, errs, raw_entries = load_section(path)
        problems += errs
        if section:
            sections.append(section)
        for i, e in enumerate(raw_entries, 1):
            here = f"{_rel(path)}: entry #{i} {e.get('name')!r}"
            eid, name = e.get("id"), e.get("name")
            if isinstance(eid, str):
                if eid in seen_ids:
                    problems.append(f"{here}: field 'id': duplicate id {eid!r} (already used by {seen_ids[eid]})")
                else:
                    seen_ids[eid] = here
            if isinstance(name, str):
                key = name.casefold()
                if key in seen_names:
                    problems.append(f"{here}: field 'name': duplicate name {name!r} (already used by "
                                    f"{seen_names[key]})")
                else:
                    seen_names[key] = here
            for r in e.get("recipes") or []:
                if isinstance(r, str) and not (recipes_dir / r / "recipe.yaml").is_file():
                    problems.append(f"{here}: field 'recipes': no recipe folder recipes/{r}/ with a recipe.yaml")
    if problems:
        raise CatalogError(problems)
    return sections


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of one catalog file, as published in ``catalog/schema.json``."""
    schema = Section.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "AI Deployment Cookbook catalog section"
    return schema


def main(argv: list[str] | None = None) -> int:
    """CLI: validate the catalog, or print the JSON Schema with ``--schema``."""
    argv = sys.argv[1:] if argv is None else argv
    if "--schema" in argv:
        print(json.dumps(json_schema(), indent=2))
        return 0
    try:
        sections = load_catalog()
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"catalog OK: {sum(len(s.entries) for s in sections)} entries in {len(sections)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
