"""AWS API shape only: moto does not simulate spot capacity or interruptions.

What moto 5.2.5 checks here: that the Auto Scaling group of infra/aws/cloudformation.yaml (MixedInstancesPolicy,
Capacity Rebalancing, the termination lifecycle hook, target tracking) is accepted by the API, and that an
"EC2 Spot Instance Interruption Warning" put on EventBridge under our rule's pattern reaches the SQS queue and is
handled by ``lifecycle.drain_queue``. moto does not implement ``CompleteLifecycleAction`` (it raises
NotImplementedError), so that call is checked against botocore's own service model with ``botocore.stub.Stubber``.
"""

from __future__ import annotations

import json

import boto3
import yaml
from botocore.stub import Stubber

from spot_autoscaling import lifecycle

from .conftest import RECIPE_DIR


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else
    loader.construct_mapping(node) if isinstance(node, yaml.MappingNode) else loader.construct_scalar(node)))


def template() -> dict:
    """infra/aws/cloudformation.yaml with intrinsic functions loaded as plain values."""
    return yaml.load((RECIPE_DIR / "infra/aws/cloudformation.yaml").read_text(), Loader=_CfnLoader)


def test_asg_from_the_template_is_accepted(moto_url):
    res = template()["Resources"]
    ec2 = boto3.client("ec2", endpoint_url=moto_url)
    asg = boto3.client("autoscaling", endpoint_url=moto_url)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
               ["Subnet"]["SubnetId"] for i, z in enumerate("abc")]
    lt = ec2.create_launch_template(LaunchTemplateName="cpu", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "MetadataOptions": res["CpuLaunchTemplate"]["Properties"]["LaunchTemplateData"]
        ["MetadataOptions"]})["LaunchTemplate"]["LaunchTemplateId"]
    p = res["CpuGroup"]["Properties"]
    mip = p["MixedInstancesPolicy"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="spot-serving-cpu", MinSize=2, MaxSize=12, DesiredCapacity=4,
        VPCZoneIdentifier=",".join(subnets), CapacityRebalance=p["CapacityRebalance"],
        MixedInstancesPolicy={
            "InstancesDistribution": mip["InstancesDistribution"],
            "LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateId": lt, "Version": "$Latest"},
                               "Overrides": mip["LaunchTemplate"]["Overrides"]}},
        LifecycleHookSpecificationList=p["LifecycleHookSpecificationList"])
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["spot-serving-cpu"])["AutoScalingGroups"][0]
    dist = g["MixedInstancesPolicy"]["InstancesDistribution"]
    assert dist["SpotAllocationStrategy"] == "price-capacity-optimized" and dist["OnDemandBaseCapacity"] == 1
    assert g["CapacityRebalance"] is True
    for hook in p["LifecycleHookSpecificationList"]:  # moto keeps hooks put separately, not those given at create
        asg.put_lifecycle_hook(AutoScalingGroupName="spot-serving-cpu", **hook)
    hooks = asg.describe_lifecycle_hooks(AutoScalingGroupName="spot-serving-cpu")["LifecycleHooks"]
    assert hooks[0]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    pol = res["CpuScaling"]["Properties"]
    asg.put_scaling_policy(AutoScalingGroupName="spot-serving-cpu", PolicyName="cpu-target",
                           PolicyType=pol["PolicyType"], TargetTrackingConfiguration=pol["TargetTrackingConfiguration"])
    assert asg.describe_policies(AutoScalingGroupName="spot-serving-cpu")["ScalingPolicies"][0]["PolicyType"] \
        == "TargetTrackingScaling"


def test_eventbridge_rule_delivers_the_interruption_warning_to_sqs(moto_url):
    rule = template()["Resources"]["InterruptionRule"]["Properties"]
    events = boto3.client("events", endpoint_url=moto_url)
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    q = sqs.create_queue(QueueName="interruptions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="spot-interruptions", EventPattern=json.dumps(rule["EventPattern"]))
    events.put_targets(Rule="spot-interruptions", Targets=[{"Id": "q", "Arn": arn}])
    # the documented event (spot-instance-termination-notices.html), and one the rule must not match
    detail = {"instance-id": "i-1234567890abcdef0", "instance-action": "terminate"}
    events.put_events(Entries=[
        {"Source": "aws.ec2", "DetailType": "EC2 Spot Instance Interruption Warning", "Detail": json.dumps(detail)},
        {"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification",
         "Detail": json.dumps({"instance-id": "i-0", "state": "running"})}])
    seen = []
    assert lifecycle.drain_queue(sqs, q, lambda kind, iid: seen.append((kind, iid))) == 1
    assert seen == [("interruption", "i-1234567890abcdef0")]
    assert sqs.receive_message(QueueUrl=q).get("Messages") is None  # handled messages are deleted


def test_complete_lifecycle_action_matches_the_api_model():
    client = boto3.client("autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("complete_lifecycle_action", {}, {
            "LifecycleHookName": "drain-before-terminate", "AutoScalingGroupName": "spot-serving-cpu",
            "InstanceId": "i-1234567890abcdef0", "LifecycleActionResult": "CONTINUE"})
        lifecycle.complete_lifecycle_action("spot-serving-cpu", "drain-before-terminate", "i-1234567890abcdef0",
                                            client=client)
        stub.assert_no_pending_responses()


def test_parse_event_ignores_other_events():
    assert lifecycle.parse_event({"detail-type": "EC2 Instance Rebalance Recommendation",
                                  "detail": {"instance-id": "i-9"}}) == ("rebalance", "i-9")
    assert lifecycle.parse_event('{"detail-type": "Something else", "detail": {}}') is None
