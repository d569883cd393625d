"""The Go-template interpreter against Go's text/template semantics (no Ollama, no Go toolchain needed).

Expected outputs follow the text/template documentation (https://pkg.go.dev/text/template: "Text and spaces",
"Actions", "Pipelines", "Variables", "Functions") and Ollama's template docs
(https://github.com/ollama/ollama/blob/main/docs/template.md). The first case is the documentation's own
trim-marker example.
"""

import pytest

from ollama_local.gotemplate import Struct, TemplateError, render

DATA = {"L": ["a", "b", "c"], "E": [], "N": "n", "S": "", "Z": 0, "H": ["<b> & é"],
        "M": [Struct("*api.Message", Role="user", Content="hi")]}


CASES = [
    ("{{23 -}} < {{- 45}}", "23<45"),                                   # text/template docs, "Text and spaces"
    ("{{-3}}", "-3"),                                                    # "-" without a space is a number
    ("a{{/* a comment */}}b", "ab"),
    ("a \n {{- /* c */ -}} \n b", "ab"),
    ("{{ true }}{{ 3 }}{{ 1.5 }}", "true31.5"),
    ("{{ .N }}{{ $.N }}", "nn"),
    ("{{ if .S }}x{{ else if .Z }}y{{ else }}z{{ end }}", "z"),
    ("{{ if .N }}x{{ else if .Z }}y{{ else }}z{{ end }}", "x"),
    ("{{ range .L }}[{{ . }}]{{ end }}", "[a][b][c]"),
    ("{{ range $i, $e := .L }}{{ $i }}:{{ $e }} {{ end }}", "0:a 1:b 2:c "),
    ("{{ range $e := .L }}{{ $e }}{{ end }}", "abc"),
    ("{{ range .E }}x{{ else }}empty{{ end }}", "empty"),
    ("{{ range .L }}{{ $.N }}{{ end }}", "nnn"),
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),      # = assigns the outer variable
    ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),  # := shadows inside the block
    ("{{ and 1 0 2 }}|{{ and 1 2 }}|{{ or 0 \"\" \"x\" }}|{{ or 0 \"\" }}", "0|2|x|"),
    ("{{ and false (index .L 9) }}{{ or true (index .L 9) }}", "falsetrue"),  # short-circuit (Go >= 1.18)
    ("{{ not 0 }}{{ not .N }}", "truefalse"),
    ("{{ eq 2 1 2 }}{{ eq .N \"x\" \"n\" }}{{ ne 1 2 }}", "truetruetrue"),
    ("{{ lt 1 2 }}{{ le 2 2 }}{{ gt 1 2 }}{{ ge 1 2 }}", "truetruefalsefalse"),
    ("{{ len \"héllo\" }}{{ len .L }}", "63"),                            # len counts bytes in a string
    ("{{ slice .L 1 }}{{ len (slice .L 1) }}{{ slice .L 1 2 }}", "[b c]2[b]"),
    ("{{ range $i, $_ := .L }}{{ if eq (len (slice $.L $i)) 1 }}last={{ . }}{{ end }}{{ end }}", "last=c"),
    ("{{ index .L 1 }}{{ (index .M 0).Role }}", "buser"),
    ("{{ with .S }}{{ . }}{{ else }}none{{ end }}{{ with .N }}{{ . }}{{ end }}", "nonen"),
    ("{{ .Missing }}", "<no value>"),                                     # missingkey=zero on map[string]any
    ("{{ \"x\" | printf \"%s-%s\" \"a\" }}", "a-x"),                      # a pipeline's value is the last arg
    ("{{ json .L }}", '["a","b","c"]'),                                   # Ollama's json function
    ("{{ `raw \\n` }}", "raw \\n"),
    ("{{ \"tab\\tq\\\"\" }}", 'tab\tq"'),
    ("{{ json .H }}", '["\\u003cb\\u003e \\u0026 é"]'),           # json.Marshal escapes <, >, &
]

ERRORS = [
    ("{{ foo }}", 'function "foo" not defined'),
    ("{{ if 1 }}x", "has no {{end}}"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ $y }}", "undefined variable: $y"),
    ("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", "undefined variable: $y"),  # block-scoped
    ("{{ eq \"a\" 1 }}", "incompatible types for comparison"),
    ("{{ index .L 5 }}", "index out of range"),
    ("{{ (index .M 0).Nope }}", "can't evaluate field Nope"),
    ("{{ .N.Deeper.X }}", "can't evaluate field Deeper"),
    ("{{ .Missing.X }}", "nil pointer evaluating"),
    ("{{ template \"x\" }}", "outside the supported subset"),
    ("{{ .N ", "unclosed action"),
]


@pytest.mark.parametrize("src, out", CASES)
def test_go_semantics(src, out):
    assert render(src, DATA) == out


@pytest.mark.parametrize("src, message", ERRORS)
def test_errors(src, message):
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}").replace("$", r"\$")):
        render(src, DATA)
