package conform

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// member is one property of a declared interface or class.
type member struct {
	optional bool   // declared with "?" or "| undefined"
	typ      string // the declared type, wrappers and "undefined" removed, spaces removed
}

// decls reads the TypeScript declarations of one unpacked @pulumi/azure-native package.
type decls struct {
	root  string
	files map[string]string
}

func newDecls(root string) (*decls, error) {
	if _, err := os.Stat(filepath.Join(root, "types", "input.d.ts")); err != nil {
		return nil, fmt.Errorf("%s is not an unpacked @pulumi/azure-native package: %w", root, err)
	}
	return &decls{root: root, files: map[string]string{}}, nil
}

func (d *decls) file(rel string) (string, error) {
	if s, ok := d.files[rel]; ok {
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(d.root, rel))
	if err != nil {
		return "", err
	}
	d.files[rel] = string(b)
	return d.files[rel], nil
}

// block returns the body between the braces that follow header in text.
func block(text, header string) (string, bool) {
	i := strings.Index(text, header)
	if i < 0 {
		return "", false
	}
	j := strings.Index(text[i:], "{")
	if j < 0 {
		return "", false
	}
	j += i
	depth := 0
	for k := j; k < len(text); k++ {
		switch text[k] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return text[j+1 : k], true
			}
		}
	}
	return "", false
}

// namespace returns the body of "export declare namespace <ns>" in types/input.d.ts or output.d.ts.
// Nested namespaces share a prefix, so the header is matched with its opening brace.
func namespace(text, ns string) (string, bool) {
	return block(text, "export declare namespace "+ns+" {")
}

var (
	commentRE = regexp.MustCompile(`(?s)/\*.*?\*/`)
	memberRE  = regexp.MustCompile(`^(?:readonly\s+)?(\w+)(\??)\s*:\s*(.*)$`)
	spaceRE   = regexp.MustCompile(`\s+`)
)

// members parses the property members of an interface or class body.
func members(body string) map[string]member {
	body = commentRE.ReplaceAllString(body, "")
	out := map[string]member{}
	for _, part := range splitTop(body, ';') {
		m := memberRE.FindStringSubmatch(spaceRE.ReplaceAllString(strings.TrimSpace(part), " "))
		if m == nil {
			continue
		}
		t, undef := normalize(m[3])
		out[m[1]] = member{optional: m[2] == "?" || undef, typ: t}
	}
	return out
}

// normalize strips pulumi.Input/pulumi.Output wrappers and "| undefined" and removes spaces.
func normalize(t string) (string, bool) {
	t = spaceRE.ReplaceAllString(t, "")
	t = strings.TrimSuffix(t, ";")
	t = strings.ReplaceAll(t, ";}", "}")
	for _, w := range []string{"pulumi.Input<", "pulumi.Output<"} {
		if strings.HasPrefix(t, w) && strings.HasSuffix(t, ">") && balanced(t[len(w):len(t)-1]) {
			t = t[len(w) : len(t)-1]
		}
	}
	parts := splitTop(t, '|')
	kept := parts[:0]
	undef := false
	for _, p := range parts {
		if p == "undefined" {
			undef = true
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "|"), undef
}

func balanced(s string) bool {
	depth := 0
	for _, c := range s {
		switch c {
		case '<', '{', '(', '[':
			depth++
		case '>', '}', ')', ']':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// splitTop splits s at sep where it is not nested in brackets.
func splitTop(s string, sep rune) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '<', '{', '(', '[':
			depth++
		case '>', '}', ')', ']':
			depth--
		}
		if c == sep && depth == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, s[start:])
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// enumValues reads "export declare const Name: { readonly A: "a"; ... }" from a module's enums.
func (d *decls) enumValues(module, name string) (map[string]string, error) {
	text, err := d.file(filepath.Join("types", "enums", module, "index.d.ts"))
	if err != nil {
		return nil, err
	}
	body, ok := block(text, "export declare const "+name+": {")
	if !ok {
		return nil, fmt.Errorf("no enum %s in types/enums/%s", name, module)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`readonly (\w+): "(.*?)";`).FindAllStringSubmatch(commentRE.ReplaceAllString(body, ""), -1) {
		out[m[1]] = m[2]
	}
	return out, nil
}
