"""The cost calculator, and the committed cost table equal to what the calculator (and so the notebook) gives."""

from __future__ import annotations

import json

import pytest

from spot_autoscaling import cost

from .conftest import RECIPE_DIR


def test_split_rounds_on_demand_up():
    assert cost.split(8, 2, 25) == (4, 4)  # 2 + ceil(6 × 0.25 = 1.5)
    assert cost.split(10, 2, 25) == (4, 6)
    assert cost.split(8, 0, 0) == (0, 8) and cost.split(8, 8, 0) == (8, 0) and cost.split(2, 5, 50) == (2, 0)
    with pytest.raises(ValueError):
        cost.split(8, 2, 120)


def test_worked_example_is_far_below_the_headline():
    ex = cost.worked_example()
    assert ex["on_demand"] == 4 and ex["spot"] == 4
    assert ex["savings_pct"] == pytest.approx(100 * (1 - (4 * 1.006 + 4 * 0.40) / (8 * 1.006)), abs=0.1)
    assert ex["savings_pct"] < ex["headline_discount_pct"] / 1.5
    assert ex["interruption_cost_per_h"] < 0.001 * ex["cost_per_h"]  # interruptions themselves cost little


def test_committed_cost_table_matches_the_calculator():
    committed = json.loads((RECIPE_DIR / "results/cost.json").read_text())
    assert committed["tables"][0] == cost.table()
    assert committed["data"]["worked_example"] == cost.worked_example()
