package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/slotless/slotless/functionapp/internal/pack"
)

// hostFile mirrors the host.json fields the Functions v4 host reads for a
// custom handler.
type hostFile struct {
	Version         string `json:"version"`
	ExtensionBundle struct {
		ID      string `json:"id"`
		Version string `json:"version"`
	} `json:"extensionBundle"`
	CustomHandler *struct {
		Description struct {
			DefaultExecutablePath string `json:"defaultExecutablePath"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
}

// binding is one entry of a function.json "bindings" array.
type binding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	AuthLevel string   `json:"authLevel"`
	Methods   []string `json:"methods"`
	Route     string   `json:"route"`
}

type functionFile struct {
	Bindings []binding `json:"bindings"`
}

// TestPackage builds the deployable binary the way the Makefile does, packs
// it, and reads the zip back as the Functions host would.
func TestPackage(t *testing.T) {
	exe := buildExe(t, "app", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "-s -w -X main.version=0.0.0-pkg")

	var buf bytes.Buffer
	names, err := pack.Write(&buf, ".", exe)
	if err != nil {
		t.Fatalf("pack.Write: got %v, want nil", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("open zip: got %v, want nil", err)
	}

	files := map[string]*zip.File{}
	var got []string
	for _, f := range zr.File {
		files[f.Name] = f
		got = append(got, f.Name)
	}
	want := []string{"app", "health/function.json", "host.json", "orders/function.json"}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("zip entries: got %v, want %v", got, want)
	}
	sort.Strings(names)
	if !slices.Equal(names, want) {
		t.Errorf("reported entries: got %v, want %v", names, want)
	}

	// host.json
	var host hostFile
	readJSON(t, files["host.json"], &host)
	if got, want := host.Version, "2.0"; got != want {
		t.Errorf("host.json version: got %v, want %v", got, want)
	}
	if got, want := host.ExtensionBundle.ID, "Microsoft.Azure.Functions.ExtensionBundle"; got != want {
		t.Errorf("extensionBundle.id: got %v, want %v", got, want)
	}
	if got, want := host.ExtensionBundle.Version, "[4.*, 5.0.0)"; got != want {
		t.Errorf("extensionBundle.version: got %v, want %v", got, want)
	}
	if host.CustomHandler == nil {
		t.Fatalf("customHandler: got nil, want the custom handler section")
	}
	if !host.CustomHandler.EnableForwardingHTTPRequest {
		t.Errorf("enableForwardingHttpRequest: got false, want true")
	}
	if p := host.Extensions.HTTP.RoutePrefix; p != nil && *p != "api" {
		t.Errorf("routePrefix: got %v, want api (the handler routes assume it)", *p)
	}
	exeName := host.CustomHandler.Description.DefaultExecutablePath
	ef, ok := files[exeName]
	if !ok {
		t.Fatalf("defaultExecutablePath %q: got no such zip entry, want one", exeName)
	}
	if got := ef.Mode(); got&0o111 != 0o111 || !got.IsRegular() {
		t.Errorf("%s mode: got %v, want a regular file with the executable bits", exeName, got)
	}
	assertELF(t, ef)

	// function.json files
	for _, name := range want {
		if !strings.HasSuffix(name, "/function.json") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if m := files[name].Mode(); m&0o111 != 0 {
				t.Errorf("mode: got %v, want not executable", m)
			}
			var fn functionFile
			readJSON(t, files[name], &fn)
			in, out := checkBindings(t, fn.Bindings)
			if in == nil || out == nil {
				return
			}
			// The host forwards the URL untouched, so the Go mux must serve the
			// route under the same methods, or the function answers 404/405.
			a, _ := newTestApp(goodConfig(), slog.LevelInfo, nil)
			path := "/api/" + concreteRoute(in.Route)
			for _, m := range in.Methods {
				rec := do(a.routes(), strings.ToUpper(m), path, nil)
				if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
					t.Errorf("%s %s: got %v, want the route served", strings.ToUpper(m), path, rec.Code)
				}
			}
		})
	}
}

// checkBindings asserts the shape the host requires for an HTTP function in a
// custom handler and returns the trigger and output bindings.
func checkBindings(t *testing.T, bs []binding) (in, out *binding) {
	t.Helper()
	for i := range bs {
		b := &bs[i]
		switch {
		case b.Type == "httpTrigger" && b.Direction == "in":
			in = b
		case b.Type == "http" && b.Direction == "out":
			out = b
		}
	}
	if in == nil {
		t.Errorf("bindings: got %+v, want an httpTrigger binding with direction in", bs)
		return nil, nil
	}
	if out == nil {
		t.Errorf("bindings: got %+v, want an http binding with direction out", bs)
		return nil, nil
	}
	if got, want := in.Name, "req"; got != want {
		t.Errorf("trigger name: got %v, want %v", got, want)
	}
	if got := in.AuthLevel; got != "function" && got != "anonymous" && got != "admin" {
		t.Errorf("authLevel: got %q, want function, anonymous or admin", got)
	}
	if len(in.Methods) == 0 {
		t.Errorf("methods: got none, want at least one")
	}
	for _, m := range in.Methods {
		if m != strings.ToLower(m) {
			t.Errorf("method %q: got mixed case, want lower case as in the host's templates", m)
		}
	}
	if in.Route == "" {
		t.Errorf("route: got empty, want an explicit route")
	}
	if got, want := out.Name, "res"; got != want {
		t.Errorf("output name: got %v, want %v", got, want)
	}
	return in, out
}

// concreteRoute turns a Functions route template into a path that matches it:
// optional parameters are dropped, required ones get a sample value.
func concreteRoute(route string) string {
	route = regexp.MustCompile(`/?\{[^}]*\?\}`).ReplaceAllString(route, "")
	return regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(route, "x1")
}

func readJSON(t *testing.T, f *zip.File, v any) {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatalf("open %s: got %v, want nil", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: got %v, want nil", f.Name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: got %v, want JSON", f.Name, err)
	}
}

// assertELF checks the executable is a Linux amd64 binary, which is what Flex
// Consumption runs.
func assertELF(t *testing.T, f *zip.File) {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatalf("open %s: got %v, want nil", f.Name, err)
	}
	defer rc.Close()
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(rc, hdr); err != nil {
		t.Fatalf("read %s: got %v, want nil", f.Name, err)
	}
	if got, want := string(hdr[:4]), "\x7fELF"; got != want {
		t.Errorf("%s magic: got %q, want %q", f.Name, got, want)
	}
	// e_machine 0x3E is x86-64.
	if got, want := hdr[18], byte(0x3e); got != want {
		t.Errorf("%s e_machine: got %#x, want %#x", f.Name, got, want)
	}
}
