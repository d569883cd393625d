"""The Kubernetes manifests validate offline (no cluster here): KubeRay RayService, KServe InferenceServices for
the vLLM and Triton recipes, an HPA on a custom metric. See ray_serve_recipe/k8s.py for which schema checks what.
The validator itself is tested on broken manifests, so a check that cannot fail would show here."""

from pathlib import Path

import pytest
import yaml

from ray_serve_recipe import k8s

K8S = Path(__file__).resolve().parent.parent / "k8s"
FILES = sorted(K8S.glob("*.yaml"))


def test_all_manifests_present():
    assert {f.name for f in FILES} >= {"rayservice.yaml", "kserve-vllm.yaml", "kserve-triton.yaml",
                                       "hpa-custom-metric.yaml"}


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_manifest_is_valid(path):
    assert k8s.problems(path) == []


def test_rayservice_serves_the_same_app_as_serve_config():
    svc = yaml.safe_load((K8S / "rayservice.yaml").read_text())
    inner = yaml.safe_load(svc["spec"]["serveConfigV2"])
    local = yaml.safe_load((K8S.parent / "serve_config.yaml").read_text())
    assert [a["import_path"] for a in inner["applications"]] == [a["import_path"] for a in local["applications"]]
    names = lambda c: [d["name"] for d in c["applications"][0]["deployments"]]  # noqa: E731
    assert names(inner) == names(local)


def test_kserve_manifests_scale_on_the_engines_own_metrics():
    vllm = yaml.safe_load((K8S / "kserve-vllm.yaml").read_text())
    triton = yaml.safe_load((K8S / "kserve-triton.yaml").read_text())
    q = lambda d: d["spec"]["predictor"]["autoScaling"]["metrics"][0]["external"]["metric"]["query"]  # noqa: E731
    assert "vllm:num_requests_waiting" in q(vllm) and "nv_inference_pending_request_count" in q(triton)
    for d in (vllm, triton):
        c = d["spec"]["predictor"]["containers"][0]
        assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 300


BROKEN = [
    ("serving.kserve.io/v1beta1", "InferenceService", {"predictor": {"minReplica": 1}}, "unknown field"),
    ("serving.kserve.io/v1beta1", "InferenceService",
     {"predictor": {"containers": [{"name": "a", "ports": [{"containerPort": "eighty"}]}]}}, "integer"),
    ("serving.kserve.io/v1beta1", "InferenceService",
     {"predictor": {"autoScaling": {"metrics": [{"type": "External", "external": {"target": {"value": [1]}}}]}}},
     "value"),
    ("ray.io/v1", "RayService", {"serveConfigV2": "applications: [{name: a, import_path: 3}]"}, "Serve config"),
    ("ray.io/v1", "RayService", {"rayClusterConfig": {"headGroupSpec": {"rayStartParams": {"num-cpus": 0}}}},
     "map of strings"),
    ("ray.io/v1", "RayService", {"rayClusterConfig": {"headGroupSpec": {"template": {"spec": {"containerz": []}}}}},
     "containerz"),
    ("ray.io/v1", "RayService", {"rayClusterConfig": {"autoscalerOptions": {"upscalingMode": "Fast"}}},
     "expected one of Default"),
    ("autoscaling/v2", "HorizontalPodAutoscaler", {"scaleTargetRef": {"kind": "Deployment", "name": "d"},
                                                   "maxReplicas": 2, "metric": []}, "metric"),
]


@pytest.mark.parametrize("api,kind,spec,needle", BROKEN, ids=[f"{b[1]}-{b[3]}" for b in BROKEN])
def test_validator_catches_broken_manifests(api, kind, spec, needle):
    msgs = k8s.doc_problems({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, "spec": spec}, "doc")
    assert msgs and any(needle in m for m in msgs), msgs
