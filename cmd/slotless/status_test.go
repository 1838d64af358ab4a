package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/status"
)

const testPinToken = "pin-0123456789abcdef"

// fakeGateway answers <api>/health as API Management with the slotless policy does: a request
// with the pinning token and X-Slotless-Slot reaches that slot's app, which reports its slot
// and version; without the token the header is ignored and green answers.
func fakeGateway(t *testing.T, versions map[string]string, sick map[string]bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/orders/health" {
			http.NotFound(w, r)
			return
		}
		slot := "green"
		if r.Header.Get("X-Slotless-Token") == testPinToken && r.Header.Get("X-Slotless-Slot") != "" {
			slot = r.Header.Get("X-Slotless-Slot")
		}
		status, code := "ok", http.StatusOK
		if sick[slot] {
			status, code = "fail", http.StatusServiceUnavailable
		}
		w.Header().Set("X-Slot", slot)
		w.Header().Set("X-Version", versions[slot])
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":%q,"slot":%q,"version":%q,"uptimeSeconds":1,"checks":{"config":{"status":%q,"durationMs":0.1}}}`,
			status, slot, versions[slot], status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// withOutputs is the commands' deps with these stack outputs, and the reads it records.
func withOutputs(t *testing.T, outs map[string]any, err error) (deps, *[]string) {
	t.Helper()
	var calls []string
	d := realDeps()
	d.stackOutputs = func(_ context.Context, dir, name string) (map[string]any, error) {
		calls = append(calls, dir+" "+name)
		return outs, err
	}
	return d, &calls
}

func TestStatus(t *testing.T) {
	gw := fakeGateway(t, map[string]string{"green": "1.0.0", "blue": "1.1.0"}, map[string]bool{})
	sickBlue := fakeGateway(t, map[string]string{"green": "1.0.0", "blue": "1.1.0"}, map[string]bool{"blue": true})
	midRelease := map[string]any{
		"greenWeight": 90.0, "blueWeight": 10.0, "liveSlot": "green", "idleSlot": "",
		"currentSlotName": "green-backend", "apiUrl": gw.URL + "/orders", "greenAppName": "slotless-3e4d7f-green",
	}
	afterGA := map[string]any{
		"greenWeight": 0.0, "blueWeight": 100.0, "liveSlot": "blue", "idleSlot": "green",
		"currentSlotName": "blue-backend", "apiUrl": gw.URL + "/orders",
		"settingsGenerations": map[string]any{"green": 1.0, "blue": 2.0, "desired": 2.0},
	}
	olderStack := map[string]any{"greenWeight": 50.0, "blueWeight": 50.0, "liveSlot": "green", "idleSlot": "", "apiUrl": gw.URL + "/orders"}
	tests := []struct {
		name  string
		outs  map[string]any
		args  []string
		token string
		want  []string
		json  func(t *testing.T, st status.Status)
	}{
		{"mid-release", midRelease, nil, testPinToken, []string{
			"stack dev: traffic green 90% / blue 10%\n",
			"live slot: green\nidle slot: none\n",
			"release: in progress, blue takes over from green\n",
			"current-slot-name: green-backend\n",
			"slots, one request each to " + gw.URL + "/orders/health, pinned:\n",
			"  green  version 1.0.0  healthy\n",
			"  blue   version 1.1.0  healthy\n",
		}, func(t *testing.T, st status.Status) {
			if !st.ReleaseInProgress || st.Origin != "green" || st.ReleaseSlot != "blue" || st.IdleSlot != "" || st.CurrentSlotName != "green-backend" {
				t.Errorf("got %+v, want a release of blue from green in progress", st)
			}
			if len(st.Slots) != 2 || st.Slots[0].Version != "1.0.0" || st.Slots[1].Version != "1.1.0" || !st.Slots[1].Healthy {
				t.Errorf("slots: got %+v, want green 1.0.0 and blue 1.1.0, healthy", st.Slots)
			}
		}},
		{"after GA", afterGA, nil, testPinToken, []string{
			"stack dev: traffic green 0% / blue 100%\n",
			"live slot: blue\nidle slot: green\n",
			"release: none in progress; the next one deploys to green\n",
			"current-slot-name: blue-backend\n",
			"settings: green runs generation 1, blue generation 2; the config asks for 2 (green gets it once it is idle, at the next pulumi up)\n",
			"  blue   version 1.1.0  healthy\n",
		}, func(t *testing.T, st status.Status) {
			if st.ReleaseInProgress || st.LiveSlot != "blue" || st.IdleSlot != "green" || st.Origin != "" || len(st.Warnings) > 0 {
				t.Errorf("got %+v, want blue live, green idle, nothing in progress", st)
			}
			if st.Settings == nil || *st.Settings != (status.SettingsStatus{Green: 1, Blue: 2, Desired: 2}) {
				t.Errorf("settings: got %+v, want green 1, blue 2, desired 2", st.Settings)
			}
		}},
		{"an unhealthy slot is reported", midRelease, []string{"--api-url", sickBlue.URL + "/orders"}, testPinToken, []string{
			"  green  version 1.0.0  healthy\n",
			"  blue   version 1.1.0  unhealthy: HTTP 503, status \"fail\", failing checks: config\n",
		}, func(t *testing.T, st status.Status) {
			if st.APIURL != sickBlue.URL+"/orders" {
				t.Errorf("apiUrl: got %q, want --api-url to beat the output", st.APIURL)
			}
		}},
		{"without the token the slots are not asked", midRelease, nil, "", []string{
			"slots: not asked: no pinning token: set SLOTLESS_PIN_TOKEN",
		}, func(t *testing.T, st status.Status) {
			if len(st.Slots) != 0 || st.SlotsSkipped == "" {
				t.Errorf("got %+v, want no slots asked and the reason", st)
			}
		}},
		{"a stack without the currentSlotName output", olderStack, nil, testPinToken, []string{
			"release: in progress; which slot it started from is unknown (no currentSlotName output)\n",
		}, nil},
		{"a backend id with a shared service's per-stack prefix", map[string]any{
			"greenWeight": 50.0, "blueWeight": 50.0, "liveSlot": "green", "idleSlot": "", "currentSlotName": "dev-3e4d7f-blue-backend"}, nil, testPinToken, []string{
			"release: in progress, green takes over from blue\n",
		}, func(t *testing.T, st status.Status) {
			if st.Origin != "blue" || len(st.Warnings) > 0 {
				t.Errorf("got %+v, want origin blue and no warning", st)
			}
		}},
		{"current-slot-name disagreeing with the weights is a warning", map[string]any{
			"greenWeight": 100.0, "blueWeight": 0.0, "liveSlot": "green", "idleSlot": "blue", "currentSlotName": "blue-backend"}, nil, testPinToken, []string{
			`warning: currentSlotName "blue-backend" does not name the live slot green`,
			"slots: not asked: no API URL",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envPinToken, tt.token)
			t.Setenv(envSubscriptionKey, "")
			d, calls := withOutputs(t, tt.outs, nil)
			var out, errb bytes.Buffer
			args := append([]string{"status", "--stack", "dev", "--dir", "/srv/project"}, tt.args...)
			if code := runWith(d, args, &out, &errb); code != 0 {
				t.Fatalf("exit %d, want 0\n%s", code, errb.String())
			}
			if got := strings.Join(*calls, ";"); got != "/srv/project dev" {
				t.Errorf("outputs read for %q, want /srv/project dev", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("got\n%s\nwant it to contain %q", out.String(), w)
				}
			}
			if strings.Contains(out.String(), testPinToken) {
				t.Error("the pinning token leaked into the output")
			}
			if tt.json == nil {
				return
			}
			out.Reset()
			if code := runWith(d, append(args, "--json"), &out, &errb); code != 0 {
				t.Fatalf("--json: exit %d\n%s", code, errb.String())
			}
			var st status.Status
			if err := json.Unmarshal(out.Bytes(), &st); err != nil {
				t.Fatalf("--json: not JSON: %v\n%s", err, out.String())
			}
			tt.json(t, st)
		})
	}
}

