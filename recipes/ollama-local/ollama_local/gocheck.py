"""Render templates with Go's own text/template (``go/render.go``) when a Go toolchain is installed.

The oracle for :mod:`ollama_local.gotemplate`: ``render.go`` executes a template the way Ollama does
(``missingkey=zero``, Ollama's ``json`` function, messages as a struct with ``api.Message``'s fields). It is built
offline (standard library only, ``GOPROXY=off``) into a temporary folder. Used by ``tests/test_go_oracle.py`` and
by the bench, which records the Go version it compared against.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

SOURCE = Path(__file__).resolve().parent / "go" / "render.go"
#: ``(exit code, stdout or stderr)`` of one rendering; exit 1 = Go's parse or execution error.
Renderer = Callable[[str, dict, list], tuple[int, str]]


def go_version() -> Optional[str]:
    """``go1.19.8``-style version of the ``go`` on PATH, or None when there is none."""
    go = shutil.which("go")
    if go is None:
        return None
    out = subprocess.run([go, "version"], capture_output=True, text=True, timeout=30).stdout.split()
    return out[2] if len(out) > 2 else "unknown"


def build(workdir: Optional[Path] = None) -> Renderer:
    """Compile ``render.go``; returns ``render(template, data, struct_keys)``. Raises ``RuntimeError``.

    ``struct_keys`` name the entries of ``data`` that are lists of ``{"role", "content"}`` dicts and become
    ``[]*Message`` on the Go side.
    """
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("Go toolchain not on PATH (apt-get install golang-go)")
    d = Path(workdir or tempfile.mkdtemp(prefix="ollama-local-go-"))
    env = {**os.environ, "GOCACHE": str(d / "cache"), "GOPATH": str(d / "path"), "GOPROXY": "off",
           "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}
    exe = d / "render"
    # built from the temporary folder: inside a git checkout without go.mod the go command asks for a module
    r = subprocess.run([go, "build", "-o", str(exe), str(SOURCE)], cwd=d, env=env, capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"go build failed: {r.stderr[-2000:]}")

    def render(template: str, data: dict[str, Any], struct_keys: list[str]) -> tuple[int, str]:
        p = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30,
                           input=json.dumps({"template": template, "data": data, "structs": struct_keys}))
        return p.returncode, p.stdout if p.returncode == 0 else p.stderr
    return render


def ollama_values(system_default: Optional[str], messages: list[dict]) -> dict[str, Any]:
    """The template values of Ollama's ``/api/chat`` (see ``chatcheck``), with messages as plain dicts."""
    from .chatcheck import collate

    msgs = list(messages)
    if msgs and msgs[0]["role"] != "system" and system_default:
        msgs = [{"role": "system", "content": system_default}] + msgs
    system, collated = collate(msgs)
    return {"System": system, "Messages": collated, "Tools": None, "Response": "", "Think": False,
            "ThinkLevel": "", "IsThinkSet": False}
