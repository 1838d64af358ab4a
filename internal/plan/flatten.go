package plan

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Flatten turns nested inputs into dotted paths ("pool.services[1].weight") with JSON-encoded
// leaf values, which is what a reviewer reads and what a diff compares. A resource without
// inputs, such as a component, flattens to nothing; an empty map or list below the top stays,
// as "{}" or "[]", since setting one is a value of its own.
func Flatten(inputs map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			if len(t) == 0 && prefix != "" {
				out[prefix] = "{}"
			}
			for k, e := range t {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		case []any:
			if len(t) == 0 {
				out[prefix] = "[]"
			}
			for i, e := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		default:
			out[prefix] = encode(t)
		}
	}
	walk("", inputs)
	return out
}

// encode is JSON without HTML escaping, so policy XML stays readable; multi-line strings stay
// on one line.
func encode(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}
