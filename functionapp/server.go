package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// headerInvocationID is set by the Functions host on every forwarded request;
// logging it lets an access line be joined with the host's own telemetry.
const headerInvocationID = "X-Azure-Functions-InvocationId"

// invocationIDKey is headerInvocationID in the canonical form net/http stores
// it under. The constant itself is not canonical ("InvocationId"), so
// Header.Get would build a new key string on every request.
var invocationIDKey = http.CanonicalHeaderKey(headerInvocationID)

// invocationID returns the host's invocation id for r, or "".
func invocationID(r *http.Request) string {
	if v := r.Header[invocationIDKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// app holds what the handlers share. It is built once and read-only after, so
// handlers need no locking.
type app struct {
	cfg     Config
	logger  *slog.Logger
	checks  []Check
	started time.Time
	now     func() time.Time

	// Header values are built once: assigning a shared slice skips the
	// per-request allocation and key canonicalisation of Header.Set. net/http
	// only reads these slices, so sharing them is safe.
	slotHeader    []string
	versionHeader []string
}

// newApp wires an app with the real clock.
func newApp(cfg Config, logger *slog.Logger, checks []Check) *app {
	return &app{
		cfg: cfg, logger: logger, checks: checks, started: time.Now(), now: time.Now,
		slotHeader:    []string{cfg.Slot},
		versionHeader: []string{cfg.Version},
	}
}

// routes maps the paths the Functions host forwards. In forwarding mode the
// host passes the original URL, so these patterns must mirror the "route" of
// each function.json under the "api" prefix set in host.json.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/orders", a.handleOrders)
	mux.HandleFunc("GET /api/orders/{id}", a.handleOrders)
	mux.HandleFunc("GET /api/health", a.handleHealth)
	return a.withAccessLog(a.withIdentity(mux))
}

// withIdentity stamps every response, including the mux's own 404 and 405,
// so a caller can always tell which colour answered.
func (a *app) withIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Slot"] = a.slotHeader
		h["X-Version"] = a.versionHeader
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status before passing it on.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 the way net/http does.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withAccessLog writes one line per request. Successes go at debug so that a
// load test at the default info level writes nothing per request; 5xx go at
// error because they are what an operator must see. The query string is never
// logged: it may carry the function key as ?code=.
func (a *app) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.logger.ErrorContext(r.Context(), "handler panicked", "panic", fmt.Sprint(p), "path", r.URL.Path)
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, errorResponse{Error: "internal error"})
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelDebug
			if status >= 500 {
				level = slog.LevelError
			}
			ctx := r.Context()
			if !a.logger.Enabled(ctx, level) {
				return
			}
			a.logger.LogAttrs(ctx, level, "request",
				slog.String("invocationId", invocationID(r)),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// newHTTPServer sets the timeouts a loopback server still needs: the host is
// the only client, but a stuck header read would pin a connection forever.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serve runs srv on ln until ctx is cancelled, then stops accepting and waits
// up to timeout for in-flight requests. It returns nil only when every request
// finished in time, so the exit code tells whether the drain was clean.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	logger.Info("shutdown started", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("drain in-flight requests within %s: %w", timeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	logger.Info("shutdown complete")
	return nil
}
