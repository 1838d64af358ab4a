package watcher

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
)

// FunctionName is the watcher's one function: the folder of its function.json, and the path
// the host POSTs each invocation to (/watch).
const FunctionName = "watch"

// BinaryName is the slotless executable at the package's root, which host.json runs.
const BinaryName = "slotless"

// HostJSON is the watcher package's host.json: a custom handler (the slotless binary, run as
// `slotless watcher serve`) with no HTTP forwarding, since its only function is a timer
// (MicrosoftDocs azure-functions, functions-custom-handlers.md, "Application structure" and
// "host.json"). The function timeout bounds one tick; Flex Consumption's default is 30 minutes
// (functions-host-json.md, "functionTimeout").
func HostJSON() []byte {
	v := map[string]any{
		"version":         "2.0",
		"functionTimeout": "00:05:00",
		"logging":         map[string]any{"logLevel": map[string]string{"default": "Information"}},
		"extensionBundle": map[string]string{"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
		"customHandler": map[string]any{
			"description": map[string]any{
				"defaultExecutablePath": BinaryName,
				"workingDirectory":      "",
				"arguments":             []string{"watcher", "serve"},
			},
			"enableForwardingHttpRequest": false,
		},
	}
	raw, _ := json.MarshalIndent(v, "", "  ")
	return append(raw, '\n')
}

// FunctionJSON is the timer's binding. The schedule is the app setting EnvSchedule, which the
// stack writes from watcherSchedule ("%NAME%": functions-bindings-timer.md, "Configuration":
// "you can put the schedule expression in an app setting and set this property to the app
// setting name wrapped in % signs"), so a new schedule needs no new package. useMonitor keeps
// the schedule's status in the host's storage, so occurrences missed while the app was down
// give one catch-up run marked IsPastDue; runOnStartup stays off, as the docs advise.
func FunctionJSON() []byte {
	v := map[string]any{"bindings": []map[string]any{{
		"name": "timer", "type": "timerTrigger", "direction": "in",
		"schedule": "%" + EnvSchedule + "%", "useMonitor": true, "runOnStartup": false,
	}}}
	raw, _ := json.MarshalIndent(v, "", "  ")
	return append(raw, '\n')
}

// Platform is what the watcher's app runs: Flex Consumption is Linux on x64.
const Platform = "linux/amd64"

// Self is this process's own executable when it can run in the watcher's app.
func Self() (string, bool) {
	if runtime.GOOS+"/"+runtime.GOARCH != Platform {
		return "", false
	}
	p, err := os.Executable()
	return p, err == nil
}

// WritePackage writes the watcher's zip: host.json, watch/function.json and binary (a
// linux/amd64 slotless) as slotless, executable.
func WritePackage(w io.Writer, binary string) error {
	zw := zip.NewWriter(w)
	add := func(name string, mode os.FileMode, body func(io.Writer) error) error {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(mode)
		f, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		return body(f)
	}
	bytesOf := func(b []byte) func(io.Writer) error {
		return func(w io.Writer) error { _, err := w.Write(b); return err }
	}
	if err := add("host.json", 0o644, bytesOf(HostJSON())); err != nil {
		return fmt.Errorf("watcher package: %w", err)
	}
	if err := add(FunctionName+"/function.json", 0o644, bytesOf(FunctionJSON())); err != nil {
		return fmt.Errorf("watcher package: %w", err)
	}
	err := add(BinaryName, 0o755, func(w io.Writer) error {
		f, err := os.Open(binary)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("watcher package: the binary %s: %w", binary, err)
	}
	return zw.Close()
}
