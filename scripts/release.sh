#!/usr/bin/env bash
# release.sh VERSION — build and sign a stackpilot release.
#
# Builds static binaries (CGO_ENABLED=0, -trimpath, the version stamped in
# with -ldflags "-X main.version=VERSION") for each platform, writes the
# release notes, SHA256SUMS (sha256sum's format, over every file) and its
# minisign signature SHA256SUMS.minisig, laid out the way GitHub serves
# release assets, so the directory can be uploaded to a release page or
# served as it is by any static file server (a mirror):
#
#   $OUT/download/vVERSION/stackpilot_linux_amd64   (…_linux_arm64, _darwin_amd64, _darwin_arm64)
#   $OUT/download/vVERSION/RELEASE_NOTES.md
#   $OUT/download/vVERSION/SHA256SUMS
#   $OUT/download/vVERSION/SHA256SUMS.minisig
#   $OUT/latest/download -> ../download/vVERSION  (a mirror's …/latest/download/ASSET;
#                                                  GitHub redirects those URLs itself)
#
# Publishing on GitHub: gh release create vVERSION $OUT/download/vVERSION/* --notes-file $OUT/download/vVERSION/RELEASE_NOTES.md
#
# Environment:
#   STACKPILOT_SIGNING_KEY       the minisign secret key (default ~/.config/stackpilot-release/minisign.key);
#                                never in the repository. An encrypted one needs STACKPILOT_SIGNING_KEY_PASSWORD.
#   STACKPILOT_RELEASE_DIR       $OUT (default dist)
#   STACKPILOT_RELEASE_PLATFORMS space-separated GOOS/GOARCH list (default the four above)
#   STACKPILOT_RELEASE_NOTES     a file with the notes (default: the commit subjects since the last tag)
#   STACKPILOT_RELEASE_KEYS      the public keys the binaries trust, comma-separated (default: the
#                                project's key compiled in from main.go); only tests set this, to a test key
#   STACKPILOT_RELEASE_NO_LATEST=1  do not point latest at this release
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'release: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }

[ $# -eq 1 ] || die "usage: scripts/release.sh VERSION (e.g. 1.4.0)"
version="${1#v}"
[[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
  die "version $1: want MAJOR.MINOR.PATCH[-PRERELEASE]"

key="${STACKPILOT_SIGNING_KEY:-$HOME/.config/stackpilot-release/minisign.key}"
[ -r "$key" ] || die "no signing key at $key — set STACKPILOT_SIGNING_KEY to the minisign secret key"
out="${STACKPILOT_RELEASE_DIR:-dist}"
platforms="${STACKPILOT_RELEASE_PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}"
dir="$out/download/v$version"
[ ! -e "$dir" ] || die "$dir exists — a published release is never rebuilt; remove it if it was not published"

ldflags="-s -w -X main.version=$version"
if [ -n "${STACKPILOT_RELEASE_KEYS:-}" ]; then
  [[ "$STACKPILOT_RELEASE_KEYS" =~ ^[A-Za-z0-9+/=,]+$ ]] || die "STACKPILOT_RELEASE_KEYS: base64 keys separated by commas"
  ldflags="$ldflags -X main.releaseKeys=$STACKPILOT_RELEASE_KEYS"
fi

tmp="$out/.v$version.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

for p in $platforms; do
  goos="${p%/*}" goarch="${p#*/}"
  [[ "$goos/$goarch" == "$p" && "$goos" =~ ^[a-z0-9]+$ && "$goarch" =~ ^[a-z0-9]+$ ]] || die "platform $p: want GOOS/GOARCH"
  say "building $goos/$goarch"
  CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" \
    go build -trimpath -ldflags "$ldflags" -o "$tmp/stackpilot_${goos}_${goarch}" .
done

if [ -n "${STACKPILOT_RELEASE_NOTES:-}" ]; then
  cp "$STACKPILOT_RELEASE_NOTES" "$tmp/RELEASE_NOTES.md"
else
  {
    printf 'stackpilot %s\n\n' "$version"
    if prev=$(git describe --tags --abbrev=0 2>/dev/null); then
      git log --no-merges --format='- %s' "$prev..HEAD" | head -n 100
    else
      git log --no-merges --format='- %s' -n 30
    fi
  } >"$tmp/RELEASE_NOTES.md"
fi

(cd "$tmp" && sha256sum -- stackpilot_* RELEASE_NOTES.md >SHA256SUMS)
say "signing SHA256SUMS"
go run ./internal/releasesign sign -s "$key" -version "$version" "$tmp/SHA256SUMS" >&2

mkdir -p "$out/download"
mv "$tmp" "$dir"
trap - EXIT
if [ -z "${STACKPILOT_RELEASE_NO_LATEST:-}" ]; then
  mkdir -p "$out/latest"
  ln -sfn "../download/v$version" "$out/latest/download.new" && mv -T "$out/latest/download.new" "$out/latest/download"
fi
say "release $version in $dir:"
ls -l "$dir" >&2
