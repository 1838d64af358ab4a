#!/usr/bin/env bash
# Measures the cold-build cost of the generated azure-native bindings against the floor of a
# program that imports only the Pulumi Go SDK, in the same run:
#   floor  `go build` of bench/coldbuild/floor from an empty build cache;
#   all    `go build` of bench/coldbuild/all (imports every generated module) from an empty cache;
#   added  `go build` of bench/coldbuild/all on the cache the floor build just filled: exactly
#          what the bindings add, and far less disturbed by other load than two separate builds.
# Module downloads are warmed first and not counted. For each it prints wall time, CPU time
# (user+sys of the whole build tree) and peak RSS (GNU time's maximum resident set size).
# Usage: bench/coldbuild.sh [runs]   (default 1; a run takes about 5 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"
go mod download
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

measure() { # label pkg cache
	echo "building $2 as '$1'..." >&2
	GOCACHE="$3" GOFLAGS=-buildvcs=false /usr/bin/time -f "%e %U %S %M" -o "$out/time" \
		go build -o "$out/bin" "$2"
	read -r secs user sys kb < "$out/time"
	echo "$1 $secs $user $sys $kb"
}

for _ in $(seq 1 "$runs"); do
	rm -rf "$out/a" "$out/b"
	measure floor ./bench/coldbuild/floor "$out/a"
	measure added ./bench/coldbuild/all "$out/a"
	measure all ./bench/coldbuild/all "$out/b"
done | awk '
	{ t[$1] += $2; c[$1] += $3 + $4; m[$1] = ($5 > m[$1] ? $5 : m[$1]); n[$1]++ }
	END {
		split("floor all added", order, " ")
		for (i = 1; i <= 3; i++) { k = order[i]
			printf "%-6s wall %7.1f s  cpu %7.1f s  peak RSS %6.0f MiB  (%d run(s))\n", k, t[k]/n[k], c[k]/n[k], m[k]/1024, n[k] }
		printf "bindings add %.1f%% wall and %.1f%% cpu to the floor (warm-floor increment; target at most 15%%)\n", \
			t["added"] / t["floor"] * 100, c["added"] / c["floor"] * 100
		printf "cold all vs cold floor: %+.1f%% wall, %+.1f%% cpu, %+.1f%% peak RSS (noisier: two separate builds)\n", \
			(t["all"] / t["floor"] - 1) * 100, (c["all"] / c["floor"] - 1) * 100, (m["all"] / m["floor"] - 1) * 100
	}'
