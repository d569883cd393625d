"""Deployment files: the Kubernetes manifest against the Kubernetes JSON schema, the Dockerfile via hadolint."""

from __future__ import annotations

import re
import subprocess

import kubernetes_validate
import pytest
import yaml

from triton_embeddings.settings import RECIPE_DIR

K8S_VERSION = "1.37.0"  # schemas shipped by kubernetes-validate 1.37.0 (from the Kubernetes OpenAPI spec)


def docs() -> list[dict]:
    return list(yaml.safe_load_all((RECIPE_DIR / "k8s" / "deployment.yaml").read_text()))


def test_manifest_validates_against_the_kubernetes_schema():
    for d in docs():
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)  # raises ValidationError


def test_the_schema_check_can_fail():
    d = docs()[0]
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)


def test_manifest_has_gpu_probes_and_graceful_termination():
    dep = docs()[0]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert "--model-config-name=gpu" in c["args"]
    sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
    exit_timeout = int(re.search(r"--exit-timeout-secs=(\d+)", (RECIPE_DIR / "Dockerfile").read_text()).group(1))
    assert pod["terminationGracePeriodSeconds"] > sleep + exit_timeout


def test_dockerfile_is_hadolint_clean():
    r = subprocess.run([str(RECIPE_DIR / ".venv" / "bin" / "hadolint"), "Dockerfile"], cwd=RECIPE_DIR,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dockerfile_runs_the_release_the_tests_run():
    """NGC 24.10 = Triton 2.51.0, the binary nvidia-pytriton 0.7.0 bundles (tests check the server says so)."""
    text = (RECIPE_DIR / "Dockerfile").read_text()
    assert "FROM nvcr.io/nvidia/tritonserver:24.10-py3" in text
    assert "nvidia-pytriton==0.7.0" in (RECIPE_DIR / "requirements.txt").read_text()


def test_bundled_server_is_2_51(server):
    import httpx

    assert httpx.get(f"{server.url}/v2").json()["version"] == "2.51.0"
