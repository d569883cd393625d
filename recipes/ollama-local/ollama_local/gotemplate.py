"""A small interpreter for the subset of Go ``text/template`` that Ollama Modelfile templates use.

Why it exists: Ollama renders a model's ``TEMPLATE`` with Go's ``text/template`` (``template/template.go`` in
github.com/ollama/ollama), and the question this recipe's tests answer without an Ollama binary is "does the
Modelfile's TEMPLATE produce the same prompt as the GGUF's own Jinja chat template?". No usable Go-template
renderer installs from PyPI here: ``go-template`` 0.0.3 bundles a Go 1.11.5 runtime without the ``slice``
builtin (added in Go 1.13, used by Ollama templates to find the last message) and aborts the Python process on
any template error; ``cognihub-pygotemplate`` has no installable distribution for this platform. So this file
implements exactly what the recipe's Modelfile needs, with Go's semantics (https://pkg.go.dev/text/template):

* text and actions ``{{ ... }}``, trim markers ``{{- `` / `` -}}`` (they remove all adjacent spaces, tabs,
  CR and LF), comments ``{{/* ... */}}``;
* ``if`` / ``else if`` / ``else`` / ``end``, ``range`` (with ``$i, $e :=`` / ``$e :=`` / no variables, and
  ``else``), ``with``;
* variables ``$``, ``$x := ...``, ``$x = ...``, scoped to the enclosing control structure as in Go;
* fields ``.A.B``, ``$x.A``, ``(pipeline).A``, pipelines with ``|``, parentheses, string/number/bool literals;
* functions ``and or not eq ne lt le gt ge len index slice print printf`` (Go builtins; ``and``/``or`` short-
  circuit as since Go 1.18) and ``json`` (Ollama's own, ``json.Marshal``).

Anything else raises :class:`TemplateError` (rather than rendering something Ollama would not). Data model:
``dict`` is a Go ``map[string]any`` rendered with ``missingkey=zero`` as Ollama does (a missing key is nil and
prints ``<no value>``); :class:`Struct` is a Go struct such as ``api.Message`` (an unknown field is an error).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

__all__ = ["TemplateError", "Struct", "parse", "render"]

_WS = " \t\r\n"


class TemplateError(ValueError):
    """A template that does not parse, or fails while executing (Go returns an error in both cases)."""


class Struct:
    """A Go struct value: fixed field names; reading a field it does not have is an error, as in Go.

    ``Struct("api.Message", Role="user", Content="hi")``; field names are Go's (capitalised).
    """

    def __init__(self, type_name: str, **fields: Any) -> None:
        self._type, self._fields = type_name, dict(fields)

    def field(self, name: str) -> Any:
        """Value of field ``name``; raises :class:`TemplateError` if the struct has no such field."""
        if name not in self._fields:
            raise TemplateError(f"can't evaluate field {name} in type {self._type}")
        return self._fields[name]

    def __repr__(self) -> str:
        return f"{self._type}{self._fields}"


# ----------------------------------------------------------------------------------------------- lexing
@dataclass
class _Action:
    body: str
    line: int


def _split(src: str) -> list[Any]:
    """Text and actions, trim markers applied: ``[str | _Action, ...]``."""
    out: list[Any] = []
    i, trim_next = 0, False
    while True:
        j = src.find("{{", i)
        text = src[i:] if j < 0 else src[i:j]
        if trim_next:
            text = text.lstrip(_WS)
        if j < 0:
            out.append(text)
            return out
        k = j + 2
        if src.startswith("-", k) and k + 1 < len(src) and src[k + 1] in _WS:
            text, k = text.rstrip(_WS), k + 1
        out.append(text)
        end = _find_close(src, k)
        body = src[k:end]
        trim_next = len(body) >= 2 and body.endswith("-") and body[-2] in _WS
        if trim_next:
            body = body[:-1]
        out.append(_Action(body, src.count("\n", 0, j) + 1))
        i = end + 2


def _find_close(src: str, k: int) -> int:
    """Index of the ``}}`` closing the action that starts at ``k`` (quotes respected)."""
    i = k
    while i < len(src):
        c = src[i]
        if src.startswith("}}", i):
            return i
        if c == '"':
            i += 1
            while i < len(src) and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
        elif c == "`":
            i = src.find("`", i + 1)
            if i < 0:
                break
        elif src.startswith("/*", i):
            i = src.find("*/", i + 2)
            if i < 0:
                break
            i += 1
        i += 1
    raise TemplateError(f"unclosed action starting at offset {k - 2}")


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()|,])
""", re.X)


