// Package dist makes a slotless release: one archive per platform, the installer and a
// SHA256SUMS file, as `make dist VERSION=v1.2.3` writes them into dist/ and the publish
// workflow uploads them to the GitHub release of that tag.
//
// Each archive holds, at its root, the slotless binary, the same binary as
// pulumi-language-slotless (the name under which the Pulumi CLI starts it as the language
// plugin of `runtime: slotless`; a hard link in a tarball, a copy in a zip), and ci/ with the
// helper scripts the pipelines run. Releases are reproducible: two builds of one commit with
// the same Go toolchain give the same bytes, because nothing of the machine, the clock or the
// checkout's path reaches an archive (see Build and WriteTarGz).
package dist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Paths in the module root that a release takes files from.
const (
	// Installer is the install script, published next to the archives as install.sh.
	Installer = "actions/setup-slotless/install.sh"
	// ScriptsGlob are the CI helper scripts shipped in ci/.
	ScriptsGlob = "scripts/*.sh"
	// InstallerName is the installer's name in a release.
	InstallerName = "install.sh"
)

// NotShipped are the scripts of ScriptsGlob that stay in this repository: build-package.sh
// builds this repository's own Go sample function, which a team's repository does not have.
var NotShipped = []string{"build-package.sh"}

// Binary names at the root of every archive.
const (
	BinaryName = "slotless"
	PluginName = "pulumi-language-slotless"
)

// Options are one `make dist`.
type Options struct {
	Version   string
	Platforms []Platform
	// Root is the module root: the binary is built from it, ci/ and install.sh come from it.
	Root string
	// Out is the folder the release is written to; it must be empty or not exist.
	Out string
	// ModTime is stamped on every archive entry (see SourceDate).
	ModTime time.Time
	// Go is the go command ("go" when empty).
	Go string
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// Make builds the release into opts.Out and returns the names of the files it wrote:
// the archives, install.sh and SHA256SUMS, which lists all the others.
func Make(ctx context.Context, opts Options) ([]string, error) {
	if err := CheckVersion(opts.Version); err != nil {
		return nil, err
	}
	if len(opts.Platforms) == 0 {
		return nil, errors.New("PLATFORMS: none given")
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	if err := emptyDir(opts.Out); err != nil {
		return nil, err
	}
	scripts, err := CIEntries(opts.Root)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "slotless-dist-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var written []string
	for _, p := range opts.Platforms {
		bin := filepath.Join(tmp, p.OS+"-"+p.Arch, BinaryName+p.Exe())
		fmt.Fprintf(log, "dist: go build %s for %s\n", MainPackage, p)
		b := Build{Go: opts.Go, Dir: opts.Root, Version: opts.Version, Platform: p, Out: bin}
		if err := b.Run(ctx); err != nil {
			return nil, err
		}
		name := p.ArchiveName(opts.Version)
		fmt.Fprintf(log, "dist: %s\n", name)
		if err := writeArchive(filepath.Join(opts.Out, name), p, Layout(p, bin, scripts), opts.ModTime); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		written = append(written, name)
	}
	if err := copyInstaller(filepath.Join(opts.Root, Installer), filepath.Join(opts.Out, InstallerName)); err != nil {
		return nil, err
	}
	written = append(written, InstallerName)
	sums, err := Sums(opts.Out, written)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.Out, SumsFile), sums, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "dist: %s\n", SumsFile)
	return append(written, SumsFile), nil
}

// Layout is an archive's entries for the platform: the binary, its plugin name linked to it,
// and the CI scripts.
func Layout(p Platform, binary string, scripts []Entry) []Entry {
	return append([]Entry{
		{Name: BinaryName + p.Exe(), Mode: 0o755, Source: binary},
		{Name: PluginName + p.Exe(), Mode: 0o755, Link: BinaryName + p.Exe()},
	}, scripts...)
}

// CIEntries are ci/ and the scripts of ScriptsGlob but NotShipped. A script keeps only whether
// git records it as executable (0o755) or not (0o644, the ones pipelines source), so a
// checkout's umask does not change the archive.
func CIEntries(root string) ([]Entry, error) {
	paths, err := filepath.Glob(filepath.Join(root, ScriptsGlob))
	if err != nil {
		return nil, err
	}
	entries := []Entry{{Name: "ci/", Mode: 0o755}}
	for _, path := range paths {
		name := filepath.Base(path)
		if slices.Contains(NotShipped, name) {
			continue
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		mode := fs.FileMode(0o644)
		if st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		entries = append(entries, Entry{Name: "ci/" + name, Mode: mode, Source: path})
	}
	if len(entries) == 1 {
		return nil, fmt.Errorf("no CI scripts match %s in %s", ScriptsGlob, root)
	}
	return entries, nil
}

func writeArchive(path string, p Platform, entries []Entry, mtime time.Time) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if p.Zip() {
		return WriteZip(f, entries, mtime)
	}
	return WriteTarGz(f, entries, mtime)
}

func copyInstaller(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("installer: %w", err)
	}
	return os.WriteFile(dst, raw, 0o755)
}

// emptyDir creates dir, or accepts it when it exists and is empty: a file left from another
// build would be published with this release.
func emptyDir(dir string) error {
	if dir == "" {
		return errors.New("no output folder given")
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty (it has %s): remove it first, a file left in it would be published with this release", dir, entries[0].Name())
	}
	return nil
}
