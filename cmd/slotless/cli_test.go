package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slotless/slotless/internal/buildinfo"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/release"
)

var update = flag.Bool("update", false, "rewrite docs/commands.md's reference from the commands' --help")

// commands lists every command a user can run, as argument paths from the root (the root is
// the empty path), depth first in help order.
func commands() [][]string {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	walk(newRootCmd(realDeps()), nil)
	return paths
}

// find returns the command at path in a fresh tree.
func find(t *testing.T, path []string) *cobra.Command {
	t.Helper()
	c, _, err := newRootCmd(realDeps()).Find(path)
	if err != nil {
		t.Fatalf("find %v: %v", path, err)
	}
	return c
}

func name(path []string) string { return strings.Join(append([]string{"slotless"}, path...), " ") }

func TestEveryCommandHasHelp(t *testing.T) {
	paths := commands()
	if len(paths) < 12 {
		t.Fatalf("got %d commands, want at least 12: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(name(path), func(t *testing.T) {
			cmd := find(t, path)
			for _, h := range []string{"--help", "-h"} {
				var out, errb bytes.Buffer
				if code := run(append(append([]string{}, path...), h), &out, &errb); code != 0 {
					t.Fatalf("%s: exit %d, want 0\n%s", h, code, errb.String())
				}
				help := out.String()
				for _, want := range []string{"Usage:\n  " + name(path), "Examples:\n  ", "Flags:\n"} {
					if !strings.Contains(help, want) {
						t.Errorf("%s: got\n%s\nwant it to contain %q", h, help, want)
					}
				}
				cmd.Flags().VisitAll(func(f *pflag.Flag) {
					line := helpLine(help, "--"+f.Name+" ")
					if line == "" {
						t.Errorf("%s: flag --%s is not listed", h, f.Name)
						return
					}
					if zero := map[string]bool{"": true, "false": true, "0": true, "[]": true}; !zero[f.DefValue] && !strings.Contains(line, "(default ") {
						t.Errorf("%s: flag --%s does not show its default %s: %q", h, f.Name, f.DefValue, line)
					}
				})
			}
		})
	}
}

// helpLine is the line of a help text's flag list that lists a flag.
func helpLine(help, flagName string) string {
	_, flags, _ := strings.Cut(help, "\nFlags:\n")
	for _, l := range strings.Split(flags, "\n") {
		if strings.Contains(l, flagName) && strings.HasPrefix(strings.TrimSpace(l), "-") {
			return l
		}
	}
	return ""
}

