package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkOrders measures the full middleware stack plus the API handler in
// process; BenchmarkBareHello is the same harness around a hello-world
// handler, so the difference is what this app adds per request.
func BenchmarkOrders(b *testing.B) {
	a, _ := newTestApp(goodConfig(), slog.LevelInfo, nil)
	benchHandler(b, a.routes(), "/api/orders")
}

func BenchmarkHealth(b *testing.B) {
	a, _ := newTestApp(goodConfig(), slog.LevelInfo, nil)
	benchHandler(b, a.routes(), "/api/health")
}

func BenchmarkBareHello(b *testing.B) {
	benchHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "Hello, World!\n")
	}), "/")
}

func benchHandler(b *testing.B, h http.Handler, target string) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status: got %v, want %v", rec.Code, http.StatusOK)
		}
	}
}
