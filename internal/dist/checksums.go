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

// SumFor is the checksum SHA256SUMS gives name, read as install.sh reads it: the first line
// whose file field is name, in text mode or in binary mode ("*name"). A file the release does
// not list is an error, so nothing it does not vouch for is used.
func SumFor(sums []byte, name string) (string, error) {
	for _, line := range strings.Split(string(sums), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 || (fields[1] != name && fields[1] != "*"+name) {
			continue
		}
		if len(fields[0]) != sha256.Size*2 {
			return "", fmt.Errorf("%s: the line for %s has %q, not a SHA-256 in hex", SumsFile, name, fields[0])
		}
		if _, err := hex.DecodeString(fields[0]); err != nil {
			return "", fmt.Errorf("%s: the line for %s has %q, not a SHA-256 in hex", SumsFile, name, fields[0])
		}
		return strings.ToLower(fields[0]), nil
	}
	return "", fmt.Errorf("%s has no line for %s: refusing a file the release does not vouch for", SumsFile, name)
}
