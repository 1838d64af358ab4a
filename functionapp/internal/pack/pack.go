// Package pack builds the zip that Azure Functions Flex Consumption deploys:
// host.json at the root, one folder per function holding its function.json,
// and the custom handler executable at the path host.json names.
//
// It exists instead of a call to zip(1) so the executable bit is always set in
// the archive (a Linux host will not start a custom handler without it) and so
// the archive is byte-for-byte reproducible from the same inputs.
package pack

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// modTime is fixed so two builds of the same inputs give the same zip bytes.
var modTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// HostJSON is the part of host.json this package reads.
type HostJSON struct {
	Version       string `json:"version"`
	CustomHandler struct {
		Description struct {
			DefaultExecutablePath string `json:"defaultExecutablePath"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
}

// ExecutablePath returns customHandler.description.defaultExecutablePath from
// srcDir/host.json, the one place the executable name is configured.
func ExecutablePath(srcDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(srcDir, "host.json"))
	if err != nil {
		return "", fmt.Errorf("read host.json: %w", err)
	}
	var h HostJSON
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("parse host.json: %w", err)
	}
	p := h.CustomHandler.Description.DefaultExecutablePath
	if p == "" {
		return "", errors.New("host.json: customHandler.description.defaultExecutablePath is empty")
	}
	clean := path.Clean(filepath.ToSlash(p))
	if path.IsAbs(clean) || clean == ".." || len(clean) > 2 && clean[:3] == "../" {
		return "", fmt.Errorf("host.json: defaultExecutablePath %q must be relative to the package root", p)
	}
	return clean, nil
}

// Functions lists the function folders in srcDir: the direct subdirectories
// that hold a function.json. The host discovers functions the same way.
func Functions(srcDir string) ([]string, error) {
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", srcDir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(srcDir, e.Name(), "function.json")); err == nil {
			names = append(names, e.Name())
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("stat %s/function.json: %w", e.Name(), err)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("no function folders with a function.json in %s", srcDir)
	}
	return names, nil
}

// Write writes the deployment zip to w and returns the entry names in the
// order written. Every JSON file is checked to parse, so a typo fails the
// build instead of the deployment.
func Write(w io.Writer, srcDir, exePath string) ([]string, error) {
	exeName, err := ExecutablePath(srcDir)
	if err != nil {
		return nil, err
	}
	funcs, err := Functions(srcDir)
	if err != nil {
		return nil, err
	}

	zw := zip.NewWriter(w)
	var names []string
	add := func(name, src string, mode os.FileMode, mustBeJSON bool) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		if mustBeJSON && !json.Valid(b) {
			return fmt.Errorf("%s is not valid JSON", src)
		}
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modTime}
		hdr.SetMode(mode)
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return fmt.Errorf("add %s: %w", name, err)
		}
		if _, err := io.Copy(fw, bytes.NewReader(b)); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		names = append(names, name)
		return nil
	}

	if err := add("host.json", filepath.Join(srcDir, "host.json"), 0o644, true); err != nil {
		return nil, err
	}
	for _, f := range funcs {
		if err := add(f+"/function.json", filepath.Join(srcDir, f, "function.json"), 0o644, true); err != nil {
			return nil, err
		}
	}
	if err := add(exeName, exePath, 0o755, false); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("finish zip: %w", err)
	}
	return names, nil
}

// WriteFile writes the zip to outPath, creating its directory. It writes to a
// temporary file first so a failed build never leaves a half-written zip where
// a deploy step would pick it up.
func WriteFile(outPath, srcDir, exePath string) ([]string, error) {
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(outPath), ".pack-*.zip")
	if err != nil {
		return nil, fmt.Errorf("create temporary zip: %w", err)
	}
	defer os.Remove(tmp.Name())
	names, err := Write(tmp, srcDir, exePath)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close temporary zip: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), outPath); err != nil {
		return nil, fmt.Errorf("move zip into place: %w", err)
	}
	return names, nil
}
