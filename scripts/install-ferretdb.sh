#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (MongoDB wire-compatible server, SQLite backend), used only as the
# test database, into .cache/bin/ferretdb. `go install` of the module panics at start-up because
# the module ships an empty build/version/version.txt, so we build from a copy of the module
# source with that file filled in.
set -euo pipefail
VERSION=v1.24.2
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FERRETDB_BIN:-$root/.cache/bin/ferretdb}
if [ -x "$out" ] && "$out" --version >/dev/null 2>&1; then
  echo "ferretdb already built: $out"; exit 0
fi
command -v go >/dev/null || { echo "install-ferretdb: Go is not installed (needed to build the test database)" >&2; exit 1; }
build() {
  local src
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "install-ferretdb: go mod download gave no source dir" >&2; return 1; }
  local work
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$VERSION" > "$work/build/version/version.txt"
  mkdir -p "$(dirname "$out")"
  (cd "$work" && go build -trimpath -o "$out" ./cmd/ferretdb)
  rm -rf "$work"
}
if ! build; then
  echo "install-ferretdb: retrying with GOTOOLCHAIN=go1.24.3" >&2
  GOTOOLCHAIN=go1.24.3 build
fi
"$out" --version
