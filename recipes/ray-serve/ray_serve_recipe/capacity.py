"""Capacity planner: replicas and cost for a target rate under a p99 SLO, from the recipes' committed bench curves.

A *curve* is one bench table of a recipe (``recipes/*/results/*.json``) with a ``concurrency`` column, a
throughput column (``requests/s``, ``req/s``, ``aggregate tokens/s`` or ``output tok/s``) and a tail-latency column (``p99 ms``,
``e2e tail ms``). For a target rate and an SLO, :func:`plan` takes the highest throughput one replica reached at
any measured concurrency whose tail latency met the SLO, and needs ``ceil(target / that)`` replicas. Costs use
:data:`INSTANCES` (dated inputs with sources; one replica per 2 vCPUs, because every curve was measured on a
2-core machine: an assumption of linear scaling across cores, not a measurement).

Limits, stated so nobody over-reads the numbers: the curves come from a shared, often busy 2-core box (their
results record the load average); a tail from fewer than 100 samples is a maximum, not a p99 (``tail_is_max``);
replicas are assumed independent (no shared bottleneck such as a load balancer or a database).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

#: Instance types, on-demand USD per hour (Linux, us-east-1), with the date and source of each price.
INSTANCES: dict[str, dict[str, Any]] = {
    "c7i.large": {"vcpus": 2, "usd_per_h": 0.08925, "as_of": "2026-11-21",
                  "source": "https://aws.amazon.com/ec2/pricing/on-demand/ (half of c7i.xlarge $0.1785/h, "
                            "recipes/spot-autoscaling/results/cost.json)"},
    "c7i.xlarge": {"vcpus": 4, "usd_per_h": 0.1785, "as_of": "2026-11-21",
                   "source": "https://aws.amazon.com/ec2/pricing/on-demand/ (recipes/spot-autoscaling)"},
    "m7g.large": {"vcpus": 2, "usd_per_h": 0.0816, "as_of": "2026-06",
                  "source": "reported by https://www.factualminds.com/blog/amazon-ec2-on-demand-pricing-instance-"
                            "families-2026/ (Graviton, arm64: the curves were measured on x86-64)"},
}
#: vCPUs the curves were measured on (the cookbook's machines: 2 cores).
MEASURED_VCPUS = 2

THROUGHPUT_COLS = ("requests/s", "req/s", "aggregate tokens/s", "output tok/s")
TAIL_COLS = ("p99 ms", "e2e tail ms", "e2el p99 ms")


@dataclass
class Curve:
    """Throughput (units/s) and tail latency (ms) of one replica against concurrency."""

    recipe: str
    title: str
    unit: str                      # "embeddings", "tokens" or "requests"
    points: list[dict] = field(default_factory=list)   # {"concurrency", "throughput", "tail_ms", "tail_is_max"}
    source: str = ""

    @property
    def name(self) -> str:
        return f"{self.recipe}: {self.title}"


def _num(x: Any) -> Optional[float]:
    m = re.search(r"(-?\d+(?:\.\d+)?)", str(x))  # "729 (max)" and "max 826.5" both give the number
    return float(m.group(1)) if m else None


def curves(recipes_dir: Path, skip: tuple[str, ...] = ("ray-serve",)) -> list[Curve]:
    """Every usable curve in ``recipes_dir/*/results/*.json`` (``skip``: recipes whose tables are not
    single-replica curves, e.g. this recipe's autoscaling phases)."""
    out = []
    for path in sorted(recipes_dir.glob("*/results/*.json")):
        recipe = path.parent.parent.name
        if recipe in skip:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for t in data.get("tables", []):
            cols = [str(c).strip().lower() for c in t.get("columns", [])]
            if "concurrency" not in cols:
                continue
            thr = next((cols.index(c) for c in THROUGHPUT_COLS if c in cols), None)
            tail = next((cols.index(c) for c in TAIL_COLS if c in cols), None)
            if thr is None or tail is None:
                continue
            unit = "tokens" if "tok" in cols[thr] else (
                "embeddings" if "embed" in recipe or "sentence" in t.get("title", "").lower() else "requests")
            svc = next((cols.index(c) for c in ("service", "server") if c in cols), None)
            groups: dict[str, Curve] = {}
            for row in t.get("rows", []):
                key = str(row[svc]) if svc is not None else ""
                c = groups.setdefault(key, Curve(recipe, (t["title"] + (f" [{key}]" if key else ""))[:110], unit,
                                                 source=f"recipes/{recipe}/results/{path.name}"))
                x, y, z = _num(row[cols.index("concurrency")]), _num(row[thr]), _num(row[tail])
                if None not in (x, y, z) and y > 0:
                    c.points.append({"concurrency": x, "throughput": y, "tail_ms": z,
                                     "tail_is_max": "max" in str(row[tail]).lower()})
            out += [c for c in groups.values() if c.points]
    return out


def plan(curve: Curve, target_per_s: float, slo_ms: float) -> dict[str, Any]:
    """Replicas needed for ``target_per_s`` units/s with the tail <= ``slo_ms``, and the cost per instance type.

    Returns ``{"feasible": False, ...}`` when no measured point meets the SLO. Costs: ``usd_per_h`` for the
    instances holding the replicas, ``usd_per_million`` = that cost divided by the units served per hour at the
    target rate (so it includes the unused headroom of the last replica)."""
    ok = [p for p in curve.points if p["tail_ms"] <= slo_ms]
    if not ok:
        best_tail = min(p["tail_ms"] for p in curve.points)
        return {"curve": curve.name, "unit": curve.unit, "feasible": False,
                "why": f"no measured concurrency meets {slo_ms:g} ms (best tail {best_tail:g} ms)"}
    best = max(ok, key=lambda p: p["throughput"])
    replicas = math.ceil(target_per_s / best["throughput"])
    costs = {}
    for name, inst in INSTANCES.items():
        per = max(1, inst["vcpus"] // MEASURED_VCPUS)
        n = math.ceil(replicas / per)
        usd_h = n * inst["usd_per_h"]
        costs[name] = {"instances": n, "usd_per_h": round(usd_h, 4),
                       "usd_per_million": round(usd_h / (target_per_s * 3600) * 1e6, 4)}
    return {"curve": curve.name, "unit": curve.unit, "feasible": True, "source": curve.source,
            "per_replica_per_s": best["throughput"], "at_concurrency": best["concurrency"],
            "tail_ms": best["tail_ms"], "tail_is_max": best["tail_is_max"], "replicas": replicas, "costs": costs}


#: Default targets and SLOs per unit (inputs: change them for your service).
DEFAULT_TARGETS = {"embeddings": (1000.0, 200.0), "requests": (20.0, 2000.0), "tokens": (500.0, 30000.0)}


def table(recipes_dir: Path, targets: dict[str, tuple[float, float]] = DEFAULT_TARGETS) -> dict[str, Any]:
    """The planner's table over every curve: one row per curve, cost columns per instance type."""
    cols = ["curve", "unit", "target /s", "SLO tail ms", "per replica /s", "at concurrency", "tail ms",
            "replicas"] + [f"{n} USD/h" for n in INSTANCES] + [f"{n} USD per 1M" for n in INSTANCES]
    rows = []
    for c in curves(recipes_dir):
        target, slo = targets[c.unit]
        p = plan(c, target, slo)
        if not p["feasible"]:
            rows.append([c.name, c.unit, target, slo, "-", "-", p["why"], "-"] + ["-"] * (2 * len(INSTANCES)))
            continue
        tail = f"{p['tail_ms']:g}" + (" (max)" if p["tail_is_max"] else "")
        rows.append([c.name, c.unit, target, slo, p["per_replica_per_s"], p["at_concurrency"], tail, p["replicas"]]
                    + [p["costs"][n]["usd_per_h"] for n in INSTANCES]
                    + [p["costs"][n]["usd_per_million"] for n in INSTANCES])
    return {"title": "Capacity plan from committed bench curves (one replica per 2 vCPUs; prices dated inputs)",
            "columns": cols, "rows": rows,
            "note": "Prices: " + "; ".join(f"{n} ${i['usd_per_h']}/h as of {i['as_of']} ({i['source']})"
                                          for n, i in INSTANCES.items())}


def write_results(recipe_dir: Path, recipes_dir: Path) -> Path:
    """Write ``results/capacity.json`` (provenance-stamped) with :func:`table` over ``recipes_dir``'s curves.

    The recipe page renders its table; every recipe's "Scale out" section links it. A computation, not a
    measurement: ``model`` names the curves it read (recipe and results file), and the row values change when
    any of those benches is re-run (run ``make capacity`` then). Returns the path written.
    """
    from . import provenance

    t = table(recipes_dir)
    used = sorted({c.source for c in curves(recipes_dir)})
    doc = provenance.stamp(
        recipe_dir, title="Capacity plan: replicas and cost for a target rate under a tail-latency SLO",
        model={"name": "the committed bench curves of the cookbook's recipes", "curves": used},
        conditions=("targets and SLOs per unit: " + "; ".join(f"{u} {tg:g}/s at tail <= {slo:g} ms"
                                                              for u, (tg, slo) in DEFAULT_TARGETS.items())
                    + f"; one replica per {MEASURED_VCPUS} vCPUs (curves measured on {MEASURED_VCPUS} cores; linear "
                      "scaling across cores is an assumption, not a measurement)"),
        summary=f"{len(t['rows'])} curves planned from committed results; prices dated inputs",
        tables=[t], plots=[], derived=True, data={"targets": DEFAULT_TARGETS, "instances": INSTANCES})
    out = recipe_dir / "results" / "capacity.json"
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    _here = Path(__file__).resolve().parents[1]
    print(write_results(_here, _here.parent))