def _tokens(body: str, line: int) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(body):
        m = _TOKEN.match(body, i)
        if not m:
            raise TemplateError(f"line {line}: unexpected {body[i:i + 10]!r} in action")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
        i = m.end()
    return out


# ---------------------------------------------------------------------------------------------- parsing
@dataclass
class _Pipe:
    decl: list[str]
    assign: bool
    cmds: list[list[Any]]  # each command: operands; operand = ("lit", v) | ("field", base, names) | ...


@dataclass
class _Node:
    kind: str  # text | action | if | range | with
    text: str = ""
    pipe: Optional[_Pipe] = None
    body: list["_Node"] = field(default_factory=list)
    orelse: list["_Node"] = field(default_factory=list)


class _Parser:
    def __init__(self, src: str) -> None:
        self.items = _split(src)
        self.pos = 0

    def parse(self) -> list[_Node]:
        nodes, stop = self._list()
        if stop is not None:
            raise TemplateError(f"line {stop[1]}: unexpected {{{{{stop[0]}}}}}")
        return nodes

    def _list(self) -> tuple[list[_Node], Optional[tuple[str, int, list]]]:
        """Nodes up to an ``else``/``end`` (returned as the stop marker) or the end of input."""
        nodes: list[_Node] = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            if isinstance(item, str):
                if item:
                    nodes.append(_Node("text", text=item))
                continue
            body = item.body.strip()
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    raise TemplateError(f"line {item.line}: unclosed comment")
                continue
            toks = _tokens(body, item.line)
            if not toks:
                raise TemplateError(f"line {item.line}: missing value for command")
            head = toks[0][1] if toks[0][0] == "ident" else ""
            if head in ("end", "else"):
                return nodes, (head, item.line, toks[1:])
            if head in ("if", "range", "with"):
                nodes.append(self._control(head, toks[1:], item.line))
            elif head in ("define", "template", "block", "break", "continue"):
                raise TemplateError(f"line {item.line}: {head!r} is outside the supported subset")
            else:
                nodes.append(_Node("action", pipe=_pipeline(toks, item.line)))
        return nodes, None

    def _control(self, kind: str, toks: list, line: int) -> _Node:
        node = _Node(kind, pipe=_pipeline(toks, line))
        node.body, stop = self._list()
        if stop is None:
            raise TemplateError(f"line {line}: unexpected EOF: {{{{{kind}}}}} has no {{{{end}}}}")
        if stop[0] == "else":
            rest = stop[2]
            if rest and rest[0] == ("ident", "if") and kind == "if":
                # {{else if x}} ... {{end}}: a nested if that shares the outer {{end}}
                node.orelse = [self._control("if", rest[1:], stop[1])]
                return node
            if rest:
                raise TemplateError(f"line {stop[1]}: unexpected tokens after else")
            node.orelse, stop = self._list()
            if stop is None or stop[0] != "end":
                raise TemplateError(f"line {line}: expected {{{{end}}}}")
        return node


def _pipeline(toks: list, line: int) -> _Pipe:
    decl, assign = [], False
    # declarations: $a := / $a, $b := / $a =
    for n in (3, 1):
        if len(toks) > n and all(t[0] == "var" for t in toks[:n:2]) and (n == 1 or toks[1] == ("punct", ",")) \
                and toks[n][0] in ("decl", "assign"):
            decl, assign, toks = [t[1] for t in toks[:n:2]], toks[n][0] == "assign", toks[n + 1:]
            break
    cmds: list[list[Any]] = [[]]
    i = 0

    def operand(i: int) -> tuple[Any, int]:
        kind, val = toks[i]
        if kind == "punct" and val == "(":
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                depth += {"(": 1, ")": -1}.get(toks[j][1], 0) if toks[j][0] == "punct" else 0
                j += 1
            if depth:
                raise TemplateError(f"line {line}: unclosed left paren")
            inner = _pipeline(toks[i + 1:j - 1], line)
            op: Any = ("pipe", inner)
            if j < len(toks) and toks[j][0] == "field":
                op, j = ("chain", op, toks[j][1][1:].split(".")), j + 1
            return op, j
        if kind == "str":
            return ("lit", ast.literal_eval(val)), i + 1
        if kind == "raw":
            return ("lit", val[1:-1]), i + 1
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val)), i + 1
        if kind == "dot":
            return ("dot",), i + 1
        if kind == "field":
            return ("chain", ("dot",), val[1:].split(".")), i + 1
        if kind == "var":
            name = val
            if i + 1 < len(toks) and toks[i + 1][0] == "field":
                return ("chain", ("var", name), toks[i + 1][1][1:].split(".")), i + 2
            return ("var", name), i + 1
        if kind == "ident":
            if val in ("true", "false"):
                return ("lit", val == "true"), i + 1
            if val == "nil":
                return ("lit", None), i + 1
            if val not in _FUNCS:
                raise TemplateError(f'line {line}: function "{val}" not defined')
            return ("func", val), i + 1
        raise TemplateError(f"line {line}: unexpected {val!r}")

    while i < len(toks):
        if toks[i] == ("punct", "|"):
            if not cmds[-1]:
                raise TemplateError(f"line {line}: missing command before |")
            cmds.append([])
            i += 1
            continue
        op, i = operand(i)
        cmds[-1].append(op)
    if not cmds[-1]:
        raise TemplateError(f"line {line}: missing value for command")
    return _Pipe(decl, assign, cmds)


