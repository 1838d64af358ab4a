// Command functionapp is the Azure Functions custom handler that slotless
// deploys twice, as the green and the blue function app behind one API
// Management weighted backend pool.
//
// The Functions host runs it with "enableForwardingHttpRequest", so every HTTP
// trigger reaches it as a plain HTTP request on /api/<route>, on the loopback
// port named by FUNCTIONS_CUSTOMHANDLER_PORT. Each app learns its colour from
// the SLOT_NAME app setting and reports it, with the build version, in the
// X-Slot and X-Version headers of every response, which is how canary traffic
// can be attributed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=..."; the
// APP_VERSION setting overrides it at run time.
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the build version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		// After the first signal, restore the default action so a second
		// Ctrl-C kills a drain that is taking too long.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		// stderr, not the JSON log: the logger may not exist yet, and the
		// Functions host records stderr lines at error level.
		fmt.Fprintf(os.Stderr, "functionapp: %v\n", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx is cancelled and the drain ends.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv, version)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	// Loopback only: the Functions host is the sole intended client and
	// connects to 127.0.0.1.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}

	client := &http.Client{Timeout: checkTimeout}
	a := newApp(cfg, logger, defaultChecks(cfg, client))
	logger.Info("listening",
		"addr", ln.Addr().String(),
		"slot", cfg.Slot,
		"version", cfg.Version,
		"shutdownTimeout", cfg.ShutdownTimeout.String(),
		"debugDelay", cfg.DebugDelay,
	)
	return serve(ctx, newHTTPServer(a.routes(), logger), ln, cfg.ShutdownTimeout, logger)
}
