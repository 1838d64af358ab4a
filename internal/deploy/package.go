// Package deploy puts a function app package on one slot's app: the checks a package must pass
// first, and the upload through the deployment API that Flex Consumption documents (one deploy),
// as `az functionapp deployment source config-zip` makes it for a Flex app.
package deploy

import (
	"archive/zip"
	"errors"
	"fmt"
	"os"
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
}

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
	hostJSON := false
	for _, f := range r.File {
		if f.Name == "host.json" {
			hostJSON = true
		}
	}
	if !hostJSON {
		return Package{}, fmt.Errorf("--package %s: no host.json at the root of the zip; a Functions package holds the app's project folder, host.json at its root", path)
	}
	return Package{Path: path, Bytes: info.Size(), Entries: len(r.File)}, nil
}
