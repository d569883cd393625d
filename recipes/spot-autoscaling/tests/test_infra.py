"""The cloud files: CloudFormation through cfn-lint, Terraform/Packer HCL through python-hcl2 (key fields),
Kubernetes manifests through kubernetes-validate's JSON schemas, SkyServe YAML through SkyPilot's own parser.
Every timing budget written in a file must fit its provider's notice."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
import yaml

from spot_autoscaling.budget import PROVIDER_NOTICE_S, compute_budget

from .conftest import RECIPE_DIR
from .test_aws_shape import template

INFRA = RECIPE_DIR / "infra"
FAMILY = re.compile(r"^([a-z]+\d+[a-z]*)\.")


def unq(x):
    """python-hcl2 8 keeps string quotes (``'"abc"'``): strip them, recursively."""
    if isinstance(x, str):
        return x[1:-1] if len(x) >= 2 and x[0] == x[-1] == '"' else x
    if isinstance(x, list):
        return [unq(v) for v in x]
    if isinstance(x, dict):
        return {unq(k): unq(v) for k, v in x.items()}
    return x


def hcl(path: str) -> dict:
    return unq(hcl2.load(open(INFRA / path)))


def resources(doc: dict) -> dict[tuple[str, str], dict]:
    return {(t, n): body for block in doc.get("resource", []) for t, named in block.items() for n, body in named.items()}


def families(types: list[str]) -> set[str]:
    return {FAMILY.match(t).group(1) for t in types}


# --- CloudFormation ------------------------------------------------------------------------------------------
def test_cfn_lint_passes():
    r = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(INFRA / "aws/cloudformation.yaml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("group,tg,metric", [("CpuGroup", "CpuTargetGroup", "ASGAverageCPUUtilization"),
                                             ("GpuGroup", "GpuTargetGroup", "ALBRequestCountPerTarget")])
def test_cfn_groups(group, tg, metric):
    res = template()["Resources"]
    p = res[group]["Properties"]
    dist = p["MixedInstancesPolicy"]["InstancesDistribution"]
    assert dist["SpotAllocationStrategy"] == "price-capacity-optimized"
    assert dist["OnDemandBaseCapacity"] >= 1 and 0 < dist["OnDemandPercentageAboveBaseCapacity"] < 100
    types = [o["InstanceType"] for o in p["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]]
    assert len(types) >= 3 and len(families(types)) >= 3
    assert p["CapacityRebalance"] is True and p["VPCZoneIdentifier"] == "SubnetIds"  # a list of subnets (AZs)
    (hook,) = p["LifecycleHookSpecificationList"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING" and hook["HeartbeatTimeout"] < 120
    scaling = [r["Properties"] for r in res.values() if r["Type"] == "AWS::AutoScaling::ScalingPolicy"
               and r["Properties"]["AutoScalingGroupName"] == group]
    assert scaling[0]["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"] == metric
    t = res[tg]["Properties"]
    attrs = {a["Key"]: int(a["Value"]) for a in t["TargetGroupAttributes"] if a["Value"].isdigit()}
    assert t["HealthCheckPath"] == "/readyz"
    # ALB detection + deregistration delay (in-flight) + agent poll 5 + drain delay 15 + margin 5 within 120 s
    b = compute_budget(5, t["HealthCheckIntervalSeconds"], t["UnhealthyThresholdCount"], 15,
                       attrs["deregistration_delay.timeout_seconds"], 5, PROVIDER_NOTICE_S["aws"])
    assert b.fits, b.describe()
    lt = res[group.replace("Group", "LaunchTemplate")]["Properties"]["LaunchTemplateData"]
    assert lt["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2


def test_cfn_eventbridge_rule():
    rule = template()["Resources"]["InterruptionRule"]["Properties"]
    assert "EC2 Spot Instance Interruption Warning" in rule["EventPattern"]["detail-type"]
    assert rule["EventPattern"]["source"] == ["aws.ec2"]


# --- Terraform (AWS) -------------------------------------------------------------------------------------------
def test_terraform_key_fields():
    doc = hcl("terraform/main.tf")
    loc = {k: v for block in doc["locals"] for k, v in block.items()}
    res = resources(doc)
    asg = res[("aws_autoscaling_group", "group")]
    assert asg["for_each"] == "${local.groups}" and set(loc["groups"]) == {"cpu", "gpu"}
    for g in loc["groups"].values():
        assert len(g["instance_types"]) >= 3 and len(families(g["instance_types"])) >= 3
    assert loc["groups"]["cpu"]["metric"] == "ASGAverageCPUUtilization"
    assert loc["groups"]["gpu"]["metric"] == "ALBRequestCountPerTarget"
    assert asg["capacity_rebalance"] is True
    dist = asg["mixed_instances_policy"][0]["instances_distribution"][0]
    assert dist["spot_allocation_strategy"] == "price-capacity-optimized"
    assert loc["on_demand_base_capacity"] >= 1 and 0 < loc["on_demand_percentage_above_base_capacity"] < 100
    hook = asg["initial_lifecycle_hook"][0]
    assert hook["lifecycle_transition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    tg = res[("aws_lb_target_group", "group")]
    assert tg["health_check"][0]["path"] == "/readyz"
    b = compute_budget(5, loc["health_check_interval"], loc["unhealthy_threshold"], loc["drain_delay_s"],
                       loc["deregistration_delay"], 5, PROVIDER_NOTICE_S["aws"])
    assert b.fits, b.describe()
    lt = res[("aws_launch_template", "group")]
    assert lt["metadata_options"][0]["http_tokens"] == "required"
    rule = res[("aws_cloudwatch_event_rule", "interruptions")]
    assert "EC2 Spot Instance Interruption Warning" in rule["event_pattern"]
    assert ("aws_cloudwatch_event_target", "queue") in res and ("aws_autoscaling_policy", "target_tracking") in res


def test_packer_bakes_the_model_with_a_checksum():
    doc = hcl("packer/model-image.pkr.hcl")
    (build,) = doc["build"]
    inline = [line for p in build["provisioner"] for kind, body in p.items() if kind == "shell"
              for line in body["inline"]]
    assert any("sha256sum -c" in line for line in inline), inline
    assert {v for block in doc["variable"] for v in block} >= {"model_url", "model_sha256"}
    src = doc["source"][0]["amazon-ebs"]["model"]
    assert src["metadata_options"][0]["http_tokens"] == "required"
    unit = (INFRA / "packer/spot-agent.service").read_text()
    assert "spot_autoscaling.agent --" in unit and "TimeoutStopSec=60" in unit


# --- GCP and Azure ----------------------------------------------------------------------------------------------
def test_gcp_spot_mig_and_shutdown_script():
    doc = hcl("gcp/mig.tf")
    res = resources(doc)
    sched = res[("google_compute_instance_template", "spot")]["scheduling"][0]
    assert sched["provisioning_model"] == "SPOT" and sched["instance_termination_action"] == "DELETE"
    assert "shutdown-script" in res[("google_compute_instance_template", "spot")]["metadata"]
    assert ("google_compute_region_instance_group_manager", "spot") in res
    assert ("google_compute_region_instance_group_manager", "standard") in res  # the on-demand base
    loc = {k: v for block in doc["locals"] for k, v in block.items()}
    b = compute_budget(1, loc["health_check_interval"], loc["unhealthy_threshold"], loc["drain_delay_s"],
                       loc["longest_request_s"], 3, PROVIDER_NOTICE_S["gcp"])
    assert b.fits, b.describe()
    script = (INFRA / "gcp/shutdown.sh").read_text()
    m = re.search(r"timeout (\d+) ", script)
    assert m and int(m.group(1)) < 30  # the shutdown script ends inside the ~30 s notice


def test_azure_spot_vmss():
    res = resources(hcl("azure/vmss.tf"))
    vmss = res[("azurerm_orchestrated_virtual_machine_scale_set", "model")]
    assert vmss["priority"] == "Spot" and vmss["eviction_policy"] == "Delete" and vmss["max_bid_price"] == -1
    mix = vmss["priority_mix"][0]
    assert mix["base_regular_count"] >= 1 and 0 < mix["regular_percentage_above_base"] < 100
    assert vmss["termination_notification"][0]["enabled"] is True
    assert len(vmss["zones"]) >= 2


# --- Kubernetes -------------------------------------------------------------------------------------------------
K8S_VERSION = "1.33.0"


def test_kubernetes_manifests_validate_against_the_schemas():
    import kubernetes_validate

    docs = [d for f in ("deployment.yaml", "pdb.yaml") for d in yaml.safe_load_all((INFRA / "k8s" / f).read_text())]
    assert {d["kind"] for d in docs} == {"Deployment", "Service", "PodDisruptionBudget"}
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)  # raises ValidationError
    bad = yaml.safe_load((INFRA / "k8s/pdb.yaml").read_text())
    bad["spec"]["maxUnavailable"] = {"not": "valid"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_kubernetes_drain_fits_the_grace_period():
    dep = next(yaml.safe_load_all((INFRA / "k8s/deployment.yaml").read_text()))
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: float(e["value"]) for e in c["env"] if e["name"].endswith("_S")}
    pre = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    need = pre + env["ONNX_EMB_DRAIN_DELAY_S"] + env["ONNX_EMB_DRAIN_TIMEOUT_S"] + 5
    assert need <= pod["terminationGracePeriodSeconds"] <= PROVIDER_NOTICE_S["aws"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_karpenter_nodepool_key_fields():
    # a CRD: kubernetes-validate has no schema for it (SchemaNotFoundError); key fields checked here
    import kubernetes_validate

    np_ = yaml.safe_load((INFRA / "k8s/karpenter-nodepool.yaml").read_text())
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(np_, K8S_VERSION, strict=True)
    assert np_["apiVersion"] == "karpenter.sh/v1" and np_["kind"] == "NodePool"
    req = {r["key"]: r["values"] for r in np_["spec"]["template"]["spec"]["requirements"]}
    assert set(req["karpenter.sh/capacity-type"]) == {"spot", "on-demand"}
    assert len(req["karpenter.k8s.aws/instance-family"]) >= 3 and len(req["topology.kubernetes.io/zone"]) >= 2
    assert np_["spec"]["disruption"]["budgets"]


# --- SkyServe ---------------------------------------------------------------------------------------------------
def test_skyserve_yaml_loads_with_skypilots_parser():
    import sky

    task = sky.Task.from_yaml(str(INFRA / "skyserve/service.yaml"))
    spec = task.service
    assert spec.base_ondemand_fallback_replicas == 1 and spec.dynamic_ondemand_fallback is True
    assert spec.readiness_path == "/readyz" and spec.min_replicas >= 2
    assert all(r.use_spot for r in task.resources)
