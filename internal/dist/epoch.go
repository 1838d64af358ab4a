package dist

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// EpochVar is the reproducible-builds convention for the time a build stamps on its outputs
// (https://reproducible-builds.org/specs/source-date-epoch/): seconds since 1970, UTC.
const EpochVar = "SOURCE_DATE_EPOCH"

// SourceDate is the modification time of every archive entry: SOURCE_DATE_EPOCH when set, else
// the commit time of HEAD in dir, so two builds of one commit stamp the same time wherever and
// whenever they run. With neither, it refuses rather than fall back on the clock, which would
// make every build differ.
func SourceDate(ctx context.Context, getenv func(string) string, dir string) (time.Time, error) {
	if v := getenv(EpochVar); v != "" {
		return parseEpoch(EpochVar, v)
	}
	cmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct", "HEAD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not set and git cannot give HEAD's commit time in %s (%v): set %s to the seconds since 1970 to stamp on the archives", EpochVar, dir, err, EpochVar)
	}
	return parseEpoch("HEAD's commit time", strings.TrimSpace(string(out)))
}

// maxEpoch is the last second a ustar header can hold (11 octal digits).
const maxEpoch = 1<<33 - 1

func parseEpoch(what, v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxEpoch {
		return time.Time{}, fmt.Errorf("%s %q: want whole seconds since 1970, from 0 to %d", what, v, int64(maxEpoch))
	}
	return time.Unix(n, 0).UTC(), nil
}
