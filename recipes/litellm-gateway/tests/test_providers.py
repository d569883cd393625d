"""providers.yaml: real managed-provider entries loaded by LiteLLM's own config parser (ProxyConfig.load_config,
what `litellm --config` runs). Dummy keys in the environment; nothing is called (the parser makes no request)."""

from __future__ import annotations

import asyncio

import pytest

from litellm_gateway.launcher import RECIPE

KEYS = ["OPENAI_API_KEY", "OPENAI_EU_API_KEY", "AZURE_SWEDENCENTRAL_API_KEY", "AZURE_WESTEUROPE_API_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "OPENROUTER_API_KEY"]
EXPECTED = {  # model_name -> (provider LiteLLM resolves, what pins where the data is processed)
    "openai-gpt-4.1-mini": ("openai", None),
    "openai-gpt-4.1-mini-eu": ("openai", "https://eu.api.openai.com/v1"),
    "azure-gpt-4.1-mini-swedencentral": ("azure", "https://my-aoai-swedencentral.openai.azure.com"),
    "azure-gpt-4.1-mini-eu-datazone": ("azure", "https://my-aoai-westeurope.openai.azure.com"),
    "bedrock-claude-on-demand-frankfurt": ("bedrock", "eu-central-1"),
    "bedrock-claude-eu-profile": ("bedrock", "eu-west-1"),
    "bedrock-claude-provisioned": ("bedrock", "eu-central-1"),
    "anthropic-claude-sonnet": ("anthropic", None),
    "groq-llama-3.1-8b": ("groq", None),
    "openrouter-llama-3.1-8b": ("openrouter", None),
}


@pytest.fixture(scope="module")
def router(monkeypatch_module):
    for k in KEYS:
        monkeypatch_module.setenv(k, "not-a-real-key")
    from litellm.proxy.proxy_server import ProxyConfig

    router, model_list, _ = asyncio.run(ProxyConfig().load_config(router=None,
                                                                  config_file_path=str(RECIPE / "providers.yaml")))
    return router


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_provider_entry_parses_and_resolves(router):
    import litellm

    got = {}
    for d in router.get_model_list():
        p = d["litellm_params"]
        provider = litellm.get_llm_provider(p["model"])[1]
        got[d["model_name"]] = (provider, p.get("api_base") or p.get("aws_region_name"))
    assert got == EXPECTED


def test_keys_come_from_the_environment_not_the_file(router):
    for d in router.get_model_list():
        p = d["litellm_params"]
        secret = p.get("api_key") or p.get("aws_secret_access_key")
        assert secret == "not-a-real-key", (d["model_name"], secret)
    assert "not-a-real-key" not in (RECIPE / "providers.yaml").read_text()


def test_bedrock_provisioned_and_profile_ids(router):
    by = {d["model_name"]: d["litellm_params"]["model"] for d in router.get_model_list()}
    assert ":provisioned-model/" in by["bedrock-claude-provisioned"]
    assert by["bedrock-claude-eu-profile"].startswith("bedrock/eu.")
