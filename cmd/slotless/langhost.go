package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/buildinfo"
	"github.com/slotless/slotless/internal/langhost"
	"github.com/slotless/slotless/stack"
)

// languageHost reports whether the binary was started under the language plugin's name
// (pulumi-language-slotless, .exe on Windows), a link to or copy of slotless itself.
func languageHost(arg0 string) bool {
	name := strings.TrimSuffix(filepath.Base(arg0), ".exe")
	return name == langhost.PluginName
}

// serveLanguageHost serves the language host protocol to the engine that started it, with
// the stack's program run as a plain pulumi up runs it.
func serveLanguageHost(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	program := func(root, version string) pulumi.RunFunc {
		return stack.ProgramIn(root, stack.Mover{By: stack.ByPulumiUp, At: time.Now(), Version: version, AllowLiveChange: stack.AllowLiveChangeFrom(os.Getenv)})
	}
	if err := langhost.Serve(ctx, args, stdout, stderr, buildinfo.Version(), program); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", langhost.PluginName, err)
		return exitFailure
	}
	return exitOK
}
