package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fixedNow is the clock every in-process test app uses.
var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// syncBuffer lets the server goroutines and the test read logs safely.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines parses the JSON lines written so far.
func (b *syncBuffer) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split([]byte(b.String()), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func goodConfig() Config {
	return Config{Slot: "green", Version: "1.2.3", Port: 0, LogLevel: slog.LevelInfo, ShutdownTimeout: time.Second}
}

// newTestApp returns an app whose clock is pinned and whose logs go to the
// returned buffer. Passing nil checks uses the production defaults.
func newTestApp(cfg Config, level slog.Level, checks []Check) (*app, *syncBuffer) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	if checks == nil {
		checks = defaultChecks(cfg, http.DefaultClient)
	}
	a := newApp(cfg, logger, checks)
	a.started = fixedNow.Add(-90 * time.Second)
	a.now = func() time.Time { return fixedNow }
	return a, logs
}

// do sends one request through the full middleware stack.
func do(h http.Handler, method, target string, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), method, target, nil)
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	return v
}

// buildExe compiles this package into a temporary directory. It is how the
// process and package tests get the real binary rather than a test double.
func buildExe(t *testing.T, name string, env []string, ldflags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", ldflags, "-o", out, ".")
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: got %v, want nil\n%s", err, b)
	}
	return out
}
