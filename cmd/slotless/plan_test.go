package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// project writes the repository's Pulumi.yaml and one stack file into a temp dir.
func project(t *testing.T, stackFile string) string {
	t.Helper()
	dir := t.TempDir()
	pj, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), pj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.ci.yaml"), []byte(stackFile), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const baseStack = `config:
  azure-native:location: westeurope
  slotless:publisherEmail: ops@example.com
  slotless:blueWeight: 10
`

func TestPlanCommand(t *testing.T) {
	dir := project(t, baseStack)
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		jsonPlan bool
	}{
		{"text", []string{"plan", "--dir", dir, "--stack", "ci"}, 0, []string{"stack ci: traffic green 90% / blue 10%, live green", "azure-native:apimanagement:Backend  green-blue-pool"}, nil, false},
		{"json", []string{"plan", "--dir", dir, "--stack", "ci", "--json"}, 0, nil, nil, true},
		{"set overrides the stack file", []string{"plan", "--dir", dir, "--stack", "ci", "--set", "blueWeight=100"}, 0, []string{"green 0% / blue 100%, live blue"}, nil, false},
		{"invalid value", []string{"plan", "--dir", dir, "--stack", "ci", "--set", "blueWeight=150"}, 1, nil, []string{"invalid stack config:", "blueWeight: 150 is out of range 0..100"}, false},
		{"misspelt key", []string{"plan", "--dir", dir, "--stack", "ci", "--set", "bluWeight=50"}, 1, nil, []string{"unknown config key bluWeight: did you mean blueWeight?"}, false},
		{"unknown runtime", []string{"plan", "--dir", dir, "--stack", "ci", "--set", "functionRuntime=ruby"}, 1, nil, []string{`functionRuntime: "ruby" is not valid, want one of dotnet-isolated, node, python, java, powershell, custom`}, false},
		{"unknown runtime version", []string{"plan", "--dir", dir, "--stack", "ci", "--set", "functionRuntime=node", "--set", "functionRuntimeVersion=18"}, 1, nil, []string{`functionRuntimeVersion: "18" is not a Flex Consumption version of node, want one of 20, 22`}, false},
		{"unknown stack lists the stacks", []string{"plan", "--dir", dir, "--stack", "prod"}, 2, nil, []string{`stack "prod": no Pulumi.prod.yaml in ` + dir + "; stacks here: ci"}, false},
		{"components without empty inputs", []string{"plan", "--dir", dir, "--stack", "ci"}, 0, []string{"slotless:stack:Colour  blue\n\n  "}, nil, false},
		{"bad set", []string{"plan", "--dir", dir, "--stack", "ci", "--set", "novalue"}, 2, nil, []string{"want key=value"}, false},
		{"encrypted plain key", []string{"plan", "--dir", project(t, baseStack+"  slotless:prefix:\n    secure: v1:abcdefgh\n"), "--stack", "ci"}, 1, nil, []string{"prefix: is encrypted in the stack file, and the offline plan cannot decrypt it; pass --set prefix=<value>"}, false},
		{"unknown command", []string{"deploi"}, 2, nil, []string{`unknown command "deploi"`}, false},
		{"markdown without against", []string{"plan", "--dir", dir, "--stack", "ci", "--markdown"}, 2, nil, []string{"go with --against"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit code: got %d, want %d (stderr %s)", code, tt.code, errb.String())
			}
			if strings.Contains(out.String(), "\n       = {}") {
				t.Errorf("stdout: a resource printed with empty inputs (= {}):\n%s", out.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout: got\n%s\nwant it to contain %q", out.String(), want)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("stderr: got %q, want it to contain %q", errb.String(), want)
				}
			}
			if !tt.jsonPlan {
				return
			}
			var p struct {
				Stack   string
				Traffic struct {
					Green, Blue int
					Live        string
				}
				Resources []struct {
					Type, Name string
					Inputs     map[string]any
				}
			}
			if err := json.Unmarshal(out.Bytes(), &p); err != nil {
				t.Fatalf("stdout is not JSON: %v", err)
			}
			if p.Stack != "ci" || p.Traffic.Green != 90 || p.Traffic.Blue != 10 || p.Traffic.Live != "green" {
				t.Errorf("header: got %+v, want stack ci, 90/10, live green", p)
			}
			for _, r := range p.Resources {
				if r.Type == "azure-native:apimanagement:NamedValue" && strings.HasSuffix(r.Name, "-function-key") && r.Inputs["value"] != "[secret]" {
					t.Errorf("%s value shown as %v, want [secret]", r.Name, r.Inputs["value"])
				}
			}
			// No apiSpec: the API passes through, with seven operations on /* and the health one; three
			// storage accounts (shared, and each slot's host storage) and the shared one's blob
			// service, five roles, two basic publishing policies, an Application Insights
			// component per slot, and the history container; and the watcher (on by default): its
			// identity, host storage and package container, plan, app, two basic publishing
			// policies, two roles and seven role assignments, its writer's assignment on the
			// history container and its API Management subscription.
			if len(p.Resources) != 68 {
				t.Errorf("got %d resources, want 68", len(p.Resources))
			}
		})
	}
}

func TestPlanOfTheDevStack(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "--dir", filepath.Join("..", ".."), "--stack", "dev"}, &out, &errb); code != 0 {
		t.Fatalf("the committed dev stack does not plan: %s", errb.String())
	}
}
