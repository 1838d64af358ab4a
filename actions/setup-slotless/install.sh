#!/usr/bin/env bash
# Installs a released slotless: the binary, which is also the Pulumi language plugin
# (pulumi-language-slotless), and the CI helper scripts, once the archive matches the release's
# SHA256SUMS.
#
#   install.sh VERSION DEST      install into DEST; print DEST/bin, the one line on stdout
#   install.sh --resolve [VERSION]
#                                print the version install.sh would install, and exit
#
# VERSION is v<semver> (v1.2.0). Empty, it is the version the project pins: runtime.options.version
# of ./Pulumi.yaml. The archive for this machine (slotless_<version>_<os>_<arch>.tar.gz, or .zip
# on Windows) and SHA256SUMS come from $SLOTLESS_DOWNLOAD_URL/<version>/, by default the GitHub
# releases. An archive whose checksum differs, or that SHA256SUMS does not list, is refused.
# DEST ends up with bin/slotless, bin/pulumi-language-slotless and ci/*.sh; the unpacked binary
# must print its version before it replaces anything there. Needs bash, curl or wget, sha256sum
# or shasum, tar (unzip on Windows) and awk.
set -euo pipefail

default_url=https://github.com/slotless/slotless/releases/download
base="${SLOTLESS_DOWNLOAD_URL:-$default_url}"
base="${base%/}"

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}
usage() {
	say "usage: install.sh VERSION DEST | install.sh --resolve [VERSION] (VERSION may be empty: then ./Pulumi.yaml's runtime.options.version)"
	exit 2
}

# pinned_version prints runtime.options.version of a Pulumi.yaml, block or flow style, quoted or
# not, or nothing. The same awk program reads it in the Azure Pipelines template and the Pulumi
# Deployments settings, which run before any slotless is installed; a test keeps the copies equal.
pinned_version() {
	awk -v q="[\"']" '{ l = $0; sub(/\r$/, "", l); sub(/^#.*/, "", l); sub(/[ \t]+#.*/, "", l) } l ~ /^[^ \t]/ { if (rt) exit; rt = l ~ /^runtime:/ } !rt || l ~ /^[ \t]*$/ { next } { match(l, /^[ \t]*/); i = RLENGTH } o && i <= oi { o = 0 } o && !c { c = i } (o && i == c && l ~ /^[ \t]*version:/) || (l ~ /options:[ \t]*\{/ && l ~ /[{,][ \t]*version:/) { sub(/.*version:[ \t]*/, "", l); sub(/[ \t,}].*/, "", l); gsub(q, "", l); print l; exit } l ~ /^[ \t]+options:/ { o = 1; oi = i; c = 0 }' "$1"
}

# resolve_version prints the version to install: the argument, or the one ./Pulumi.yaml pins.
resolve_version() {
	local v="$1"
	if [ -z "$v" ]; then
		[ -f Pulumi.yaml ] || die "no VERSION given, and no Pulumi.yaml in $PWD to read runtime.options.version from"
		v="$(pinned_version Pulumi.yaml)"
		[ -n "$v" ] || die "no VERSION given, and $PWD/Pulumi.yaml has no runtime.options.version: pin one (runtime: {name: slotless, options: {version: v1.2.0}}) or pass VERSION"
		say "version $v, pinned by $PWD/Pulumi.yaml (runtime.options.version)"
	fi
	[[ "$v" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
		die "version \"$v\" is not v<semver>: want v<major>.<minor>.<patch>[-<prerelease>], such as v1.2.0"
	printf '%s\n' "$v"
}

# platform prints os/arch as the release names them.
platform() {
	local os arch
	case "$(uname -s)" in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	MINGW* | MSYS* | CYGWIN*) os=windows ;;
	*) die "no release for $(uname -s): there are archives for Linux, macOS (Darwin) and Windows (Git Bash)" ;;
	esac
	case "$(uname -m)" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) die "no release for $(uname -m): there are archives for x86_64 (amd64) and arm64" ;;
	esac
	printf '%s/%s\n' "$os" "$arch"
}

fetch() { # URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1" || die "download of $1 failed"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "download of $1 failed"
	else
		die "neither curl nor wget is installed"
	fi
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | awk '{ print $1 }'
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | awk '{ print $1 }'
	else
		die "neither sha256sum nor shasum is installed"
	fi
}

if [ "${1:-}" = --resolve ]; then
	[ $# -le 2 ] || usage
	resolve_version "${2:-}"
	exit 0
fi
[ $# -eq 2 ] || usage
version="$(resolve_version "$1")"
dest="$2"
[ -n "$dest" ] || usage
plat="$(platform)"
os="${plat%/*}"
arch="${plat#*/}"
exe=""
archive="slotless_${version}_${os}_${arch}.tar.gz"
if [ "$os" = windows ]; then
	exe=.exe
	archive="slotless_${version}_${os}_${arch}.zip"
fi

mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
# Staged inside DEST, so the final moves are renames on one file system.
stage="$(mktemp -d "$dest/.install.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

url="$base/$version"
say "slotless $version for $os/$arch from $url/"
fetch "$url/SHA256SUMS" "$stage/SHA256SUMS"
fetch "$url/$archive" "$stage/$archive"

want="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$stage/SHA256SUMS")"
[ -n "$want" ] || die "$url/SHA256SUMS has no line for $archive: refusing to install an archive the release does not vouch for"
got="$(sha256 "$stage/$archive")"
[ "$got" = "$want" ] || die "checksum mismatch for $archive: SHA256SUMS says $want, the download is $got; refusing it"

mkdir "$stage/x"
case "$archive" in
*.zip) unzip -q "$stage/$archive" -d "$stage/x" || die "cannot unpack $archive (is unzip installed?)" ;;
*) tar -xzf "$stage/$archive" -C "$stage/x" || die "cannot unpack $archive" ;;
esac
for f in "slotless$exe" "pulumi-language-slotless$exe" ci; do
	[ -e "$stage/x/$f" ] || die "$archive has no $f: not a slotless release archive"
done

printed="$("$stage/x/slotless$exe" version)" || die "the unpacked slotless$exe does not run on this machine"
case "$printed" in
"slotless $version "*) ;;
*) die "the unpacked slotless$exe says \"$printed\", want slotless $version: refusing it" ;;
esac

mkdir -p "$dest/bin"
mv -f "$stage/x/slotless$exe" "$dest/bin/slotless$exe"
mv -f "$stage/x/pulumi-language-slotless$exe" "$dest/bin/pulumi-language-slotless$exe"
rm -rf "$dest/ci"
mv "$stage/x/ci" "$dest/ci"
say "installed $printed into $dest (bin/, ci/)"
printf '%s\n' "$dest/bin"