# -------------------------------------------------------------------------------------------- executing
def _truth(v: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings/slices/maps are false; structs are true."""
    if v is None:
        return False
    if isinstance(v, Struct):
        return True
    if isinstance(v, (bool, int, float)):
        return bool(v)
    return len(v) > 0


def _basic(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(a: Any, *bs: Any) -> bool:
    if not bs:
        raise TemplateError("missing argument for comparison")
    for b in bs:
        if a is None or b is None:
            if a is None and b is None:
                return True
            continue
        ka, kb = _basic(a), _basic(b)
        if "other" in (ka, kb):
            raise TemplateError("non-comparable type in eq")
        if ka != kb and {ka, kb} != {"int", "float"}:
            raise TemplateError("incompatible types for comparison")
        if a == b:
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def cmp(a: Any, b: Any) -> bool:
        ka, kb = _basic(a), _basic(b)
        if "other" in (ka, kb) or "bool" in (ka, kb):
            raise TemplateError("invalid type for comparison")
        if ka != kb and {ka, kb} != {"int", "float"}:
            raise TemplateError("incompatible types for comparison")
        return op(a, b)
    return cmp


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8"))  # Go's len counts bytes
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise TemplateError(f"len of type {type(v).__name__}")


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, (list, tuple)):
            if not isinstance(k, int) or not 0 <= k < len(v):
                raise TemplateError(f"error calling index: index out of range: {k}")
            v = v[k]
        elif isinstance(v, dict):
            v = v.get(k)
        else:
            raise TemplateError("can't index item")
    return v


def _slice(v: Any, *idx: Any) -> Any:
    if not isinstance(v, (list, tuple, str)):
        raise TemplateError("can't slice item")
    if len(idx) > 2:
        raise TemplateError("too many slice indexes")
    n = len(v.encode()) if isinstance(v, str) else len(v)
    lo = idx[0] if idx else 0
    hi = idx[1] if len(idx) > 1 else n
    if not (isinstance(lo, int) and isinstance(hi, int)) or not 0 <= lo <= hi <= n:
        raise TemplateError(f"error calling slice: index out of range: {lo}")
    if isinstance(v, str):
        return v.encode()[lo:hi].decode("utf-8", "replace")
    return list(v[lo:hi])


def _fmt(v: Any) -> str:
    """Go's default formatting (``fmt.Sprint``) for the value kinds used here."""
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_fmt(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, Struct):
        return "{" + " ".join(_fmt(x) for x in v._fields.values()) + "}"
    return str(v)


def _print(*args: Any) -> str:
    # fmt.Sprint adds spaces between operands when neither is a string
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _fmt(a)
    return out


def _printf(f: str, *args: Any) -> str:
    it = iter(args)

    def sub(m: re.Match) -> str:
        if m.group() == "%%":
            return "%"
        return _fmt(next(it)) if m.group(1) in "svd" else m.group()
    return re.sub(r"%([svd%])", sub, f)


def _json(v: Any) -> str:
    def conv(x: Any) -> Any:
        if isinstance(x, Struct):
            return {k: conv(y) for k, y in x._fields.items()}
        if isinstance(x, (list, tuple)):
            return [conv(y) for y in x]
        if isinstance(x, dict):
            return {k: conv(y) for k, y in x.items()}
        return x
    # Go's json.Marshal escapes <, > and & (HTML safety) and U+2028/U+2029, and keeps other non-ASCII text as UTF-8
    out = json.dumps(conv(v), separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        out = out.replace(ch, esc)
    return out


_FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda a: not _truth(a), "eq": _eq, "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered(lambda a, b: a < b), "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b), "ge": _ordered(lambda a, b: a >= b),
    "len": _len, "index": _index, "slice": _slice, "print": _print, "printf": _printf, "json": _json,
    "and": lambda *a: a, "or": lambda *a: a,  # evaluated lazily in _call
}


