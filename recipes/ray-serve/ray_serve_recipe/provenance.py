"""Provenance for bench results: when, where, with what a number was produced.

This file is copied byte for byte into every recipe package as ``provenance.py``
(recipes are copyable and may import nothing from outside their folder). The repo
test ``tests/test_recipe_contract.py`` fails when a copy drifts from this template,
so edit the template and re-copy it: ``make sync-provenance``.

The results file a bench writes (``results/<bench>.json``) has this shape::

    {
      "schema": 1,
      "recipe": "onnx-embeddings",
      "title": "...",                  # what was measured, one line
      "date": "2026-11-21T20:15:03Z",  # UTC, ISO 8601
      "git_revision": "3f2c1ab" | "unknown",
      "versions": {"onnxruntime": "1.31.1", ...},  # every pin of requirements.txt, as installed
      "python": "3.11.7",
      "hardware": {"cpu": "...", "logical_cores": 2, "memory_gib": 23.4,
                   "gpu": null | "NVIDIA H100 80GB HBM3",
                   "load_avg_1m_at_start": 0.4, "load_avg_1m_at_end": 1.9},  # before / after the bench
      "model": {"name": "...", "file": "...", "sha256": "...", "bytes": 123},
      "conditions": "free text: threads, batch, concurrency, duration",
      "summary": "one line for the page's 'last verified' line",
      "tables": [{"title": "...", "columns": ["..."], "rows": [[...]], "note": "..."}],
      "plots": ["bench.png"],          # files next to the JSON
      "data": {...}                    # anything else, raw
    }

Benches run one at a time per machine: wrap a bench in :func:`bench_lock`, which holds an exclusive lock
on ``$COOKBOOK_BENCH_LOCK`` (default ``/tmp/cookbook-bench.lock``) and records the 1-minute load average
when the bench starts; :func:`stamp` called inside it records both that and the load at the end.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import importlib.metadata
import os
import platform
import re
import subprocess
import time as _time
from pathlib import Path
from typing import Any, Iterator

#: Load average when the bench now holding :func:`bench_lock` started (None outside a bench).
_LOAD_AT_START: list[float] = []

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def read_pins(requirements: Path) -> dict[str, str]:
    """Return ``{distribution name (lower-case, '-' separated): pinned version}``.

    Only ``name==version`` lines count; ``-r``/``--`` options and comments are skipped.
    Raises ``FileNotFoundError`` if the file is missing.
    """
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            pins[normalize(m.group(1))] = m.group(3)
    return pins


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions(names: list[str]) -> dict[str, str]:
    """Installed version of each distribution, or ``"not installed"``."""
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in ``chunk``-byte blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def git_revision(cwd: Path) -> str:
    """Short git revision of ``cwd`` (``+dirty`` if files outside ``results/`` changed), else ``"unknown"``."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        # the bench's own outputs (results/) do not make the code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", ":(exclude)results"], cwd=cwd,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def hardware() -> dict[str, Any]:
    """CPU model, logical cores, memory (GiB, from /proc/meminfo), GPU name (nvidia-smi) and 1-min load."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    gpu = None
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip().splitlines()[0] or None
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "gpu": gpu,
        "load_avg_1m_at_start": _LOAD_AT_START[-1] if _LOAD_AT_START else round(os.getloadavg()[0], 2),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
    }


@contextlib.contextmanager
def bench_lock(timeout_s: float | None = None) -> Iterator[float]:
    """Hold the machine-wide bench lock for the duration of a bench; yields the 1-min load at start.

    Two benches on one machine ruin each other's numbers (they share the cores), so a second bench waits
    here, up to ``timeout_s`` seconds (default ``$COOKBOOK_BENCH_LOCK_TIMEOUT_S`` or 3600), then raises
    ``TimeoutError``. The lock is an ``fcntl.flock`` on ``$COOKBOOK_BENCH_LOCK``
    (default ``/tmp/cookbook-bench.lock``): the kernel releases it when the process exits, even on a crash.
    """
    path = Path(os.environ.get("COOKBOOK_BENCH_LOCK", "/tmp/cookbook-bench.lock"))
    limit = timeout_s if timeout_s is not None else float(os.environ.get("COOKBOOK_BENCH_LOCK_TIMEOUT_S", 3600))
    with open(path, "a+") as fh:
        deadline = _time.monotonic() + limit
        announced = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    fh.seek(0)
                    print(f"bench lock {path} held by: {fh.read().strip() or '?'}; waiting", flush=True)
                    announced = True
                if _time.monotonic() > deadline:
                    raise TimeoutError(f"another bench held {path} for more than {limit:g} s") from None
                _time.sleep(1)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} cwd {os.getcwd()}\n")
        fh.flush()
        load = round(os.getloadavg()[0], 2)
        _LOAD_AT_START.append(load)
        try:
            yield load
        finally:
            _LOAD_AT_START.pop()
            fcntl.flock(fh, fcntl.LOCK_UN)


def stamp(recipe_dir: Path, **fields: Any) -> dict[str, Any]:
    """Return a results dict with the provenance fields filled in, plus ``fields``.

    ``versions`` holds the installed version of every package pinned in
    ``recipe_dir/requirements.txt``; the repo's contract test compares them with the pins.
    """
    pins = read_pins(recipe_dir / "requirements.txt")
    return {
        "schema": 1,
        "recipe": recipe_dir.resolve().name,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_revision": git_revision(recipe_dir),
        "versions": installed_versions(sorted(pins)),
        "python": platform.python_version(),
        "hardware": hardware(),
        **fields,
    }
