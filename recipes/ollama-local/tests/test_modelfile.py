"""The Modelfile against the GGUF's own chat template metadata, without Ollama (the core CI test).

The mismatch users hit most with `FROM ./model.gguf` is a TEMPLATE or stop list that does not match the model's
chat format: the model then sees a prompt it was not trained on, answers badly or never stops. Here the
Modelfile's TEMPLATE (rendered as Ollama renders it, see ollama_local/chatcheck.py) must reproduce the GGUF's
`tokenizer.chat_template` byte for byte on every conversation, and the stops must be the GGUF's control tokens.
The mutation tests show the check fails for the usual mistakes.
"""

import dataclasses
from pathlib import Path

import pytest

from ollama_local import chatcheck
from ollama_local.modelfile import GGUF_NAME, MODELFILE, ModelfileError, load_modelfile, parse_modelfile


@pytest.fixture(scope="module")
def mf():
    return load_modelfile()


@pytest.fixture(scope="module")
def info():
    return chatcheck.read_gguf()


@pytest.fixture(scope="module")
def cases(mf, info):
    return {c.name: c for c in chatcheck.run_checks(mf, info)}


def test_gguf_has_the_metadata_the_check_reads(info):
    assert info.path.name == GGUF_NAME and info.path.stat().st_size > 90_000_000
    assert "<|im_start|>" in info.chat_template and "add_generation_prompt" in info.chat_template
    assert info.eos == "<|im_end|>" and info.context_length == 8192


def test_from_points_at_the_packaged_gguf(mf):
    path = Path(mf.from_)
    assert not path.is_absolute() and path.name == GGUF_NAME  # `make model` copies it there
    assert (MODELFILE.parent / path).resolve().parent == (MODELFILE.parent / "models").resolve()


@pytest.mark.parametrize("name", list(chatcheck.CONVERSATIONS) + list(chatcheck.GENERATE_CASES))
def test_template_matches_gguf_chat_template(cases, name):
    c = cases[name]
    assert c.ollama == c.reference, f"{name}:\nJinja:  {c.reference!r}\nOllama: {c.ollama!r}"


@pytest.mark.parametrize("name", list(chatcheck.KNOWN_DIFFERENCES))
def test_known_ollama_differences_still_differ(cases, name):
    c = cases[name]
    assert c.ollama != c.reference
    assert "\n\n" in c.ollama.split("<|im_start|>user\n")[-1] or c.ollama.count("<|im_start|>system") == 1


def test_stop_tokens_fit_the_gguf(mf, info):
    assert chatcheck.stop_problems(mf, info) == []


def test_parameters(mf, info):
    assert 512 <= int(mf.param("num_ctx")) <= info.context_length
    assert 0 <= float(mf.param("temperature")) <= 1
    assert 0 < float(mf.param("top_p")) <= 1
    assert set(mf.parameters) == {"stop", "num_ctx", "temperature", "top_p"}


# ---- the check can fail: the usual mistakes are caught ------------------------------------------------------
def _failures(mf, info):
    return [c.name for c in chatcheck.run_checks(mf, info) if not c.ok]


def test_mistake_chatml_with_dot_system_duplicates_the_system_prompt(mf, info):
    # the widespread ChatML template: .System first, then every message (Ollama keeps system in .Messages too)
    tpl = ("{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
           "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n")
    assert "system+user" in _failures(dataclasses.replace(mf, template=tpl), info)


def test_mistake_no_system_default(mf, info):
    assert "user only (default system prompt)" in _failures(dataclasses.replace(mf, system=None), info)


def test_mistake_assistant_prefix_closed(mf, info):
    tpl = ("{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
           "<|im_start|>assistant\n")
    assert "assistant prefix (continue the reply)" in _failures(dataclasses.replace(mf, template=tpl), info)


def test_mistake_missing_newline(mf, info):
    tpl = mf.template.replace("{{ .Role }}\n", "{{ .Role }}")
    assert len(_failures(dataclasses.replace(mf, template=tpl), info)) >= len(chatcheck.CONVERSATIONS)


def test_mistake_stop_list(mf, info):
    few = dataclasses.replace(mf, parameters={**mf.parameters, "stop": ["<|im_start|>", "</s>"]})
    problems = chatcheck.stop_problems(few, info)
    assert any("'<|im_end|>' missing" in p for p in problems)
    assert any("'</s>' is not a control token" in p for p in problems)


# ---- the Modelfile reader ------------------------------------------------------------------------------------
def test_modelfile_reader_follows_ollama_syntax():
    mf = parse_modelfile('# c\nFROM ./m.gguf\nTEMPLATE """a\n  b {{ .X }}\n"""\nSYSTEM "hi there"\n'
                         'PARAMETER stop "<a>"\nPARAMETER stop <b>\nparameter num_ctx 8\nMESSAGE user hello\n')
    assert mf.from_ == "./m.gguf" and mf.template == "a\n  b {{ .X }}\n" and mf.system == "hi there"
    assert mf.parameters == {"stop": ["<a>", "<b>"], "num_ctx": ["8"]} and mf.messages == [("user", "hello")]


@pytest.mark.parametrize("text, message", [
    ("TEMPLATE x\n", "no FROM"),
    ("FROM x\nFOO bar\n", "command must be one of"),
    ('FROM x\nTEMPLATE """never closed\n', "unexpected EOF"),
    ("FROM x\nMESSAGE tool hi\n", "message role"),
])
def test_modelfile_reader_errors(text, message):
    with pytest.raises(ModelfileError, match=message):
        parse_modelfile(text)
