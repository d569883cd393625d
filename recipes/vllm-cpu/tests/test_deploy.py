"""Kubernetes manifests (deploy/k8s/) against the Kubernetes JSON schema shipped in PyPI
``kubernetes-validate`` (strict: unknown fields fail), plus the probe arithmetic the README promises."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from vllm_recipe.launcher import RECIPE

K8S_VERSION = "1.37.0"
MANIFESTS = sorted((RECIPE / "deploy" / "k8s").glob("*.yaml"))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_kubernetes_schema(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert {d["kind"] for d in docs} == {"Deployment", "Service"}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_schema_validation_catches_a_broken_manifest():
    doc = yaml.safe_load_all(MANIFESTS[0].read_text()).__next__()
    doc["spec"]["template"]["spec"]["containers"][0]["startupProbe"]["periodSecondz"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_probes_tolerate_model_load_and_drain(path):
    dep = next(d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    startup = c["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    # measured startup here is 1-3 min on 2 cores; the budget must be well above it
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    drain = 60
    assert pod["terminationGracePeriodSeconds"] >= c["lifecycle"]["preStop"]["sleep"]["seconds"] + drain
