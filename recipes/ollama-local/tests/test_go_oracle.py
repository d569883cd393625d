"""The Python Go-template interpreter against Go's real text/template, when a Go toolchain is installed.

``ollama_local/go/render.go`` (standard library only) executes a template as Ollama does: ``missingkey=zero``, Ollama's
``json`` function, messages as a struct with ``api.Message``'s fields. Every semantics case of
``test_gotemplate.py``, and the recipe's Modelfile TEMPLATE on every conversation of ``chatcheck`` (plus the
broken templates of the mutation tests), must render identically in Go and in Python, and fail in Go where the
interpreter fails. Skips without ``go`` (Debian: ``apt-get install golang-go``); builds offline.
"""

import shutil

import pytest
from test_gotemplate import CASES, DATA, ERRORS

from ollama_local import chatcheck, gocheck, gotemplate
from ollama_local.modelfile import load_modelfile

GO = shutil.which("go")
pytestmark = pytest.mark.skipif(GO is None, reason="Go toolchain not on PATH (apt-get install golang-go); the "
                                "interpreter is then checked against the documented semantics only")


@pytest.fixture(scope="module")
def go_render(tmp_path_factory):
    return gocheck.build(tmp_path_factory.mktemp("go"))


def _plain(data: dict) -> tuple[dict, list[str]]:
    """DATA with Struct lists as plain role/content dicts, and the names of those lists."""
    out, structs = {}, []
    for k, v in data.items():
        if isinstance(v, list) and v and isinstance(v[0], gotemplate.Struct):
            out[k] = [{"role": m.field("Role"), "content": m.field("Content")} for m in v]
            structs.append(k)
        else:
            out[k] = v
    return out, structs


@pytest.mark.parametrize("src, out", CASES)
def test_same_output_as_go(go_render, src, out):
    code, text = go_render(src, *_plain(DATA))
    assert code == 0, text
    assert text == out == gotemplate.render(src, DATA)


@pytest.mark.parametrize("src, message", ERRORS)
def test_go_fails_too(go_render, src, message):
    code, text = go_render(src, *_plain(DATA))
    assert code == 1, f"Go rendered {text!r}"


MUTANTS = {
    "chatml with .System": ("{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
                            "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
                            "<|im_start|>assistant\n"),
}


@pytest.mark.parametrize("template_name", ["Modelfile"] + list(MUTANTS))
@pytest.mark.parametrize("name", list(chatcheck.CONVERSATIONS) + list(chatcheck.KNOWN_DIFFERENCES))
def test_modelfile_template_renders_the_same_in_go(go_render, name, template_name):
    mf = load_modelfile()
    template = mf.template if template_name == "Modelfile" else MUTANTS[template_name]
    messages = {**chatcheck.CONVERSATIONS, **chatcheck.KNOWN_DIFFERENCES}[name]
    values = gocheck.ollama_values(mf.system, messages)
    code, go_text = go_render(template, values, ["Messages"])
    assert code == 0, go_text
    py = gotemplate.render(template, {**values, "Messages": [chatcheck._go_message(m) for m in values["Messages"]]})
    assert go_text == py
    if template_name == "Modelfile":
        assert go_text == chatcheck.render_ollama_chat(mf, messages)
