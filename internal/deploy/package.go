// Package deploy puts a function app package on one slot's app: the checks a package must pass
// first, and the upload through the deployment API that Flex Consumption documents (one deploy),
// as `az functionapp deployment source config-zip` makes it for a Flex app.
package deploy

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxPackageBytes is the largest package slotless uploads: 1 GiB, the deployment package limit
// Azure Functions documents ("Run your functions from a package file": "The maximum size for a
// deployment package file is 1 GB"). Flex Consumption documents none of its own; only Azure can
// say whether it takes more.
const MaxPackageBytes = 1 << 30

// Package is a checked deployment package.
type Package struct {
	Path  string
	Bytes int64
	// Entries counts the files in the zip.
	Entries int
	// RoutePrefix is where the Functions host serves the package's HTTP functions: host.json's
	// extensions.http.routePrefix, or the host's default, "api", when host.json sets none
	// (MicrosoftDocs azure-functions, functions-host-json.md, "http": "routePrefix ... Defines
	// the default route prefix that applies to all routes. Use an empty string to remove the
	// default prefix."). Meaningless when HostJSONErr is set.
	RoutePrefix string
	// HostJSONErr says why host.json's route prefix could not be read, so RoutePrefix is not
	// known.
	HostJSONErr error
}

// DefaultRoutePrefix is the Functions host's route prefix when host.json sets none.
const DefaultRoutePrefix = "api"

// CheckPackage refuses, before anything is uploaded, a package the Functions host cannot run: a
// file that is missing, empty, larger than MaxPackageBytes, not a zip, or without host.json at
// its root (a package is the app's project folder, whose root holds host.json).
func CheckPackage(path string) (Package, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Package{}, fmt.Errorf("--package %s: %w", path, err)
	}
	if info.IsDir() {
		return Package{}, fmt.Errorf("--package %s: a directory; zip the app's project folder, host.json at the root", path)
	}
	if info.Size() > MaxPackageBytes {
		return Package{}, fmt.Errorf("--package %s: %d bytes, more than the %d (1 GiB) a Functions deployment package may have", path, info.Size(), int64(MaxPackageBytes))
	}
	r, err := zip.OpenReader(path)
	if err != nil {
		if errors.Is(err, zip.ErrFormat) {
			return Package{}, fmt.Errorf("--package %s: not a zip archive", path)
		}
		return Package{}, fmt.Errorf("--package %s: %w", path, err)
	}
	defer r.Close()
	var hostJSON *zip.File
	for _, f := range r.File {
		if f.Name == "host.json" {
			hostJSON = f
		}
	}
	if hostJSON == nil {
		return Package{}, fmt.Errorf("--package %s: no host.json at the root of the zip; a Functions package holds the app's project folder, host.json at its root", path)
	}
	pkg := Package{Path: path, Bytes: info.Size(), Entries: len(r.File)}
	pkg.RoutePrefix, pkg.HostJSONErr = routePrefix(hostJSON)
	return pkg, nil
}

// routePrefix reads extensions.http.routePrefix from host.json, its keys matched without regard
// to case, as the Functions host's configuration reads them.
func routePrefix(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", err
	}
	node := any(doc)
	for _, key := range []string{"extensions", "http", "routePrefix"} {
		m, ok := node.(map[string]any)
		if !ok {
			return DefaultRoutePrefix, nil
		}
		node = nil
		for k, v := range m {
			if strings.EqualFold(k, key) {
				node = v
			}
		}
		if node == nil {
			return DefaultRoutePrefix, nil
		}
	}
	prefix, ok := node.(string)
	if !ok {
		return "", fmt.Errorf("extensions.http.routePrefix is %v, not a string", node)
	}
	return strings.Trim(prefix, "/"), nil
}

// CheckRoutePrefix refuses a package whose HTTP functions are served under another prefix than
// the one the stack's backends send every request to (stack config routePrefix, stack output
// routePrefix): through API Management each request would reach a path the app does not serve.
// A host.json this cannot read (not plain JSON: the Functions host also takes comments) is not
// checked, and warn says so.
func (p Package) CheckRoutePrefix(stackPrefix string, warn io.Writer) error {
	if p.HostJSONErr != nil {
		fmt.Fprintf(warn, "warning: %s: host.json's extensions.http.routePrefix cannot be read (%v), so it is not checked against the stack's routePrefix %q\n", p.Path, p.HostJSONErr, stackPrefix)
		return nil
	}
	if p.RoutePrefix == stackPrefix {
		return nil
	}
	return fmt.Errorf("--package %s: host.json's extensions.http.routePrefix is %q, the stack's routePrefix is %q: API Management would send every request under /%s, where this app serves nothing; make them agree (pulumi config set routePrefix %q and pulumi up, or change host.json)",
		p.Path, p.RoutePrefix, stackPrefix, stackPrefix, p.RoutePrefix)
}
