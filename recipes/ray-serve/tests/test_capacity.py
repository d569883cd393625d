"""The capacity planner's arithmetic and curve extraction (a calculator: checked on curves written here)."""

import json

from ray_serve_recipe import capacity


def write(tmp_path, recipe, table):
    d = tmp_path / recipe / "results"
    d.mkdir(parents=True)
    (d / "bench.json").write_text(json.dumps({"tables": [table]}))


def test_curves_are_found_and_parsed(tmp_path):
    write(tmp_path, "emb-recipe", {"title": "Service, one sentence per request", "columns":
          ["concurrency", "requests", "requests/s", "p50 ms", "p99 ms"],
          "rows": [[1, 100, 50, 10, 20], [8, 300, 150, 40, "95.5"], [32, 300, 160, 190, "400 (max, n=40)"]]})
    write(tmp_path, "llm-recipe", {"title": "sweep", "columns": ["concurrency", "aggregate tokens/s", "e2e tail ms"],
                                   "rows": [[1, 40, 900], [4, 90, 2500]]})
    write(tmp_path, "other", {"title": "no curve", "columns": ["batch", "sentences/s"], "rows": [[1, 5]]})
    cs = {c.recipe: c for c in capacity.curves(tmp_path)}
    assert set(cs) == {"emb-recipe", "llm-recipe"}
    assert cs["emb-recipe"].unit == "embeddings" and cs["llm-recipe"].unit == "tokens"
    assert cs["emb-recipe"].points[2] == {"concurrency": 32, "throughput": 160, "tail_ms": 400, "tail_is_max": True}


def test_plan_picks_best_point_within_slo_and_costs_it(tmp_path):
    c = capacity.Curve("r", "t", "embeddings", [
        {"concurrency": 1, "throughput": 50, "tail_ms": 20, "tail_is_max": False},
        {"concurrency": 8, "throughput": 150, "tail_ms": 95, "tail_is_max": False},
        {"concurrency": 32, "throughput": 160, "tail_ms": 400, "tail_is_max": True}])
    p = capacity.plan(c, 1000, 100)
    assert p["feasible"] and p["per_replica_per_s"] == 150 and p["replicas"] == 7   # ceil(1000 / 150)
    small = capacity.INSTANCES["c7i.large"]
    assert p["costs"]["c7i.large"]["instances"] == 7
    assert p["costs"]["c7i.large"]["usd_per_h"] == round(7 * small["usd_per_h"], 4)
    assert p["costs"]["c7i.xlarge"]["instances"] == 4                               # 2 replicas per 4 vCPUs
    per_m = 7 * small["usd_per_h"] / (1000 * 3600) * 1e6
    assert abs(p["costs"]["c7i.large"]["usd_per_million"] - round(per_m, 4)) < 1e-9
    assert capacity.plan(c, 1000, 10)["feasible"] is False                         # no point meets 10 ms
    assert capacity.plan(c, 1000, 1000)["replicas"] == 7                            # 160/s point is a max: still used


def test_every_price_is_dated_and_sourced():
    for name, inst in capacity.INSTANCES.items():
        assert inst["usd_per_h"] > 0 and inst["vcpus"] >= 2 and inst["as_of"][:4] == "2026" and inst["source"], name
