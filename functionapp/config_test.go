package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		baked   string
		want    Config
		wantErr string
	}{
		{
			name:  "defaults when run by hand",
			env:   nil,
			baked: "dev",
			want:  Config{Version: "dev", Port: 8080, LogLevel: slog.LevelInfo, ShutdownTimeout: 25 * time.Second},
		},
		{
			name:  "ldflags version used when APP_VERSION unset",
			env:   map[string]string{"SLOT_NAME": "blue"},
			baked: "1.4.0",
			want:  Config{Slot: "blue", Version: "1.4.0", Port: 8080, LogLevel: slog.LevelInfo, ShutdownTimeout: 25 * time.Second},
		},
		{
			name:  "APP_VERSION overrides ldflags version",
			env:   map[string]string{"SLOT_NAME": "green", "APP_VERSION": " 2.0.0 "},
			baked: "1.4.0",
			want:  Config{Slot: "green", Version: "2.0.0", Port: 8080, LogLevel: slog.LevelInfo, ShutdownTimeout: 25 * time.Second},
		},
		{
			name: "everything set",
			env: map[string]string{
				"SLOT_NAME": "green", "FUNCTIONS_CUSTOMHANDLER_PORT": "40123", "LOG_LEVEL": "debug",
				"SHUTDOWN_TIMEOUT": "3s", "DEBUG_DELAY_ALLOWED": "1", "HEALTH_DEPENDENCY_URL": "http://127.0.0.1:1/ok",
			},
			baked: "dev",
			want: Config{
				Slot: "green", Version: "dev", Port: 40123, LogLevel: slog.LevelDebug,
				ShutdownTimeout: 3 * time.Second, DebugDelay: true, DependencyURL: "http://127.0.0.1:1/ok",
			},
		},
		{
			name:  "invalid slot is kept for the health check to report",
			env:   map[string]string{"SLOT_NAME": "purple"},
			baked: "dev",
			want:  Config{Slot: "purple", Version: "dev", Port: 8080, LogLevel: slog.LevelInfo, ShutdownTimeout: 25 * time.Second},
		},
		{name: "bad port", env: map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "eighty"}, wantErr: "FUNCTIONS_CUSTOMHANDLER_PORT"},
		{name: "port out of range", env: map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "70000"}, wantErr: "FUNCTIONS_CUSTOMHANDLER_PORT"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "chatty"}, wantErr: "LOG_LEVEL"},
		{name: "bad shutdown timeout", env: map[string]string{"SHUTDOWN_TIMEOUT": "25"}, wantErr: "SHUTDOWN_TIMEOUT"},
		{name: "zero shutdown timeout", env: map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, wantErr: "SHUTDOWN_TIMEOUT"},
		{name: "bad debug flag", env: map[string]string{"DEBUG_DELAY_ALLOWED": "maybe"}, wantErr: "DEBUG_DELAY_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(envMap(tt.env), tt.baked)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one naming %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("config: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVersionHeaderFollowsOverride(t *testing.T) {
	// The whole path: env -> Config -> response header and body.
	tests := []struct {
		name     string
		env      map[string]string
		baked    string
		wantVer  string
		wantSlot string
	}{
		{"baked", map[string]string{"SLOT_NAME": "green"}, "3.1.0", "3.1.0", "green"},
		{"overridden", map[string]string{"SLOT_NAME": "blue", "APP_VERSION": "3.1.1-hotfix"}, "3.1.0", "3.1.1-hotfix", "blue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(envMap(tt.env), tt.baked)
			if err != nil {
				t.Fatalf("loadConfig: got %v, want nil", err)
			}
			a, _ := newTestApp(cfg, slog.LevelInfo, nil)
			for _, target := range []string{"/api/orders", "/api/health"} {
				rec := do(a.routes(), "GET", target, nil)
				if got := rec.Header().Get("X-Version"); got != tt.wantVer {
					t.Errorf("%s X-Version: got %v, want %v", target, got, tt.wantVer)
				}
				if got := rec.Header().Get("X-Slot"); got != tt.wantSlot {
					t.Errorf("%s X-Slot: got %v, want %v", target, got, tt.wantSlot)
				}
				body := decode[map[string]any](t, rec)
				if got := body["version"]; got != tt.wantVer {
					t.Errorf("%s body version: got %v, want %v", target, got, tt.wantVer)
				}
				if got := body["slot"]; got != tt.wantSlot {
					t.Errorf("%s body slot: got %v, want %v", target, got, tt.wantSlot)
				}
			}
		})
	}
}