func TestStatusFailures(t *testing.T) {
	tests := []struct {
		name string
		outs map[string]any
		err  error
		args []string
		code int
		want string
	}{
		{"not deployed", map[string]any{}, nil, nil, 1, "stack dev has no usable traffic outputs (greenWeight: missing; blueWeight: missing)"},
		{"seam error", nil, errors.New("select stack dev: no backend"), nil, 1, "select stack dev: no backend"},
		{"bad api url", nil, nil, []string{"--api-url", "apim.example"}, 2, `--api-url: "apim.example" is not an absolute`},
		{"zero request timeout", nil, nil, []string{"--request-timeout", "0s"}, 2, "--request-timeout: 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := withOutputs(t, tt.outs, tt.err)
			var out, errb bytes.Buffer
			if code := runWith(d, append([]string{"status", "--stack", "dev"}, tt.args...), &out, &errb); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr: got %q, want %q", errb.String(), tt.want)
			}
		})
	}
}

// TestStatusWithoutPulumiSaysSoInOneLine runs the real seam: without the Pulumi CLI, or with
// one that cannot reach a backend, status fails with one line naming what is missing.
func TestStatusWithoutPulumiSaysSoInOneLine(t *testing.T) {
	// A stand-in for the CLI that answers the Automation API's version check and then fails
	// as the real one does when no backend is logged in or the stack does not exist.
	fakeCLI := func(stderrLine string) string {
		dir := t.TempDir()
		script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo v3.274.1; exit 0; fi\necho '" + stderrLine + "' >&2\nexit 255\n"
		if err := os.WriteFile(filepath.Join(dir, "pulumi"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"no CLI", t.TempDir(), "the Pulumi CLI, which is not on PATH: install it (https://www.pulumi.com/docs/install/) and log in"},
		{"no login", fakeCLI("error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"),
			"select stack dev: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions (logged in? pulumi login)"},
		{"no such stack", fakeCLI("error: no stack named 'dev' found"),
			"stack dev does not exist in the backend you are logged in to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			t.Setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
			dir := project(t, stackYAML())
			var out, errb bytes.Buffer
			if code := run([]string{"status", "--stack", "dev", "--dir", dir}, &out, &errb); code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, errb.String())
			}
			if n := strings.Count(errb.String(), "\n"); n != 1 {
				t.Errorf("stderr has %d lines, want 1:\n%s", n, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr: got %q, want %q", errb.String(), tt.want)
			}
		})
	}
}
