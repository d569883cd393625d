"""No number on a recipe page typed by hand: every number in the README prose under "Measured results" must be a
number of the recipe's committed ``results/*.json`` (as written there, rounded to the digits the prose shows, or
as a percentage of a fraction).

The tables under that heading are generated from the results (``<!-- cookbook:results -->``); this test covers
the words around them, which a person writes and which drift when a bench is re-run. Numbers inside code, link
targets, and identifiers (``p99``, ``int8``, ``fp32``, ``e86d78e``, ``LLAMACPP_N_THREADS=0``) are not checked.
A derived figure (a ratio, a difference) must be computed by the bench and stored in the results, which is also
where a reader would look for it.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

import pytest

from cookbook.recipes import RESULTS_MARKER, recipe_dirs

#: A number as prose writes it: 1,234 · 0.5 · 81 · 3.6 (not part of an identifier or a version).
NUMBER = re.compile(r"(?<![\w.\-/=:#@])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w.]*[A-Za-z_=/])")
#: Text that is not prose: fenced code, inline code, link targets, HTML comments, the results marker.
NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\]\([^)]*\)|<!--.*?-->|https?://\S+", re.S)


def measured_prose(readme: str) -> str:
    """The README text between '## Measured results' and the next H2, without code, links and comments."""
    m = re.search(r"^## Measured results$(.*?)^## ", readme, re.M | re.S)
    return NOT_PROSE.sub(" ", m.group(1).replace(RESULTS_MARKER, " ")) if m else ""


def prose_numbers(text: str) -> list[str]:
    """Every number written in ``text``, as written (thousands separators removed)."""
    return [(a + (b or "")).replace(",", "") for a, b in NUMBER.findall(text)]


def _walk(obj: Any) -> Iterator[Decimal]:
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        try:
            yield Decimal(repr(obj))
        except InvalidOperation:
            return
    elif isinstance(obj, str):
        for a, b in NUMBER.findall(obj):
            yield Decimal((a + (b or "")).replace(",", ""))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(k)
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def result_numbers(recipe_dir: Path) -> set[Decimal]:
    """Every number anywhere in the recipe's results/*.json (values, table cells, numbers inside strings)."""
    out: set[Decimal] = set()
    for f in sorted((recipe_dir / "results").glob("*.json")):
        out |= set(_walk(json.loads(f.read_text(encoding="utf-8"))))
    return out


def matches(written: str, values: set[Decimal]) -> bool:
    """True if some value, rounded to the digits ``written`` shows, equals it (also as value × 100, a percent)."""
    w = Decimal(written)
    places = Decimal(1).scaleb(w.as_tuple().exponent)  # 0.1 for "3.6", 1 for "81"
    for v in values:
        for x in (v, v * 100):
            if abs(x - w) <= places / 2 + Decimal("1e-12"):
                return True
    return False


@pytest.mark.parametrize("recipe", [d.name for d in recipe_dirs() if (d / "README.md").is_file()])
def test_every_number_in_measured_prose_is_in_results(recipe):
    d = next(x for x in recipe_dirs() if x.name == recipe)
    prose = measured_prose((d / "README.md").read_text(encoding="utf-8"))
    values = result_numbers(d)
    missing = sorted({n for n in prose_numbers(prose) if not matches(n, values)}, key=float)
    assert not missing, (f"recipes/{recipe}/README.md 'Measured results' quotes numbers that are not in "
                         f"results/*.json (typed by hand, or stale after a re-run): {missing}")


def test_the_check_catches_a_typed_number(tmp_path):
    """The checker itself: a number that no result holds is reported; one that a result holds is not."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "bench.json").write_text(json.dumps({"tables": [{"rows": [[634.2, 0.812]]}]}))
    values = result_numbers(tmp_path)
    prose = measured_prose("## Measured results\n\nWe saw 634 sentences/s, 81 % of the ceiling, and 97.5 % "
                           "uptime on `p99` with int8.\n\n## Configuration\n")
    assert prose_numbers(prose) == ["634", "81", "97.5"]
    assert [n for n in prose_numbers(prose) if not matches(n, values)] == ["97.5"]
