"""AWS control-plane calls: finish the ASG termination lifecycle hook, read EventBridge interruption warnings.

Both are tested against moto, which checks the API *shape* only: moto does not simulate spot capacity or
interruptions (FEASIBILITY.md, "Spot autoscaling pieces").
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional

log = logging.getLogger("spot_autoscaling.lifecycle")

#: ``detail-type`` of the EventBridge event EC2 sends two minutes before a Spot interruption.
SPOT_WARNING = "EC2 Spot Instance Interruption Warning"
REBALANCE = "EC2 Instance Rebalance Recommendation"


def complete_lifecycle_action(asg_name: str, hook_name: str, instance_id: str, region: Optional[str] = None,
                              endpoint_url: Optional[str] = None, result: str = "CONTINUE",
                              client: Any = None) -> dict[str, Any]:
    """Call ``autoscaling:CompleteLifecycleAction`` so the group terminates the instance now, not at the timeout.

    ``result``: ``CONTINUE`` or ``ABANDON`` (for a termination hook both end in termination). Credentials come
    from the instance profile (boto3's default chain). Raises ``botocore.exceptions.ClientError`` /
    ``BotoCoreError`` on failure. Returns the API response (a dict). ``client``: an ``autoscaling`` client to
    use instead of a new one.
    """
    if client is None:
        import boto3  # imported here: the agent needs boto3 only when a lifecycle hook is configured

        client = boto3.client("autoscaling", region_name=region, endpoint_url=endpoint_url)
    resp = client.complete_lifecycle_action(LifecycleHookName=hook_name, AutoScalingGroupName=asg_name,
                                            InstanceId=instance_id, LifecycleActionResult=result)
    log.info("lifecycle hook %s of %s completed for %s (%s)", hook_name, asg_name, instance_id, result)
    return resp


def parse_event(body: str | dict[str, Any]) -> Optional[tuple[str, str]]:
    """``(kind, instance_id)`` of an EventBridge EC2 event (as delivered to SQS), else ``None``.

    ``kind`` is ``interruption`` for "EC2 Spot Instance Interruption Warning" and ``rebalance`` for
    "EC2 Instance Rebalance Recommendation". Event shape:
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
    """
    ev = json.loads(body) if isinstance(body, str) else body
    kind = {SPOT_WARNING: "interruption", REBALANCE: "rebalance"}.get(ev.get("detail-type", ""))
    iid = (ev.get("detail") or {}).get("instance-id")
    return (kind, iid) if kind and iid else None


def drain_queue(sqs, queue_url: str, on_event: Callable[[str, str], None], max_batches: int = 10) -> int:
    """Read interruption events from an SQS queue (EventBridge target), call ``on_event(kind, instance_id)``
    for each, delete handled messages. Returns how many events were handled. Use it from a controller outside the
    instances (e.g. to deregister a target early); the on-instance agent polls IMDS instead.
    """
    handled = 0
    for _ in range(max_batches):
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            parsed = parse_event(m["Body"])
            if parsed:
                on_event(*parsed)
                handled += 1
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return handled