class _State:
    def __init__(self, data: Any) -> None:
        self.vars: list[tuple[str, Any]] = [("$", data)]
        self.out: list[str] = []

    def var(self, name: str) -> Any:
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise TemplateError(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise TemplateError(f"undefined variable: {name}")

    # evaluation
    def field(self, base: Any, names: list[str]) -> Any:
        for name in names:
            if isinstance(base, Struct):
                base = base.field(name)
            elif isinstance(base, dict):
                base = base.get(name)  # missingkey=zero on map[string]any: nil
            elif base is None:
                raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise TemplateError(f"can't evaluate field {name} in type {type(base).__name__}")
        return base

    def operand(self, dot: Any, op: Any, final: Any = ...) -> Any:
        kind = op[0]
        if kind == "lit":
            return op[1]
        if kind == "dot":
            return dot
        if kind == "var":
            return self.var(op[1])
        if kind == "pipe":
            return self.pipeline(dot, op[1])
        if kind == "chain":
            return self.field(self.operand(dot, op[1]), op[2])
        raise TemplateError(f"can't give argument to non-function {op}")

    def command(self, dot: Any, cmd: list, final: Any) -> Any:
        head = cmd[0]
        if head[0] == "func":
            name, args = head[1], cmd[1:]
            if name in ("and", "or"):
                vals = [lambda a=a: self.operand(dot, a) for a in args]
                if final is not ...:
                    vals.append(lambda: final)
                if not vals:
                    raise TemplateError(f"wrong number of args for {name}")
                v: Any = None
                for get in vals:
                    v = get()
                    if _truth(v) != (name == "and"):
                        return v
                return v
            values = [self.operand(dot, a) for a in args] + ([] if final is ... else [final])
            try:
                return _FUNCS[name](*values)
            except TypeError as exc:
                raise TemplateError(f"wrong number of args for {name}: {exc}") from None
        if len(cmd) > 1 or final is not ...:
            raise TemplateError(f"can't give argument to non-function {head}")
        return self.operand(dot, head)

    def pipeline(self, dot: Any, pipe: _Pipe) -> Any:
        value: Any = ...
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.assign:
                self.set_var(name, value)
            else:
                self.vars.append((name, value))
        return value

    def walk(self, dot: Any, nodes: list[_Node]) -> None:
        for node in nodes:
            if node.kind == "text":
                self.out.append(node.text)
            elif node.kind == "action":
                assert node.pipe is not None
                v = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(_fmt(v))
            elif node.kind in ("if", "with"):
                mark = len(self.vars)
                v = self.pipeline(dot, node.pipe)  # type: ignore[arg-type]
                if _truth(v):
                    self.walk(v if node.kind == "with" else dot, node.body)
                else:
                    self.walk(dot, node.orelse)
                del self.vars[mark:]
            elif node.kind == "range":
                self.range(dot, node)

    def range(self, dot: Any, node: _Node) -> None:
        mark = len(self.vars)
        pipe = node.pipe
        assert pipe is not None
        if pipe.assign:
            raise TemplateError("range with '=' is outside the supported subset")
        seq = self.pipeline(dot, pipe)
        if seq is None:
            items: list[tuple[Any, Any]] = []
        elif isinstance(seq, (list, tuple)):
            items = list(enumerate(seq))
        elif isinstance(seq, dict):
            items = [(k, seq[k]) for k in sorted(seq)]
        elif isinstance(seq, int) and not isinstance(seq, bool):
            items = [(i, i) for i in range(seq)]
        else:
            raise TemplateError(f"range can't iterate over {_fmt(seq)}")
        inner = len(self.vars)
        for idx, elem in items:
            if pipe.decl:
                self.vars[inner - 1] = (self.vars[inner - 1][0], elem)
                if len(pipe.decl) > 1:
                    self.vars[inner - 2] = (self.vars[inner - 2][0], idx)
            self.walk(elem, node.body)
            del self.vars[inner:]
        if not items:
            self.walk(dot, node.orelse)
        del self.vars[mark:]


@dataclass
class Template:
    """A parsed template; :meth:`render` executes it (raises :class:`TemplateError`)."""

    source: str
    nodes: list[_Node]

    def render(self, data: Any) -> str:
        """Execute with ``data`` as dot and ``$``; returns the output text."""
        state = _State(data)
        state.walk(data, self.nodes)
        return "".join(state.out)


def parse(source: str) -> Template:
    """Parse Go template text; raises :class:`TemplateError` on a syntax error or an unsupported action."""
    return Template(source, _Parser(source).parse())


def render(source: str, data: Any) -> str:
    """``parse(source).render(data)``."""
    return parse(source).render(data)
