// Command dist is what `make dist` runs: it writes a slotless release (archives, install.sh,
// SHA256SUMS) into a folder. The logic lives in package dist; this reads the flags and the
// environment and reports.
//
//	go run ./internal/dist/cmd/dist -version v1.2.3 [-platforms "linux/amd64 ..."] [-out dist]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/slotless/slotless/internal/dist"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type usageError struct{ error }

func run(args []string, stdout, stderr io.Writer) int {
	err := release(args, stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "dist:", err)
	if errors.As(err, &usageError{}) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func release(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "the release version, v<semver> (make's VERSION)")
	platforms := fs.String("platforms", "", "os/arch pairs, space separated (make's PLATFORMS); empty: "+allPlatforms())
	out := fs.String("out", "dist", "the folder to write the release to; must be empty or absent")
	root := fs.String("root", ".", "the module root to build from")
	goCmd := fs.String("go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if err := dist.CheckVersion(*version); err != nil {
		return usageError{err}
	}
	plats, err := dist.ParsePlatforms(*platforms)
	if err != nil {
		return usageError{err}
	}
	ctx := context.Background()
	mtime, err := dist.SourceDate(ctx, os.Getenv, *root)
	if err != nil {
		return err
	}
	warnDirty(ctx, *root, stderr)
	files, err := dist.Make(ctx, dist.Options{
		Version: *version, Platforms: plats, Root: *root, Out: *out, ModTime: mtime, Go: *goCmd, Log: stderr,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s, entries stamped %s:\n", *out, mtime.Format("2006-01-02T15:04:05Z"))
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	return nil
}

// warnDirty says when the work tree differs from HEAD: the archives are then not the build of
// the commit whose time they carry. A warning, not a refusal, so a change can be tried before it
// is committed.
func warnDirty(ctx context.Context, root string, stderr io.Writer) {
	cmd := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no")
	cmd.Dir = root
	out, err := cmd.Output()
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		fmt.Fprintln(stderr, "dist: warning: the work tree has uncommitted changes; these archives are not the build of HEAD")
	}
}

func allPlatforms() string {
	var s []string
	for _, p := range dist.Supported {
		s = append(s, p.String())
	}
	return strings.Join(s, " ")
}
