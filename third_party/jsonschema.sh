#!/usr/bin/env bash
# third_party/jsonschema.sh — third_party/jsonschema is a pristine upstream
# release of github.com/santhosh-tekuri/jsonschema/v6 (tests, testdata and
# dotfiles left out) plus third_party/jsonschema.patch, nothing else.
#
#   third_party/jsonschema.sh --check    the copy is exactly go.mod's version plus the patch
#   third_party/jsonschema.sh VERSION    replace the copy by VERSION plus the patch, require VERSION
#   third_party/jsonschema.sh --diff     rewrite the patch from the copy (after editing the copy)
#
# When the patch no longer applies, VERSION fails and changes nothing: copy
# the release by hand, make the change again, then --diff. To drop the patch
# (upstream compiles its meta-schemas on first use), see README.md,
# Development.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/santhosh-tekuri/jsonschema/v6
copy=third_party/jsonschema
patchfile=third_party/jsonschema.patch

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pristine() { # VERSION DIR: the release's files as the copy keeps them
  local src
  src=$(go mod download -json "$mod@$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "cannot download $mod@$1" >&2; exit 1; }
  mkdir -p "$2"
  (cd "$src" && tar -c --exclude='*_test.go' --exclude=testdata --exclude='go.work*' -- *) | tar -x -C "$2" # * leaves the dotfiles out
  chmod -R u+w "$2"
}
required() { go list -m -f '{{.Version}}' "$mod"; }

case "${1:-}" in
--check)
  v=$(required)
  pristine "$v" "$tmp/want"
  (cd "$tmp/want" && patch -s -p1 <"$OLDPWD/$patchfile")
  diff -r "$tmp/want" "$copy" && echo "$copy is $mod $v plus $patchfile"
  ;;
--diff)
  v=$(required)
  pristine "$v" "$tmp/a"
  cp -r "$copy" "$tmp/b"
  (cd "$tmp" && git diff --no-index --no-prefix a b || true) >"$patchfile"
  echo "$patchfile: $(grep -c '^diff ' "$patchfile") files changed against $mod $v"
  ;;
v*)
  pristine "$1" "$tmp/new"
  (cd "$tmp/new" && patch -s -p1 <"$OLDPWD/$patchfile") || {
    echo "$patchfile does not apply to $mod $1: nothing changed" >&2
    exit 1
  }
  rm -rf "$copy"
  cp -r "$tmp/new" "$copy"
  go mod edit -require="$mod@$1"
  go mod tidy
  echo "$copy is now $mod $1 plus $patchfile; run the tests"
  ;;
*)
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
