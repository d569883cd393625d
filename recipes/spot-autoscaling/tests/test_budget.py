"""The timing budget: arithmetic, the providers' notices, and the agent refusing a budget that does not fit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spot_autoscaling.budget import PROVIDER_NOTICE_S, budget_from_settings, compute_budget
from spot_autoscaling.settings import AgentSettings

from .conftest import RECIPE_DIR


def test_arithmetic():
    b = compute_budget(5, 5, 2, 15, 30, 5, 120)
    assert b.lb_detection_s == 10 and b.total_s == 65 and b.fits and b.slack_s == 55
    assert "= 65 s ≤ notice 120 s" in b.describe()
    over = compute_budget(5, 5, 2, 15, 30, 5, 30)
    assert not over.fits and over.slack_s == -35 and "> notice 30 s" in over.describe()
    with pytest.raises(ValueError):
        compute_budget(-1, 5, 2, 15, 30, 5, 120)
    with pytest.raises(ValueError):
        compute_budget(5, 5, 0, 15, 30, 5, 120)


def test_provider_notices_and_defaults():
    assert PROVIDER_NOTICE_S == {"aws": 120.0, "gcp": 30.0, "azure": 30.0}
    aws = budget_from_settings(AgentSettings(provider="aws"))
    assert aws.notice_s == 120 and aws.fits  # the defaults fit AWS's two minutes ...
    gcp = budget_from_settings(AgentSettings(provider="gcp"))
    assert gcp.notice_s == 30 and not gcp.fits  # ... but not GCP's 30 s: GCP needs its own settings


def _check(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPOT_")}
    return subprocess.run([sys.executable, "-m", "spot_autoscaling.agent", "--check"], cwd=RECIPE_DIR,
                          env={**base, "PYTHONPATH": str(RECIPE_DIR), **env}, capture_output=True, text=True,
                          timeout=30)


def test_agent_prints_budget_and_refuses_what_does_not_fit():
    ok = _check({"SPOT_PROVIDER": "aws"})
    assert ok.returncode == 0, ok.stderr
    assert "timing budget (aws" in ok.stderr and "= 65 s ≤ notice 120 s" in ok.stderr
    bad = _check({"SPOT_PROVIDER": "gcp"})
    assert bad.returncode == 2
    assert "refusing to start: the drain does not fit the notice: 65 s needed > 30 s" in bad.stderr
    fitted = _check({"SPOT_PROVIDER": "gcp", "SPOT_POLL_INTERVAL_S": "1", "SPOT_LB_CHECK_INTERVAL_S": "2",
                     "SPOT_DRAIN_DELAY_S": "4", "SPOT_DRAIN_TIMEOUT_S": "15", "SPOT_MARGIN_S": "3"})
    assert fitted.returncode == 0 and "= 27 s ≤ notice 30 s" in fitted.stderr


def test_agent_without_command_is_a_usage_error():
    r = subprocess.run([sys.executable, "-m", "spot_autoscaling.agent"], cwd=RECIPE_DIR,
                       env={**os.environ, "PYTHONPATH": str(RECIPE_DIR)}, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage:" in r.stderr
