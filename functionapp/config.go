package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Environment variables read at startup. They are listed in one place so the
// README, the tests and the infrastructure code can agree on the names.
const (
	envSlot            = "SLOT_NAME"
	envVersion         = "APP_VERSION"
	envPort            = "FUNCTIONS_CUSTOMHANDLER_PORT"
	envLogLevel        = "LOG_LEVEL"
	envShutdownTimeout = "SHUTDOWN_TIMEOUT"
	envDebugDelay      = "DEBUG_DELAY_ALLOWED"
	envDependencyURL   = "HEALTH_DEPENDENCY_URL"
)

const (
	// defaultPort is only used when the binary is started by hand; the
	// Functions host always sets FUNCTIONS_CUSTOMHANDLER_PORT.
	defaultPort = 8080
	// defaultShutdownTimeout stays under the 30 s a platform usually waits
	// between SIGTERM and SIGKILL, so draining can finish before the kill.
	defaultShutdownTimeout = 25 * time.Second
)

// Config is the process configuration, resolved once at startup so handlers
// never read the environment on the request path.
type Config struct {
	// Slot is the colour of this function app ("green" or "blue"). It is kept
	// as given, even when invalid, so the health check can report it.
	Slot string
	// Version identifies the build; APP_VERSION wins over the value baked in
	// with -ldflags so an operator can relabel a package without rebuilding.
	Version string
	// Port is the loopback port the Functions host forwards requests to.
	Port int
	// LogLevel is the minimum slog level written to stdout.
	LogLevel slog.Level
	// ShutdownTimeout bounds how long in-flight requests may run after SIGTERM.
	ShutdownTimeout time.Duration
	// DebugDelay enables the ?delay= query parameter used by the shutdown
	// tests. It is off unless DEBUG_DELAY_ALLOWED=1, so callers in production
	// cannot make the app hold connections open.
	DebugDelay bool
	// DependencyURL, when set, is probed by the health endpoint.
	DependencyURL string
}

// loadConfig builds a Config from getenv. Settings that cannot be parsed are
// errors, because starting with a silently different value is worse than not
// starting; a missing or wrong SLOT_NAME is not, because the health endpoint
// reports it with a reason the release gate can show.
func loadConfig(getenv func(string) string, bakedVersion string) (Config, error) {
	cfg := Config{
		Slot:            strings.TrimSpace(getenv(envSlot)),
		Version:         resolveVersion(getenv(envVersion), bakedVersion),
		Port:            defaultPort,
		LogLevel:        slog.LevelInfo,
		ShutdownTimeout: defaultShutdownTimeout,
		DependencyURL:   strings.TrimSpace(getenv(envDependencyURL)),
	}

	if v := strings.TrimSpace(getenv(envPort)); v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port < 0 || port > 65535 {
			return Config{}, fmt.Errorf("parse %s=%q: want a port number 0-65535", envPort, v)
		}
		cfg.Port = port
	}

	if v := strings.TrimSpace(getenv(envLogLevel)); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return Config{}, fmt.Errorf("parse %s=%q: %w", envLogLevel, v, err)
		}
	}

	if v := strings.TrimSpace(getenv(envShutdownTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("parse %s=%q: %w", envShutdownTimeout, v, err)
		}
		if d <= 0 {
			return Config{}, fmt.Errorf("parse %s=%q: want a positive duration", envShutdownTimeout, v)
		}
		cfg.ShutdownTimeout = d
	}

	if v := strings.TrimSpace(getenv(envDebugDelay)); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("parse %s=%q: %w", envDebugDelay, v, err)
		}
		cfg.DebugDelay = on
	}

	return cfg, nil
}

// resolveVersion prefers the runtime override so a package can be relabelled
// without a rebuild, and falls back to the build-time value.
func resolveVersion(override, baked string) string {
	if v := strings.TrimSpace(override); v != "" {
		return v
	}
	return baked
}
