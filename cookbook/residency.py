"""The data-residency table of ``docs/concepts/managed-apis.md``, generated from the catalog.

One row per managed model API (every catalog entry tagged both ``api`` and ``managed``; the schema in
``cookbook.catalog`` requires their ``data_controls`` block): can you pin where prompts are processed,
can prompts and outputs be kept from being stored, does the provider fine-tune for you, how it bills,
and when those facts were checked, with links to the provider's own docs.

The page carries the marker :data:`MARKER`; the MkDocs hook replaces it with :func:`render_marker`.
Links are relative to ``concepts/managed-apis.md`` (``../catalog/<section>.md#<entry id>``, the anchor
``cookbook.render`` puts before each entry).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Optional

from cookbook import freshness
from cookbook.catalog import Availability, Control, Entry, PricingModel, Section, needs_data_controls

#: The HTML comment in ``docs/concepts/managed-apis.md`` that the table replaces.
MARKER = "<!-- residency-table -->"

STATUS_LABEL = {
    Availability.yes: "yes",
    Availability.some_offerings: "some offerings",
    Availability.no: "no",
    Availability.unknown: "unknown",
}
PRICING_LABEL = {
    PricingModel.pay_per_token: "pay per token",
    PricingModel.reserved_throughput: "reserved throughput",
    PricingModel.per_hour_instance: "per-hour instance",
    PricingModel.batch_discount: "batch discount",
    PricingModel.unknown: "unknown",
}

LEGEND = (
    "Generated from the `data_controls` of each catalog entry tagged `api` + `managed`. **yes**: documented "
    "as a feature of the service; **some offerings**: only in some of its products, deployment types, plans "
    "or contracts (the cell says which); **no**: documented as not offered; **unknown**: not in the sources "
    "we read, so we do not guess; ask the provider. *Zero retention* means prompts and outputs are not "
    "stored; *reserved throughput* is capacity bought by the hour or term (Provisioned Throughput, "
    "provisioned deployments). Each row's *Checked* month and sources apply to the whole row."
)


def providers(sections: Iterable[Section]) -> list[tuple[Entry, Section]]:
    """Every managed model API entry with its section, sorted by name (case-insensitive).

    Returns ``[(entry, section), ...]``; an entry is included when it is tagged ``api`` and ``managed``
    (the rule :func:`cookbook.catalog.needs_data_controls` enforces). Raises ``ValueError`` if one lacks
    ``data_controls`` (only possible for sections built without validation)."""
    rows = [(e, s) for s in sections for e in s.entries if needs_data_controls(e.tags)]
    missing = [e.name for e, _ in rows if e.data_controls is None]
    if missing:
        raise ValueError(f"managed model APIs without data_controls: {', '.join(missing)}")
    return sorted(rows, key=lambda es: es[0].name.casefold())


def _cell(text: str) -> str:
    """One Markdown table cell: no line breaks, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _control(c: Control, extra: str = "") -> str:
    label = f"**{STATUS_LABEL[c.status]}**{extra}"
    return _cell(f"{label}: {c.how}" if c.how else label)


def _link(e: Entry, s: Section, base: str) -> str:
    return f"[{e.name}]({base}{s.section}.md#{e.id})"


def residency_table(sections: Iterable[Section], on: Optional[dt.date] = None, base: str = "../catalog/") -> str:
    """Markdown: the legend and one table row per managed model API.

    Columns: Provider (linked to its catalog entry, ``{base}<section>.md#<id>``; the default ``base``
    suits a page in ``docs/concepts/``) | Pin region / jurisdiction | Zero retention | Fine-tuning |
    Pricing | Checked (``cookbook.freshness.badge``: the month and source links, with a warning once the
    row is older than 6 months on ``on``, default :func:`cookbook.freshness.today`).
    Raises ``ValueError`` as :func:`providers` does."""
    on = on or freshness.today()
    lines = ["| Provider | Pin region / jurisdiction | Zero retention | Fine-tuning | Pricing | Checked |",
             "|---|---|---|---|---|---|"]
    for e, s in providers(sections):
        dc = e.data_controls
        where = f" ({', '.join(dc.jurisdictions)})" if dc.jurisdictions else ""
        pricing = ", ".join(PRICING_LABEL[p] for p in dc.pricing)
        if dc.pricing_how:
            pricing += f": {dc.pricing_how}"
        fact = freshness.DatedFact(f"catalog/{s.section}.yaml", freshness.RESIDENCY_PAGE, e.name, "fact",
                                   dc.checked, tuple(str(u) for u in dc.sources), id=f"{e.id}/data-controls")
        cells = [_link(e, s, base), _control(dc.region_pinning, where), _control(dc.zero_retention),
                 _control(dc.fine_tuning), _cell(pricing), _cell(freshness.badge(fact, on))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + LEGEND + "\n"


def render_marker(markdown: str, sections: Iterable[Section], on: Optional[dt.date] = None) -> str:
    """Replace :data:`MARKER` in a page's Markdown with :func:`residency_table`; unchanged without it."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, residency_table(list(sections), on))
