#!/usr/bin/env bash
# Measures the cold-build cost of the generated azure-native bindings: `go build` from an empty
# build cache of a program importing every generated module, against the floor of a program that
# imports only the Pulumi Go SDK, in the same run. Module downloads are warmed first and are not
# counted. Prints wall time and peak RSS (GNU time's maximum resident set size) of each, and the
# ratio. Usage: bench/coldbuild.sh [runs]   (default 1 run of each; takes about 2.5 min a build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"
go mod download
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

measure() { # name pkg run
	local cache="$out/cache-$1-$3"
	mkdir -p "$cache"
	echo "cold build of $2 (run $3)..." >&2
	GOCACHE="$cache" GOFLAGS=-buildvcs=false /usr/bin/time -f "%e %M" -o "$out/$1-$3.time" \
		go build -o "$out/$1.bin" "$2"
	rm -rf "$cache"
	read -r secs kb < "$out/$1-$3.time"
	echo "$1 $secs $kb"
}

for r in $(seq 1 "$runs"); do
	measure floor ./bench/coldbuild/floor "$r"
	measure all ./bench/coldbuild/all "$r"
done | awk '
	{ t[$1] += $2; m[$1] = ($3 > m[$1] ? $3 : m[$1]); n[$1]++ }
	END {
		for (k in t) printf "%-6s wall %7.1f s  peak RSS %6.0f MiB  (%d run(s))\n", k, t[k]/n[k], m[k]/1024, n[k]
		printf "bindings add %.1f%% wall time and %.1f%% peak RSS to the floor (target: at most 15%%)\n", \
			(t["all"]/n["all"] / (t["floor"]/n["floor"]) - 1) * 100, (m["all"] / m["floor"] - 1) * 100
	}'
