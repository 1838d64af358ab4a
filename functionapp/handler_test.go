package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoutes(t *testing.T) {
	a, _ := newTestApp(goodConfig(), slog.LevelInfo, nil)
	h := a.routes()

	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantAllow  string
		wantJSON   bool
	}{
		{"orders list", http.MethodGet, "/api/orders", http.StatusOK, "", true},
		{"order by id", http.MethodGet, "/api/orders/A-42_x", http.StatusOK, "", true},
		{"order id with bad characters", http.MethodGet, "/api/orders/%3Cscript%3E", http.StatusBadRequest, "", true},
		{"order id too long", http.MethodGet, "/api/orders/" + strings.Repeat("a", 65), http.StatusBadRequest, "", true},
		{"health", http.MethodGet, "/api/health", http.StatusOK, "", true},
		{"orders wrong method", http.MethodPost, "/api/orders", http.StatusMethodNotAllowed, "GET, HEAD", false},
		{"order wrong method", http.MethodDelete, "/api/orders/1", http.StatusMethodNotAllowed, "GET, HEAD", false},
		{"health wrong method", http.MethodPut, "/api/health", http.StatusMethodNotAllowed, "GET, HEAD", false},
		{"unknown route", http.MethodGet, "/api/nope", http.StatusNotFound, "", false},
		{"root", http.MethodGet, "/", http.StatusNotFound, "", false},
		{"route without prefix", http.MethodGet, "/orders", http.StatusNotFound, "", false},
		{"nested path under order", http.MethodGet, "/api/orders/1/items", http.StatusNotFound, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(h, tt.method, tt.target, nil)
			if got := rec.Code; got != tt.wantStatus {
				t.Fatalf("status: got %v, want %v (body %q)", got, tt.wantStatus, rec.Body.String())
			}
			// Every response, the mux's own errors included, names the colour.
			if got := rec.Header().Get("X-Slot"); got != "green" {
				t.Errorf("X-Slot: got %v, want %v", got, "green")
			}
			if got := rec.Header().Get("X-Version"); got != "1.2.3" {
				t.Errorf("X-Version: got %v, want %v", got, "1.2.3")
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow: got %v, want %v", got, tt.wantAllow)
			}
			if tt.wantJSON {
				if got, want := rec.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
					t.Errorf("Content-Type: got %v, want %v", got, want)
				}
				if got, want := rec.Header().Get("Cache-Control"), "no-store"; got != want {
					t.Errorf("Cache-Control: got %v, want %v", got, want)
				}
				_ = decode[map[string]any](t, rec)
			}
		})
	}
}

func TestOrdersBody(t *testing.T) {
	tests := []struct {
		name     string
		slot     string
		version  string
		target   string
		invocID  string
		wantMsg  string
		wantID   string
		wantSlot string
	}{
		{"green list", "green", "1.0.0", "/api/orders", "inv-1", "hello from the green slot", "", "green"},
		{"blue by id", "blue", "2.0.0-rc.1", "/api/orders/7", "", "order 7 served by the blue slot", "7", "blue"},
		{"unset slot", "", "dev", "/api/orders", "", "hello from the unnamed slot", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := goodConfig()
			cfg.Slot, cfg.Version = tt.slot, tt.version
			a, _ := newTestApp(cfg, slog.LevelInfo, nil)
			hdr := http.Header{}
			if tt.invocID != "" {
				hdr.Set(headerInvocationID, tt.invocID)
			}
			rec := do(a.routes(), http.MethodGet, tt.target, hdr)
			if got, want := rec.Code, http.StatusOK; got != want {
				t.Fatalf("status: got %v, want %v", got, want)
			}
			body := decode[orderResponse](t, rec)
			want := orderResponse{
				Slot:         tt.wantSlot,
				Version:      tt.version,
				Message:      tt.wantMsg,
				Timestamp:    fixedNow.Format(time.RFC3339Nano),
				OrderID:      tt.wantID,
				InvocationID: tt.invocID,
			}
			if ts, err := time.Parse(time.RFC3339Nano, body.Timestamp); err != nil || !ts.Equal(fixedNow) {
				t.Errorf("timestamp: got %v (parse error %v), want %v", body.Timestamp, err, fixedNow)
			}
			if body != want {
				t.Errorf("body: got %+v, want %+v", body, want)
			}
			if got := rec.Header().Get("X-Slot"); got != tt.wantSlot {
				t.Errorf("X-Slot: got %v, want %v", got, tt.wantSlot)
			}
			if got := rec.Header().Get("X-Version"); got != tt.version {
				t.Errorf("X-Version: got %v, want %v", got, tt.version)
			}
		})
	}
}

func TestOrdersBodyIsEscapedJSON(t *testing.T) {
	// A version string is operator input; it must come back as JSON data, not
	// break the document, because the body is built with encoding/json.
	cfg := goodConfig()
	cfg.Version = `1"},"evil":{"x":"`
	a, _ := newTestApp(cfg, slog.LevelInfo, nil)
	rec := do(a.routes(), http.MethodGet, "/api/orders", nil)
	body := decode[map[string]any](t, rec)
	if got, want := body["version"], cfg.Version; got != want {
		t.Errorf("version: got %v, want %v", got, want)
	}
	if _, ok := body["evil"]; ok {
		t.Errorf("body has injected key: got %v, want no key", body)
	}
}

func TestDebugDelay(t *testing.T) {
	tests := []struct {
		name       string
		allowed    bool
		target     string
		wantStatus int
		wantDelay  bool
		minElapsed time.Duration
	}{
		// Off by default: the parameter is ignored, so a caller in production
		// cannot hold a connection open.
		{"ignored when not allowed", false, "/api/orders?delay=5s", http.StatusOK, false, 0},
		{"applied when allowed", true, "/api/orders?delay=30ms", http.StatusOK, true, 30 * time.Millisecond},
		{"bad duration", true, "/api/orders?delay=soon", http.StatusBadRequest, false, 0},
		{"over the cap", true, "/api/orders?delay=11s", http.StatusBadRequest, false, 0},
		{"negative", true, "/api/orders?delay=-1s", http.StatusBadRequest, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := goodConfig()
			cfg.DebugDelay = tt.allowed
			a, logs := newTestApp(cfg, slog.LevelDebug, nil)
			start := time.Now()
			rec := do(a.routes(), http.MethodGet, tt.target, nil)
			elapsed := time.Since(start)
			if got := rec.Code; got != tt.wantStatus {
				t.Fatalf("status: got %v, want %v (body %q)", got, tt.wantStatus, rec.Body.String())
			}
			// Only a lower bound: the delay must have happened. No upper bound,
			// which would make the test depend on machine speed.
			if elapsed < tt.minElapsed {
				t.Errorf("elapsed: got %v, want at least %v", elapsed, tt.minElapsed)
			}
			if got := strings.Contains(logs.String(), "debug delay started"); got != tt.wantDelay {
				t.Errorf("delay applied: got %v, want %v", got, tt.wantDelay)
			}
		})
	}
}

func TestConcurrentResponsesDoNotMix(t *testing.T) {
	// writeJSON reuses pooled buffers; under -race this also proves no two
	// requests ever share one.
	a, _ := newTestApp(goodConfig(), slog.LevelInfo, nil)
	h := a.routes()
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "o" + strconv.Itoa(i)
			for j := 0; j < 20; j++ {
				rec := do(h, http.MethodGet, "/api/orders/"+id, nil)
				var body orderResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.OrderID != id {
					errs <- fmt.Sprintf("orderId: got %q (err %v), want %q", body.OrderID, err, id)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