func TestEveryUsageErrorExitsTwo(t *testing.T) {
	dir := project(t, stackYAML())
	type usage struct {
		args []string
		want string
	}
	var tests []usage
	// Every command rejects an unknown flag; a command that groups others rejects an unknown
	// or missing subcommand, and the others a stray argument.
	for _, path := range commands() {
		p := append([]string{}, path...)
		tests = append(tests, usage{append(p, "--no-such-flag"), "unknown flag: --no-such-flag"})
		if find(t, path).HasAvailableSubCommands() {
			tests = append(tests, usage{append(p, "no-such-command"), `unknown command "no-such-command"`}, usage{p, "want a command"})
		} else if !strings.Contains(find(t, path).Use, " ") {
			// A command that takes an argument (report RECORD.json) has its own cases below.
			tests = append(tests, usage{append(p, "stray"), `unexpected argument "stray"`})
		}
	}
	tests = append(tests, []usage{
		{[]string{"gat"}, "(did you mean gate?)"},
		{[]string{"help", "nosuch"}, `help: unknown command "nosuch"`},
		{[]string{"help", "gate", "latency"}, `help: unknown command "gate latency"`},
		{[]string{"plan", "--version"}, "unknown flag: --version"},
		{[]string{"plan", "--dir", dir, "--stack", "prod"}, `stack "prod": no Pulumi.prod.yaml`},
		{[]string{"plan", "--dir", dir, "--stack", "ci", "--set", "novalue"}, "want key=value"},
		{[]string{"plan", "--dir", dir, "--stack", "ci", "--allow-jump"}, "go with --against"},
		{[]string{"plan", "--json=maybe"}, `invalid argument "maybe" for "--json"`},
		{[]string{"gate", "health", "--slot", "red"}, `--slot: "red" is not a slot`},
		{[]string{"gate", "health", "--slot", "blue", "--interval", "soon"}, `invalid argument "soon" for "--interval"`},
		{[]string{"gate", "health", "--slot", "blue", "--successes", "0", "--url", "http://h/x"}, "--successes: 0, want at least 1"},
		{[]string{"gate", "health", "--slot", "blue", "--api-url", "", "--url", ""}, "give --url, or --api-url or SLOTLESS_API_URL"},
		{[]string{"gate", "metrics", "--slot", "blue"}, "--canary-app: required"},
		{[]string{"gate", "metrics"}, "--slot: required"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue"}, "--to: required"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "ten"}, `invalid argument "ten" for "--to"`},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "10", "--api-url", "https://apim.example"}, "needs the pinning token"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "10", "--url", "x", "--api-url", "https://a"}, "give one, not both"},
		{[]string{"promote", "--dir", dir, "--stack", "ci"}, "promote: --slot: required, want green or blue"},
		{[]string{"rollback", "--dir", dir, "--stack", "ci", "--slot", "red"}, `--slot: "red" is not a slot`},
		{[]string{"rollback", "--dir", dir, "--stack", "ci", "--slot", "blue", "--api-url", "https://a"}, "unknown flag: --api-url"},
		{[]string{"status", "--api-url", "apim.example"}, "is not an absolute http or https URL"},
		// Every command that sends the pinning token refuses plain http to another machine.
		{[]string{"status", "--api-url", "http://apim.example/orders"}, `--api-url: "http://apim.example/orders" is plain http to apim.example`},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "10", "--api-url", "http://apim.example"}, `--api-url: "http://apim.example" is plain http`},
		{[]string{"promote", "--dir", dir, "--stack", "ci", "--slot", "blue", "--api-url", "http://apim.example"}, `--api-url: "http://apim.example" is plain http`},
		{[]string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--api-url", "http://apim.example"}, `release: --api-url: "http://apim.example" is plain http`},
		{[]string{"watch", "--dir", dir, "--stack", "ci", "--api-url", "http://apim.example"}, `watch: --api-url: "http://apim.example" is plain http`},
		{[]string{"deploy", "--dir", dir, "--stack", "ci", "--slot", "blue", "--package", "app.zip", "--api-url", "http://apim.example"}, `--api-url: "http://apim.example" is plain http`},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh", want one of bash, fish, zsh`},
		{[]string{"report"}, "report: want one argument, the record file"},
		{[]string{"report", "a.json", "b.json"}, "report: want one argument, the record file"},
		{[]string{"report", "a.json", "--chart", "png"}, `report: --chart: "png" is not one of [mermaid text]`},
		{[]string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--dry-run", "--report-dir", filepath.Join(dir, "Pulumi.yaml", "sub")}, "release: --report-dir: "},
	}...)
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Setenv(envAPIURL, "")
			t.Setenv(envPinToken, "")
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr: got %q, want %q", errb.String(), tt.want)
			}
			if !strings.Contains(errb.String(), "--help' for usage.") {
				t.Errorf("stderr: got %q, want a pointer to --help", errb.String())
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("pulumi up failed"), 1},
		{fmt.Errorf("gate failed: %w", errors.New("wrong-version")), 1},
		{usageError{"--slot: required"}, 2},
		{fmt.Errorf("shift: %w", usageError{"--to: required"}), 2},
		{&plan.UnknownStackError{Stack: "prod"}, 2},
		{fmt.Errorf("%w: health gate on blue: wrong-slot", release.ErrBlocked), 3},
		{fmt.Errorf("%w: 1 finding(s)", errGuardRail), 3},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v): got %d, want %d", tt.err, got, tt.want)
		}
	}
	var out, errb bytes.Buffer
	run([]string{"--help"}, &out, &errb)
	if !strings.Contains(out.String(), exitCodesHelp) {
		t.Errorf("slotless --help does not document the exit codes:\n%s", out.String())
	}
}

