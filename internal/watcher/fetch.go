package watcher

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/slotless/slotless/internal/dist"
)

// EnvDownloadURL overrides where releases are downloaded from, as for install.sh: the base
// under which each version's folder holds its archives and SHA256SUMS.
const EnvDownloadURL = "SLOTLESS_DOWNLOAD_URL"

// DefaultDownloadURL is the GitHub releases' base, install.sh's default.
const DefaultDownloadURL = "https://github.com/slotless/slotless/releases/download"

// maxArchive bounds a download: a release archive is tens of megabytes.
const maxArchive = 512 << 20

// LinuxAMD64 is the watcher app's platform (Platform) as a release names it.
var LinuxAMD64 = dist.Platform{OS: "linux", Arch: "amd64"}

// FetchBinary gets the linux/amd64 slotless of version for a machine that is not linux/amd64,
// as install.sh would install it there: the release's SHA256SUMS and archive from
// base/<version>/, the archive refused unless SHA256SUMS lists it with the very checksum of
// what arrived, then its slotless binary written to dir. It returns the binary's path.
func FetchBinary(ctx context.Context, client *http.Client, base, version, dir string, progress io.Writer) (string, error) {
	if err := dist.CheckVersion(version); err != nil {
		return "", fmt.Errorf("this slotless is %q, which has no release to take the %s binary from: run slotless watcher package from a released slotless, or from a %s build: %w", version, Platform, Platform, err)
	}
	if base == "" {
		base = DefaultDownloadURL
	}
	url := strings.TrimSuffix(base, "/") + "/" + version + "/"
	archive := LinuxAMD64.ArchiveName(version)
	fmt.Fprintf(progress, "watcher package: this machine is not %s; downloading %s%s and checking it against %s\n", Platform, url, archive, dist.SumsFile)
	sums, err := download(ctx, client, url+dist.SumsFile, 1<<20)
	if err != nil {
		return "", err
	}
	want, err := dist.SumFor(sums, archive)
	if err != nil {
		return "", fmt.Errorf("%s%s: %w", url, dist.SumsFile, err)
	}
	raw, err := download(ctx, client, url+archive, maxArchive)
	if err != nil {
		return "", err
	}
	got := sha256.Sum256(raw)
	if hex.EncodeToString(got[:]) != want {
		return "", fmt.Errorf("checksum mismatch for %s: %s says %s, the download is %s; refusing it", url+archive, dist.SumsFile, want, hex.EncodeToString(got[:]))
	}
	bin, err := binaryOf(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", url+archive, err)
	}
	path := filepath.Join(dir, dist.BinaryName)
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		return "", err
	}
	return path, nil
}

// download GETs url, at most limit bytes; anything but 200 is an error naming the status.
func download(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s (set %s to where the releases are)", url, resp.Status, EnvDownloadURL)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("download %s: larger than %d bytes", url, limit)
	}
	return raw, nil
}

// binaryOf is the slotless binary at the root of a release's .tar.gz (dist.Layout).
func binaryOf(archive []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("not a .tar.gz: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("no %s in the archive", dist.BinaryName)
		}
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		if h.Name == dist.BinaryName && h.Typeflag == tar.TypeReg {
			return io.ReadAll(io.LimitReader(tr, maxArchive))
		}
	}
}
