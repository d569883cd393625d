"""Benches cannot overlap: ``provenance.bench_lock`` (cookbook/provenance_template.py, vendored into every
recipe) holds a machine-wide lock, and a result stamped inside it records the load before and after."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from cookbook import provenance_template as provenance

HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from cookbook import provenance_template as p
with p.bench_lock():
    print("held", flush=True)
    time.sleep(3)
"""


def test_a_second_bench_waits_then_gives_up(tmp_path, monkeypatch):
    lock = tmp_path / "bench.lock"
    monkeypatch.setenv("COOKBOOK_BENCH_LOCK", str(lock))
    from cookbook.catalog import ROOT

    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT))], stdout=subprocess.PIPE,
                              text=True, env={"COOKBOOK_BENCH_LOCK": str(lock), "PATH": "/usr/bin:/bin"})
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="another bench held"):
            with provenance.bench_lock(timeout_s=1.0):
                pass
        assert 0.9 < time.monotonic() - t0 < 3.0
        holder.wait(10)
        with provenance.bench_lock(timeout_s=5.0) as load:  # free again once the holder exited
            hw = provenance.hardware()
            assert hw["load_avg_1m_at_start"] == load
            assert "load_avg_1m_at_end" in hw
    finally:
        holder.kill()
