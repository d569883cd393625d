"""Settings and the effective config the launcher hands to LiteLLM (no server)."""

from __future__ import annotations

import json
import subprocess
import sys

from litellm_gateway.launcher import RECIPE, effective_config
from litellm_gateway.settings import Settings


def test_unset_backends_and_db_are_dropped():
    cfg = effective_config(RECIPE / "config.yaml", {"LITELLM_GW_PRIMARY_URL": "http://127.0.0.1:1/v1"})
    assert [m["model_name"] for m in cfg["model_list"]] == ["smollm2-135m-instruct"]
    assert cfg["router_settings"]["fallbacks"] == []
    assert "database_url" not in cfg["general_settings"] and "master_key" not in cfg["general_settings"]


def test_fallback_kept_when_set():
    cfg = effective_config(RECIPE / "config.yaml", {"LITELLM_GW_PRIMARY_URL": "http://a/v1",
                                                    "LITELLM_GW_FALLBACK_URL": "http://b/v1", "DATABASE_URL": "x"})
    assert cfg["router_settings"]["fallbacks"] == [{"smollm2-135m-instruct": ["smollm2-135m-instruct-fallback"]}]
    assert cfg["general_settings"]["database_url"] == "os.environ/DATABASE_URL"


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("LITELLM_GW_CORS_ORIGINS", "http://a.example, http://b.example")
    monkeypatch.setenv("LITELLM_GW_API_KEY", "")
    s = Settings()
    assert s.cors_origins == ["http://a.example", "http://b.example"] and s.key() is None


def test_print_settings_hides_secrets():
    out = subprocess.run([sys.executable, "-m", "litellm_gateway", "--print-settings"], cwd=RECIPE, text=True,
                         capture_output=True, env={"LITELLM_GW_API_KEY": "sk-secret", "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["api_key"] == "***" and "sk-secret" not in out.stdout
