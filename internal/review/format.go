package review

import (
	"fmt"
	"io"
	"strings"
)

// Text prints the report for a terminal.
func (r Report) Text(w io.Writer) {
	fmt.Fprintf(w, "stack %s: traffic %s → %s\n", r.Stack, traffic(r.Before.Green, r.Before.Blue), traffic(r.After.Green, r.After.Blue))
	fmt.Fprintf(w, "%s\n", r.Move)
	if len(r.Changes) == 0 {
		fmt.Fprintln(w, "no resource changes")
	}
	for _, c := range r.Changes {
		fmt.Fprintf(w, "  %s %s %s\n", symbol(c.Kind), c.Type, c.Name)
		for _, p := range c.Properties {
			fmt.Fprintf(w, "      %s: %s → %s\n", p.Path, orNone(p.Before), orNone(p.After))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.OK() {
		fmt.Fprintln(w, "guard rails: ok")
		return
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "guard rail %s: %s\n", f.Rule, f.Message)
	}
}

// Markdown prints the report as a pull-request comment a reviewer reads in seconds: the
// traffic change first, then the guard rails, then the resource changes.
func (r Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "### slotless plan: `%s`\n\n", r.Stack)
	fmt.Fprintf(w, "**Traffic:** %s\n\n", headline(r))
	if r.OK() {
		fmt.Fprintln(w, "**Guard rails:** ✅ none broken")
	} else {
		fmt.Fprintln(w, "**Guard rails:** ❌ broken")
		for _, f := range r.Findings {
			fmt.Fprintf(w, "- `%s`: %s\n", f.Rule, f.Message)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n**Note:** %s\n", n)
	}
	fmt.Fprintln(w)
	if len(r.Changes) == 0 {
		fmt.Fprintln(w, "**Resources:** no changes")
		return
	}
	fmt.Fprintf(w, "**Resources:** %d change(s)\n\n| | resource | properties |\n|---|---|---|\n", len(r.Changes))
	for _, c := range r.Changes {
		var props []string
		for _, p := range c.Properties {
			props = append(props, fmt.Sprintf("`%s`: %s → %s", p.Path, cell(orNone(p.Before)), cell(orNone(p.After))))
		}
		fmt.Fprintf(w, "| %s | `%s` %s | %s |\n", c.Kind, c.Name, shortType(c.Type), strings.Join(props, "<br>"))
	}
}

// headline is the five-second summary: which slot moves and by how much.
func headline(r Report) string {
	switch {
	case r.Before.Blue != r.After.Blue:
		return fmt.Sprintf("blue %d%% → %d%% (green %d%% → %d%%); %s", r.Before.Blue, r.After.Blue, r.Before.Green, r.After.Green, r.Move)
	default:
		return fmt.Sprintf("unchanged, green %d%% / blue %d%%", r.After.Green, r.After.Blue)
	}
}

func traffic(g, b int) string { return fmt.Sprintf("green %d%% / blue %d%%", g, b) }

func symbol(k any) string {
	switch fmt.Sprint(k) {
	case "create":
		return "+"
	case "delete":
		return "-"
	}
	return "~"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// cell keeps a value from breaking the table and from flooding it.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func shortType(t string) string { return "(" + strings.TrimPrefix(t, "azure-native:") + ")" }
