package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAccessLog(t *testing.T) {
	boom := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	panics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("handler bug")
	})

	tests := []struct {
		name       string
		level      slog.Level
		handler    http.Handler // nil: the real routes
		target     string
		wantStatus int
		wantLevel  string // "" means no access line at all
	}{
		{"success is silent at info", slog.LevelInfo, nil, "/api/orders?code=key", http.StatusOK, ""},
		{"success logged at debug", slog.LevelDebug, nil, "/api/orders?code=key", http.StatusOK, "DEBUG"},
		{"404 is silent at info", slog.LevelInfo, nil, "/api/nope", http.StatusNotFound, ""},
		{"5xx logged at error", slog.LevelInfo, boom, "/api/orders?code=key", http.StatusBadGateway, "ERROR"},
		{"panic becomes 500 at error", slog.LevelInfo, panics, "/api/orders", http.StatusInternalServerError, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, logs := newTestApp(goodConfig(), tt.level, nil)
			h := a.routes()
			if tt.handler != nil {
				h = a.withAccessLog(a.withIdentity(tt.handler))
			}
			rec := do(h, http.MethodGet, tt.target, http.Header{headerInvocationID: {"inv-123"}})
			if got := rec.Code; got != tt.wantStatus {
				t.Fatalf("status: got %v, want %v", got, tt.wantStatus)
			}

			var access []map[string]any
			for _, l := range logs.logLines(t) {
				if l["msg"] == "request" {
					access = append(access, l)
				}
			}
			if tt.wantLevel == "" {
				if len(access) != 0 {
					t.Fatalf("access lines: got %v, want none", access)
				}
				return
			}
			if got, want := len(access), 1; got != want {
				t.Fatalf("access lines: got %v, want %v", got, want)
			}
			l := access[0]
			want := map[string]any{
				"level":        tt.wantLevel,
				"invocationId": "inv-123",
				"method":       "GET",
				"path":         strings.SplitN(tt.target, "?", 2)[0],
				"status":       float64(tt.wantStatus),
			}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("%s: got %v, want %v", k, l[k], v)
				}
			}
			if _, ok := l["durationMs"].(float64); !ok {
				t.Errorf("durationMs: got %v, want a number", l["durationMs"])
			}
			// ?code= carries the function key; it must never reach the log.
			if strings.Contains(logs.String(), "code=") {
				t.Errorf("log: got %q, want no query string", logs.String())
			}
		})
	}
}

// TestServeDrainsInFlight cancels the serve context, which is what SIGTERM
// does in main, while a slow request is running, and checks the request still
// completes and serve reports a clean drain.
func TestServeDrainsInFlight(t *testing.T) {
	cfg := goodConfig()
	cfg.DebugDelay = true
	a, logs := newTestApp(cfg, slog.LevelDebug, nil)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: got %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, newHTTPServer(a.routes(), a.logger), ln, 10*time.Second, a.logger) }()

	type result struct {
		status int
		body   string
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/orders?delay=300ms")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		resc <- result{status: resp.StatusCode, body: string(b), err: err}
	}()

	waitFor(t, func() bool { return strings.Contains(logs.String(), "debug delay started") })
	cancel()

	res := <-resc
	if res.err != nil {
		t.Fatalf("in-flight request: got %v, want nil", res.err)
	}
	if got, want := res.status, http.StatusOK; got != want {
		t.Errorf("in-flight status: got %v, want %v", got, want)
	}
	if !strings.Contains(res.body, `"slot":"green"`) {
		t.Errorf("in-flight body: got %q, want the order response", res.body)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: got %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Errorf("dial after shutdown: got nil, want connection refused")
	}
}

// TestServeDrainTimeout checks that a request outliving the budget makes serve
// report failure instead of hanging.
func TestServeDrainTimeout(t *testing.T) {
	cfg := goodConfig()
	cfg.DebugDelay = true
	a, logs := newTestApp(cfg, slog.LevelDebug, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: got %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, newHTTPServer(a.routes(), a.logger), ln, 50*time.Millisecond, a.logger) }()

	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/orders?delay=5s")
		if err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return strings.Contains(logs.String(), "debug delay started") })
	cancel()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "drain in-flight requests") {
		t.Errorf("serve: got %v, want a drain timeout error", err)
	}
}

// waitFor polls cond with a generous bound; it synchronises on an event and
// asserts nothing about how long that event took.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
