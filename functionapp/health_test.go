package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func passing(name string) Check {
	return Check{Name: name, Run: func(context.Context) error { return nil }}
}

func failing(name, msg string) Check {
	return Check{Name: name, Run: func(context.Context) error { return errors.New(msg) }}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		cfg        func(*Config)
		checks     []Check // nil: the production checks for cfg
		wantStatus int
		wantBody   string
		wantChecks map[string]string
		wantWarn   bool
	}{
		{
			name:       "production checks pass",
			wantStatus: http.StatusOK, wantBody: statusOK,
			wantChecks: map[string]string{"config": statusOK},
		},
		{
			name:       "missing SLOT_NAME fails config",
			cfg:        func(c *Config) { c.Slot = "" },
			wantStatus: http.StatusServiceUnavailable, wantBody: statusFail,
			wantChecks: map[string]string{"config": statusFail}, wantWarn: true,
		},
		{
			name:       "unknown colour fails config",
			cfg:        func(c *Config) { c.Slot = "purple" },
			wantStatus: http.StatusServiceUnavailable, wantBody: statusFail,
			wantChecks: map[string]string{"config": statusFail}, wantWarn: true,
		},
		{
			name:       "version unsafe for a header fails config",
			cfg:        func(c *Config) { c.Version = "1.0 beta" },
			wantStatus: http.StatusServiceUnavailable, wantBody: statusFail,
			wantChecks: map[string]string{"config": statusFail}, wantWarn: true,
		},
		{
			name:       "injected failing check",
			checks:     []Check{passing("config"), failing("db", "connection refused")},
			wantStatus: http.StatusServiceUnavailable, wantBody: statusFail,
			wantChecks: map[string]string{"config": statusOK, "db": statusFail}, wantWarn: true,
		},
		{
			name: "panicking check fails without killing the endpoint",
			checks: []Check{passing("config"), {Name: "broken", Run: func(context.Context) error {
				panic("boom")
			}}},
			wantStatus: http.StatusServiceUnavailable, wantBody: statusFail,
			wantChecks: map[string]string{"config": statusOK, "broken": statusFail}, wantWarn: true,
		},
		{
			name:       "all injected checks pass",
			checks:     []Check{passing("config"), passing("db")},
			wantStatus: http.StatusOK, wantBody: statusOK,
			wantChecks: map[string]string{"config": statusOK, "db": statusOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := goodConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			a, logs := newTestApp(cfg, slog.LevelInfo, tt.checks)
			rec := do(a.routes(), http.MethodGet, "/api/health", nil)
			const principal = "0d7c2b1a-0000-4000-8000-000000000001"
			withPrincipal := do(a.routes(), http.MethodGet, "/api/health", http.Header{"X-Ms-Client-Principal-Id": {principal}})
			if got := decode[healthResponse](t, withPrincipal).ClientPrincipalID; got != principal {
				t.Errorf("clientPrincipalId with the header: got %q, want %q", got, principal)
			}
			if got := rec.Code; got != tt.wantStatus {
				t.Fatalf("status: got %v, want %v (body %q)", got, tt.wantStatus, rec.Body.String())
			}
			if got := rec.Header().Get("X-Slot"); got != cfg.Slot {
				t.Errorf("X-Slot: got %v, want %v", got, cfg.Slot)
			}
			if got := rec.Header().Get("X-Version"); got != cfg.Version {
				t.Errorf("X-Version: got %v, want %v", got, cfg.Version)
			}
			body := decode[healthResponse](t, rec)
			if body.Status != tt.wantBody {
				t.Errorf("status field: got %v, want %v", body.Status, tt.wantBody)
			}
			if body.Slot != cfg.Slot || body.Version != cfg.Version {
				t.Errorf("identity: got %v/%v, want %v/%v", body.Slot, body.Version, cfg.Slot, cfg.Version)
			}
			if got, want := body.UptimeSeconds, 90.0; got != want {
				t.Errorf("uptimeSeconds: got %v, want %v", got, want)
			}
			if got, want := len(body.Checks), len(tt.wantChecks); got != want {
				t.Errorf("check count: got %v, want %v (%v)", got, want, body.Checks)
			}
			for name, want := range tt.wantChecks {
				res := body.Checks[name]
				if res.Status != want {
					t.Errorf("check %s: got %v, want %v", name, res.Status, want)
				}
				if (res.Status == statusFail) != (res.Error != "") {
					t.Errorf("check %s error text: got %q, want one exactly when failing", name, res.Error)
				}
			}
			if got := strings.Contains(logs.String(), `"level":"WARN"`); got != tt.wantWarn {
				t.Errorf("warn logged: got %v, want %v", got, tt.wantWarn)
			}
		})
	}
}

func TestDefaultChecks(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want []string
	}{
		{"config only", "", []string{"config"}},
		{"with dependency", "http://127.0.0.1:1/", []string{"config", "dependency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := goodConfig()
			cfg.DependencyURL = tt.url
			var got []string
			for _, c := range defaultChecks(cfg, http.DefaultClient) {
				got = append(got, c.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("checks: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHTTPCheck(t *testing.T) {
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer dep.Close()

	// A listener that is closed at once gives a port with nothing behind it.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{"2xx passes", dep.URL + "/ok?token=s3cret", ""},
		{"5xx fails", dep.URL + "/down?token=s3cret", "status 502"},
		{"4xx fails", dep.URL + "/missing?token=s3cret", "status 404"},
		{"unreachable fails", closedURL + "/ok?token=s3cret", "GET dependency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := httpCheck("dependency", tt.url, dep.Client()).Run(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error: got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error: got %v, want one containing %v", err, tt.wantErr)
			}
			// The error text is served by /api/health; it must not echo a
			// token carried in the dependency URL.
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error text: got %q, want no URL query", err.Error())
			}
		})
	}
}

func TestHealthCheckTimeout(t *testing.T) {
	// A check that blocks until its context ends must come back as a failure
	// rather than hang the endpoint. The parent context is already cancelled
	// so the test does not have to wait out checkTimeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := runCheck(ctx, Check{Name: "slow", Run: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	if got, want := res.Status, statusFail; got != want {
		t.Errorf("status: got %v, want %v", got, want)
	}
	if got, want := res.Error, context.Canceled.Error(); got != want {
		t.Errorf("error: got %v, want %v", got, want)
	}
}
