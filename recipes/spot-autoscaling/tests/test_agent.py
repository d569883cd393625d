"""The agent's control flow, in-process, against the metadata emulator.

The child here is a small stand-in process that records the signal it gets and exits 0 after a short "drain":
these tests check what the agent does (signals, hook, acknowledgement, rebalance policy), not serving. Serving
through a reclaim, with the real model server, is tests/test_chaos.py.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

from spot_autoscaling import agent as agent_mod
from spot_autoscaling.agent import Agent
from spot_autoscaling.settings import AgentSettings

CHILD = ("import signal, sys, time, pathlib\n"
         "out = pathlib.Path(sys.argv[1])\n"
         "def term(sig, frame):\n"
         "    out.write_text('SIGTERM'); time.sleep(0.3); sys.exit(0)\n"
         "signal.signal(signal.SIGTERM, term)\n"
         "out.write_text('started')\n"
         "time.sleep(60)\n")


def make_agent(tmp_path, **kw) -> tuple[Agent, object]:
    marker = tmp_path / "child.txt"
    s = AgentSettings(poll_interval_s=0.1, lb_check_interval_s=0.1, lb_unhealthy_threshold=2, drain_delay_s=0.2,
                      drain_timeout_s=1, margin_s=0.1, notice_s=5, **kw)
    return Agent(s, [sys.executable, "-c", CHILD, str(marker)]), marker


def run_in_thread(a: Agent) -> dict:
    box: dict = {}
    # signal handlers can only be installed from the main thread: run the loop here without them
    a.check_budget()
    a.start()
    def loop():
        while True:
            if a.child.poll() is not None:
                box["rc"] = a.child.returncode
                return
            n = a.pick(a.poll_once())
            if n is not None:
                box["notice"] = n
                box["rc"] = a.drain(n)
                return
            time.sleep(a.s.poll_interval_s)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    box["thread"] = t
    return box


def wait_started(marker, timeout=10):
    t0 = time.time()
    while not (marker.exists() and marker.read_text()):
        assert time.time() - t0 < timeout, "child did not start"
        time.sleep(0.05)


def test_aws_notice_sigterms_the_server_and_completes_the_hook(tmp_path, emulator, monkeypatch, caplog):
    calls = []
    from spot_autoscaling import lifecycle
    monkeypatch.setattr(lifecycle, "complete_lifecycle_action", lambda *a, **k: calls.append(a) or {})
    a, marker = make_agent(tmp_path, provider="aws", aws_imds_url=emulator.url, asg_name="spot-serving-cpu",
                           lifecycle_hook_name="drain-before-terminate")
    box = run_in_thread(a)
    wait_started(marker)
    time.sleep(0.3)
    assert marker.read_text() == "started"  # no notice yet: nothing happens
    emulator.aws_interrupt(120)
    box["thread"].join(10)
    assert box["rc"] == 0 and marker.read_text() == "SIGTERM"
    assert box["notice"].kind == "interruption"
    assert calls == [("spot-serving-cpu", "drain-before-terminate", emulator.instance_id, emulator.region, None)]


def test_scale_in_lifecycle_state_drains(tmp_path, emulator):
    a, marker = make_agent(tmp_path, provider="aws", aws_imds_url=emulator.url)
    box = run_in_thread(a)
    wait_started(marker)
    emulator.aws_lifecycle("Terminated")
    box["thread"].join(10)
    assert box["notice"].kind == "scale-in" and marker.read_text() == "SIGTERM"


@pytest.mark.parametrize("action", ["log", "drain"])
def test_rebalance_policy(tmp_path, emulator, action, caplog):
    a, marker = make_agent(tmp_path, provider="aws", aws_imds_url=emulator.url, rebalance_action=action)
    box = run_in_thread(a)
    wait_started(marker)
    caplog.set_level("INFO")
    emulator.aws_rebalance()
    box["thread"].join(1.5)
    if action == "log":
        assert "notice" not in box and marker.read_text() == "started"
        assert "rebalance recommendation" in caplog.text and "logging only" in caplog.text
        a.child.terminate()
        a.child.wait(5)
    else:
        assert box["notice"].kind == "rebalance" and marker.read_text() == "SIGTERM"


def test_short_notice_is_reported(tmp_path, emulator, caplog):
    caplog.set_level("INFO")
    a, marker = make_agent(tmp_path, provider="aws", aws_imds_url=emulator.url)
    box = run_in_thread(a)
    wait_started(marker)
    emulator.aws_interrupt(0.5)
    box["thread"].join(10)
    assert "notice shorter than the drain needs" in caplog.text
    assert box["rc"] == 0  # it still drains as far as time allows


def test_gcp_preempted(tmp_path, emulator):
    a, marker = make_agent(tmp_path, provider="gcp", gcp_metadata_url=emulator.url)
    box = run_in_thread(a)
    wait_started(marker)
    emulator.gcp_preempt()
    box["thread"].join(10)
    assert box["notice"].provider == "gcp" and marker.read_text() == "SIGTERM"


def test_azure_preempt_is_acknowledged_after_the_drain(tmp_path, emulator):
    a, marker = make_agent(tmp_path, provider="azure", azure_metadata_url=emulator.url)
    box = run_in_thread(a)
    wait_started(marker)
    eid = emulator.azure_preempt(30)
    box["thread"].join(10)
    assert marker.read_text() == "SIGTERM" and emulator.azure_acks == [eid]


def test_child_env_carries_the_drain_settings():
    a = Agent(AgentSettings(server_env_prefix="ONNX_EMB_", drain_delay_s=7, drain_timeout_s=20), ["true"])
    env = a.child_env()
    assert env["ONNX_EMB_DRAIN_DELAY_S"] == "7" and env["ONNX_EMB_DRAIN_TIMEOUT_S"] == "20"


def test_agent_exits_with_the_servers_status(tmp_path, emulator, monkeypatch):
    monkeypatch.setenv("SPOT_AWS_IMDS_URL", emulator.url)
    monkeypatch.setenv("SPOT_POLL_INTERVAL_S", "0.1")
    assert agent_mod.main(["--", sys.executable, "-c", "import sys; sys.exit(3)"]) == 3


def test_os_shutdown_during_a_drain_does_not_cut_it(tmp_path, emulator, caplog):
    """GCP: the agent drains on `preempted`, then the shutdown script stops the unit (SIGTERM to the agent)."""
    import signal as sig

    caplog.set_level("INFO")
    a, marker = make_agent(tmp_path, provider="aws", aws_imds_url=emulator.url)
    box = run_in_thread(a)
    wait_started(marker)
    emulator.aws_interrupt(120)
    t0 = time.time()
    while not a._draining:
        assert time.time() - t0 < 5
        time.sleep(0.01)
    a.on_signal(sig.SIGTERM, None)  # what the OS shutdown delivers to the agent
    box["thread"].join(10)
    assert box["rc"] == 0 and marker.read_text() == "SIGTERM"  # the child drained normally (its 0.3 s)
    assert "letting the drain finish" in caplog.text


def test_signal_without_notice_is_forwarded(tmp_path, emulator):
    import signal as sig

    a, marker = make_agent(tmp_path, provider="aws", aws_imds_url=emulator.url)
    a.check_budget()
    a.start()
    wait_started(marker)
    a.on_signal(sig.SIGTERM, None)
    assert a.child.wait(10) == 0 and marker.read_text() == "SIGTERM"
