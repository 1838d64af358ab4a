package dist

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SumsFile is the checksum file of a release, which install.sh and `sha256sum -c` read.
const SumsFile = "SHA256SUMS"

// Sums returns SHA256SUMS for the named files of dir, in the format `sha256sum` writes and
// `sha256sum -c` checks: one "<hex>  <name>" line per file, sorted by name.
func Sums(dir string, names []string) ([]byte, error) {
	sorted := slices.Sorted(slices.Values(names))
	var b strings.Builder
	for _, name := range sorted {
		if name != filepath.Base(name) || strings.ContainsAny(name, "\n\\") {
			return nil, fmt.Errorf("%s: %q is not a plain file name", SumsFile, name)
		}
		sum, err := sha256File(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, name)
	}
	return []byte(b.String()), nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
