package langhost

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// PluginName is the executable name the Pulumi CLI looks for, on PATH or among installed
// plugins, for a project whose runtime is slotless.
const PluginName = "pulumi-language-slotless"

// engineCheckEvery is how often the host asks whether the engine that started it is alive,
// as Pulumi's own hosts do, so it never outlives an engine that died.
const engineCheckEvery = 5 * time.Minute

// Serve runs the host as the Pulumi CLI starts a language plugin: the engine's address is the
// last argument (flags before it, such as -tracing, are accepted and ignored), the port it
// listens on is the first line on stdout, and it serves until the engine goes away or ctx ends.
func Serve(ctx context.Context, args []string, stdout, stderr io.Writer, version string, program ProgramFunc) error {
	fs := flag.NewFlagSet(PluginName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Flags Pulumi's CLI has passed to language hosts; none changes what this host does.
	fs.String("tracing", "", "tracing endpoint (ignored)")
	fs.String("root", "", "project root (ignored: the engine sends it with each run)")
	fs.String("binary", "", "ignored")
	fs.Bool("logtostderr", false, "ignored")
	fs.Int("v", 0, "ignored")
	if err := fs.Parse(args); err != nil {
		return err
	}
	engineAddr := ""
	if fs.NArg() > 0 {
		engineAddr = fs.Arg(fs.NArg() - 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if engineAddr != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddr, engineCheckEvery, cancel); err != nil {
			return fmt.Errorf("watch the engine at %s: %w", engineAddr, err)
		}
	}
	stop := make(chan bool)
	host := New(version, engineAddr, program)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		return fmt.Errorf("serve the language host: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%d\n", handle.Port); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	return <-handle.Done
}
