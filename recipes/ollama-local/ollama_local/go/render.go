// render: execute a Go text/template the way Ollama does (missingkey=zero, its "json" function), for the tests.
//
// Reads one JSON object on stdin: {"template": "...", "data": {...}, "structs": ["Messages", ...]}. Keys named in
// "structs" hold lists of {"role", "content"} objects and become []*Message, a struct with api.Message's fields
// (github.com/ollama/ollama api/types.go), so field access behaves as in Ollama. Writes the output to stdout; on a
// parse or execution error writes the error to stderr and exits 1. Standard library only.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

type Message struct {
	Role       string
	Content    string
	Thinking   string
	Images     []string
	ToolCalls  []any
	ToolName   string
	ToolCallID string
}

type input struct {
	Template string                     `json:"template"`
	Data     map[string]json.RawMessage `json:"data"`
	Structs  []string                   `json:"structs"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	data := map[string]any{}
	isStruct := map[string]bool{}
	for _, k := range in.Structs {
		isStruct[k] = true
	}
	for k, raw := range in.Data {
		if isStruct[k] {
			var plain []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			}
			if err := json.Unmarshal(raw, &plain); err != nil {
				fmt.Fprintln(os.Stderr, "bad messages:", err)
				os.Exit(2)
			}
			msgs := []*Message{}
			for _, m := range plain {
				msgs = append(msgs, &Message{Role: m.Role, Content: m.Content})
			}
			data[k] = msgs
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			fmt.Fprintln(os.Stderr, "bad data:", err)
			os.Exit(2)
		}
		data[k] = normalize(v)
	}
	funcs := template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}
	t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(in.Template)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := t.Execute(os.Stdout, data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// normalize turns JSON numbers that are whole into int, as Go template literals of the tests are ints.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x)
		}
		return x
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
		return x
	}
	return v
}
