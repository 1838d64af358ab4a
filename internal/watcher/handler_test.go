package watcher

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHandlerSpeaksTheCustomHandlerProtocol: the host POSTs /watch with the timer under Data;
// the answer carries Outputs, Logs and ReturnValue, and a failed tick answers 500 so the host
// records a failed invocation. The timer arrives as an object or as a JSON string.
func TestHandlerSpeaksTheCustomHandlerProtocol(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		fail       bool
		status     int
		pastDue    bool
	}{
		{"timer object", `{"Data":{"timer":{"IsPastDue":true}},"Metadata":{}}`, false, 200, true},
		{"timer string", `{"Data":{"timer":"{\"IsPastDue\":false}"},"Metadata":{}}`, false, 200, false},
		{"failed tick", `{"Data":{"timer":{"IsPastDue":false}},"Metadata":{}}`, true, 500, false},
		{"not json", `{`, false, 400, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got TimerInfo
			h := Handler(func(_ context.Context, timer TimerInfo) ([]string, any, error) {
				got = timer
				if tt.fail {
					return []string{"line"}, nil, errors.New("boom")
				}
				return []string{"line"}, map[string]string{"outcome": "judged"}, nil
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+FunctionName, strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 400 {
				return
			}
			var resp InvokeResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Outputs == nil || len(resp.Logs) == 0 {
				t.Fatalf("response %s: %v", rec.Body, err)
			}
			if got.IsPastDue != tt.pastDue {
				t.Errorf("IsPastDue %v, want %v", got.IsPastDue, tt.pastDue)
			}
			if tt.fail && !strings.Contains(strings.Join(resp.Logs, "\n"), "boom") {
				t.Errorf("logs %v do not say why the tick failed", resp.Logs)
			}
		})
	}
}

// TestWritePackage: host.json runs the binary as `watcher serve` with no HTTP forwarding, the
// timer's schedule is the app setting, and the binary is executable.
func TestWritePackage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "slotless")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WritePackage(&buf, bin); err != nil {
		t.Fatal(err)
	}
	r, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*zip.File{}
	for _, f := range r.File {
		files[f.Name] = f
	}
	read := func(name string) map[string]any {
		f, ok := files[name]
		if !ok {
			t.Fatalf("no %s in the package", name)
		}
		rc, _ := f.Open()
		defer rc.Close()
		var v map[string]any
		if err := json.NewDecoder(rc).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	host := read("host.json")["customHandler"].(map[string]any)
	desc := host["description"].(map[string]any)
	if desc["defaultExecutablePath"] != BinaryName || host["enableForwardingHttpRequest"] != false || strings.Join(toStrings(desc["arguments"]), " ") != "watcher serve" {
		t.Errorf("customHandler %v", host)
	}
	b := read(FunctionName + "/function.json")["bindings"].([]any)[0].(map[string]any)
	if b["type"] != "timerTrigger" || b["schedule"] != "%"+EnvSchedule+"%" || b["useMonitor"] != true || b["runOnStartup"] != false {
		t.Errorf("binding %v", b)
	}
	if f := files[BinaryName]; f == nil || f.Mode().Perm()&0o100 == 0 {
		t.Errorf("the binary is missing or not executable")
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