func TestHelpCommand(t *testing.T) {
	for _, path := range commands() {
		var viaHelp, viaFlag, errb bytes.Buffer
		if code := run(append([]string{"help"}, path...), &viaHelp, &errb); code != 0 {
			t.Fatalf("slotless help %v: exit %d\n%s", path, code, errb.String())
		}
		run(append(append([]string{}, path...), "--help"), &viaFlag, &errb)
		if viaHelp.String() != viaFlag.String() {
			t.Errorf("slotless help %v differs from %s --help", path, name(path))
		}
	}
}

// TestVersion: --version and the version command print the build's version, the one make
// build and make dist stamp (TestMakeBuildStampsTheVersion links a stamped binary).
func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 || out.String() != "slotless "+buildinfo.Version()+"\n" {
		t.Fatalf("exit %d, stdout %q: want 0 and the version", code, out.String())
	}
	out.Reset()
	want := "slotless " + buildinfo.Version() + " (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if code := run([]string{"version"}, &out, &errb); code != 0 || out.String() != want {
		t.Errorf("slotless version: exit %d, got %q, want %q", code, out.String(), want)
	}
}

// TestMakeBuildStampsTheVersion runs the README's `make build` into a temporary file.
func TestMakeBuildStampsTheVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("links the CLI")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	bin := filepath.Join(t.TempDir(), "slotless")
	cmd := exec.Command("make", "--no-print-directory", "build", "VERSION=v0.0.0-test", "BIN="+bin)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || string(out) != "slotless v0.0.0-test\n" {
		t.Errorf("%s --version: got %q, %v; want slotless v0.0.0-test", bin, out, err)
	}
}

func TestCompletion(t *testing.T) {
	dir := project(t, stackYAML())
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"completion", "bash"}, []string{"__start_slotless", "__complete"}},
		{[]string{"completion", "zsh"}, []string{"#compdef slotless", "__complete"}},
		{[]string{"completion", "fish"}, []string{"complete -c slotless", "__complete"}},
		// What the scripts ask the binary for: --slot values, --stack from the stack files.
		{[]string{"__complete", "shift", "--slot", ""}, []string{"green\nblue\n:4\n"}},
		{[]string{"__complete", "plan", "--dir", dir, "--stack", ""}, []string{"ci\n:4\n"}},
		{[]string{"__complete", "gate", "metrics", "--inconclusive", ""}, []string{"pass\nfail\n:4\n"}},
		{[]string{"__complete", "gate", "he"}, []string{"health\t"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != 0 {
				t.Fatalf("exit %d\n%s", code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("got\n%s\nwant it to contain %q", out.String(), w)
				}
			}
		})
	}
}

const (
	refBegin = "<!-- commands:begin: generated from each command's --help by `go test ./cmd/slotless -run TestDocsCommandReference -update`; edit the commands, not this -->\n"
	refEnd   = "<!-- commands:end -->\n"
)

// commandReference renders every command's --help, as docs/commands.md's reference.
func commandReference(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, path := range commands() {
		var out, errb bytes.Buffer
		if code := run(append(append([]string{}, path...), "--help"), &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d", name(path), code)
		}
		fmt.Fprintf(&b, "\n### `%s`\n\n```text\n%s```\n", name(path), out.String())
	}
	return b.String()
}

// TestDocsCommandReference keeps docs/commands.md's reference equal to --help.
func TestDocsCommandReference(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "commands.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	before, rest, ok1 := strings.Cut(readme, refBegin)
	_, after, ok2 := strings.Cut(rest, refEnd)
	if !ok1 || !ok2 {
		t.Fatalf("docs/commands.md has no command reference between %q and %q", refBegin, refEnd)
	}
	want := before + refBegin + commandReference(t) + "\n" + refEnd + after
	if readme == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/commands.md differs from --help; run go test ./cmd/slotless -run TestDocsCommandReference -update")
}
