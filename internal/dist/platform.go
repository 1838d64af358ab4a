package dist

import (
	"fmt"
	"slices"
	"strings"
)

// Platform is one os/arch pair a release has an archive for.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Supported are the platforms a release is built for by default, and the only ones accepted:
// install.sh knows how to name exactly these (uname -s and -m), so an archive for any other
// would never be picked.
var Supported = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// Exe is the suffix of an executable on the platform: ".exe" on Windows.
func (p Platform) Exe() string {
	if p.OS == "windows" {
		return ".exe"
	}
	return ""
}

// Zip reports whether the platform's archive is a zip (Windows, where tar.gz is no one's habit
// and hard links are not made by common unpackers) rather than a tar.gz.
func (p Platform) Zip() bool { return p.OS == "windows" }

// ArchiveName is the archive's file name in a release: install.sh builds the same name from
// the version and the machine's platform.
func (p Platform) ArchiveName(version string) string {
	ext := ".tar.gz"
	if p.Zip() {
		ext = ".zip"
	}
	return fmt.Sprintf("slotless_%s_%s_%s%s", version, p.OS, p.Arch, ext)
}

// ParsePlatforms reads PLATFORMS: os/arch pairs separated by spaces or commas, each one of
// Supported, none twice. Empty means all of Supported.
func ParsePlatforms(s string) ([]Platform, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	if len(fields) == 0 {
		return slices.Clone(Supported), nil
	}
	var out []Platform
	for _, f := range fields {
		os, arch, _ := strings.Cut(f, "/")
		p := Platform{os, arch}
		if !slices.Contains(Supported, p) {
			return nil, fmt.Errorf("PLATFORMS: %q is not one of %s", f, supportedList())
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("PLATFORMS: %q is given twice", f)
		}
		out = append(out, p)
	}
	return out, nil
}

func supportedList() string {
	names := make([]string, len(Supported))
	for i, p := range Supported {
		names[i] = p.String()
	}
	return strings.Join(names, " ")
}
