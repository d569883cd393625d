"""Expected hourly cost of a mixed on-demand + spot fleet: the calculator behind the notebook and the page.

    on-demand replicas = base + ceil((N − base) × pct_above_base / 100)      (rounded up: the conservative side)
    spot replicas      = N − on-demand replicas
    interruptions/day  = spot replicas × bucket rate per month / 30
    cost/h             = on-demand × price_od + spot × price_spot
                         + interruptions/h × overlap_h × price_spot           (replacement boots while the
                                                                               old one drains: paid twice)
    savings            = 1 − cost/h ÷ (N × price_od)

Interruption-frequency buckets are AWS Spot Instance Advisor's ("<5%", "5-10%", "10-15%", "15-20%", ">20%":
the share of a pool's instances that AWS reclaimed over the trailing month,
https://aws.amazon.com/ec2/spot/instance-advisor/); we use each bucket's midpoint (25% for ">20%"), an
assumption. Prices are dated inputs (``PRICES``), never live: spot prices move by zone and hour.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

#: Interruption-frequency bucket → assumed fraction of spot instances interrupted per month (bucket midpoint).
BUCKETS = {"<5%": 0.025, "5-10%": 0.075, "10-15%": 0.125, "15-20%": 0.175, ">20%": 0.25}

#: Dated price inputs (USD per instance-hour, Linux, us-east-1). Replace with yours.
PRICES = {
    "g5.xlarge": {"on_demand": 1.006, "spot": 0.40, "as_of": "2026-11-21",
                  "source": "on-demand: https://aws.amazon.com/ec2/pricing/on-demand/ ; spot: example input "
                            "(FEASIBILITY.md worked example) - read yours with `aws ec2 describe-spot-price-history`"},
    "c7i.xlarge": {"on_demand": 0.1785, "spot": 0.075, "as_of": "2026-11-21",
                   "source": "on-demand: https://aws.amazon.com/ec2/pricing/on-demand/ ; spot: illustrative input "
                             "(about 42% of on-demand) - read yours with `aws ec2 describe-spot-price-history`"},
}


@dataclass(frozen=True)
class FleetCost:
    """Result of :func:`expected_cost` (USD per hour unless named otherwise)."""

    replicas: int
    on_demand: int
    spot: int
    cost_per_h: float
    all_on_demand_per_h: float
    savings_pct: float
    headline_discount_pct: float
    interruptions_per_day: float
    interruption_cost_per_h: float


def split(replicas: int, base: int, pct_above_base: float) -> tuple[int, int]:
    """``(on_demand, spot)`` counts for a group of ``replicas`` (on-demand share rounded up).

    Raises ``ValueError`` for a negative count, a base above the size, or a percentage outside 0–100.
    """
    if replicas < 0 or base < 0 or not 0 <= pct_above_base <= 100:
        raise ValueError("replicas and base must be ≥ 0, pct_above_base within 0–100")
    base = min(base, replicas)
    od = base + math.ceil((replicas - base) * pct_above_base / 100 - 1e-9)
    return od, replicas - od


def expected_cost(replicas: int, base: int, pct_above_base: float, price_od: float, price_spot: float,
                  bucket: str = "5-10%", overlap_min: float = 5.0) -> FleetCost:
    """Expected hourly cost of the fleet. ``overlap_min``: minutes a replacement runs before the old instance is
    gone (boot + model load; paid twice). ``bucket``: a key of :data:`BUCKETS`. Raises ``KeyError`` for an
    unknown bucket and ``ValueError`` as :func:`split` does."""
    od, spot = split(replicas, base, pct_above_base)
    per_day = spot * BUCKETS[bucket] / 30
    interruption_cost = per_day / 24 * (overlap_min / 60) * price_spot
    cost = od * price_od + spot * price_spot + interruption_cost
    full = replicas * price_od
    return FleetCost(replicas, od, spot, round(cost, 4), round(full, 4),
                     round(100 * (1 - cost / full), 1) if full else 0.0,
                     round(100 * (1 - price_spot / price_od), 1), round(per_day, 3), round(interruption_cost, 5))


def table(instance: str = "g5.xlarge", replicas: int = 8, base: int = 2, pct_above_base: float = 25,
          overlap_min: float = 5.0) -> dict:
    """The page's table: one row per interruption bucket plus an all-spot and an all-on-demand row.

    Returns a results-table dict ``{"title", "columns", "rows", "note"}`` (USD per hour)."""
    p = PRICES[instance]
    rows = []
    for name, (b, pct) in {"all on-demand": (replicas, 100), f"base {base} + {pct_above_base:g}% above": (base, pct_above_base),
                           "all spot": (0, 0)}.items():
        for bucket in (BUCKETS if name != "all on-demand" else ["<5%"]):
            c = expected_cost(replicas, b, pct, p["on_demand"], p["spot"], bucket, overlap_min)
            rows.append([name, c.on_demand, c.spot, bucket if c.spot else "-", c.cost_per_h, c.savings_pct,
                         c.interruptions_per_day])
    return {"title": f"Expected cost, {replicas} × {instance} (on-demand ${p['on_demand']}/h, spot ${p['spot']}/h, "
                     f"prices as of {p['as_of']})",
            "columns": ["mix", "on-demand", "spot", "interruption bucket", "USD/h", "saved %", "interruptions/day"],
            "rows": rows,
            "note": f"Headline spot discount {round(100 * (1 - p['spot'] / p['on_demand']), 1)}%. Prices: "
                    f"{p['source']}. Buckets: AWS Spot Instance Advisor, midpoints assumed; replacement overlap "
                    f"{overlap_min:g} min per interruption."}


def worked_example() -> dict:
    """FEASIBILITY's example as numbers for the page: 8 × g5.xlarge, base 2, 25% above base, bucket 5–10%."""
    p = PRICES["g5.xlarge"]
    return asdict(expected_cost(8, 2, 25, p["on_demand"], p["spot"], "5-10%"))
