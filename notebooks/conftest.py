"""nbmake has no GPU skip: notebooks whose metadata says ``"cookbook": {"gpu": true}`` are skipped
with a reason when no CUDA device is visible (``nvidia-smi -L`` lists none)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest


def _has_cuda() -> bool:
    if not shutil.which("nvidia-smi"):
        return False
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    return out.returncode == 0 and "GPU" in out.stdout


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = getattr(item, "path", None)
        if path is None or path.suffix != ".ipynb":
            continue
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("cookbook", {})
        if meta.get("gpu") and not _has_cuda():
            item.add_marker(pytest.mark.skip(reason=f"{path.name} needs a CUDA GPU (nvidia-smi lists none)"))
