"""spot-autoscaling: an interruption agent for spot/preemptible VMs, plus the harness that proves it.

Modules:

- ``settings``  – ``SPOT_*`` settings of the agent (plain data, imports nothing else of the recipe).
- ``budget``    – the timing budget (poll + LB detection + drain delay + longest request ≤ notice).
- ``providers`` – metadata pollers: AWS IMDSv2, GCP metadata server, Azure Scheduled Events.
- ``agent``     – ``python -m spot_autoscaling.agent -- <server command>``: wraps a model server, drains it on
  notice, completes the ASG lifecycle hook / acknowledges the Azure event.
- ``lifecycle`` – ASG ``complete-lifecycle-action`` and the EventBridge → SQS interruption-warning handler (boto3).
- ``emulator``  – a local metadata-service emulator serving the providers' documented responses (tests/bench only).
- ``chaos``     – HAProxy + replicas + reclaimer + load: the chaos harness used by the tests and the bench.
- ``cost``      – the expected-cost calculator behind the notebook and the page's table.
- ``bench``     – ``make bench``: writes ``results/chaos.json``, ``results/cost.json`` and the plot.
"""
