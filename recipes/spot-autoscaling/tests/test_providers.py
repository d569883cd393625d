"""The pollers against the metadata emulator, which serves the providers' documented responses."""

from __future__ import annotations

import threading
import time

import httpx

from spot_autoscaling.providers import AwsImds, AzureScheduledEvents, GcpMetadata


def test_aws_imdsv2_token_is_required(emulator):
    assert httpx.get(f"{emulator.url}/latest/meta-data/spot/instance-action").status_code == 401
    assert httpx.put(f"{emulator.url}/latest/api/token").status_code == 400  # TTL header missing
    p = AwsImds(emulator.url, token_ttl_s=60)
    assert p.poll() == []  # 404: no notice
    assert emulator.hits["PUT /latest/api/token"] == 2 and p.instance_id() == emulator.instance_id
    p.poll()
    assert emulator.hits["PUT /latest/api/token"] == 2  # the token is reused


def test_aws_token_refresh_on_401(emulator):
    p = AwsImds(emulator.url, token_ttl_s=60)
    p.poll()
    emulator.tokens.clear()  # e.g. the token expired
    assert p.poll() == []
    assert emulator.hits["PUT /latest/api/token"] == 2  # one new token after the 401


def test_aws_interruption_rebalance_and_lifecycle(emulator):
    p = AwsImds(emulator.url)
    deadline = emulator.aws_interrupt(120)
    emulator.aws_rebalance()
    emulator.aws_lifecycle("Terminated")
    kinds = {n.kind: n for n in p.poll()}
    assert set(kinds) == {"interruption", "rebalance", "scale-in"}
    assert kinds["interruption"].deadline == deadline
    assert 118 <= kinds["interruption"].seconds_left() <= 120
    assert "terminate" in kinds["interruption"].detail


def test_gcp_long_poll_wakes_on_preemption(emulator):
    p = GcpMetadata(emulator.url, wait_s=5)
    assert p.poll() == []  # first call: immediate
    assert httpx.get(f"{emulator.url}/computeMetadata/v1/instance/preempted").status_code == 403  # no header
    threading.Timer(0.3, emulator.gcp_preempt).start()
    t0 = time.monotonic()
    notices = p.poll()  # hangs until the value changes
    waited = time.monotonic() - t0
    assert [n.kind for n in notices] == ["interruption"] and 0.2 < waited < 2
    assert 29 <= notices[0].seconds_left() <= 30


def test_azure_preempt_and_ack(emulator):
    p = AzureScheduledEvents(emulator.url)
    assert p.poll() == []
    assert httpx.get(f"{emulator.url}/metadata/scheduledevents?api-version=2020-07-01").status_code == 400
    eid = emulator.azure_preempt(30)
    emulator.vm_name, other = "vmss_0", None
    (n,) = p.poll()
    assert n.kind == "interruption" and n.event_id == eid and 28 <= n.seconds_left() <= 30
    p.ack(eid)
    assert emulator.azure_acks == [eid] and p.poll() == []


def test_azure_ignores_other_vms_events(emulator):
    p = AzureScheduledEvents(emulator.url)
    emulator.azure_preempt(30)
    emulator.azure_events[0]["Resources"] = ["vmss_7"]
    assert p.poll() == []


def test_unreachable_metadata_raises_http_error():
    p = AwsImds("http://127.0.0.1:9", timeout_s=0.2)
    try:
        p.poll()
    except httpx.HTTPError:
        pass
    else:
        raise AssertionError("expected an httpx.HTTPError")
