#!/usr/bin/env bash
# Refreshes the console's vendored scripts from the npm registry. Only a developer who changes a
# version runs this (it needs npm); the files it writes are committed, so nothing at run time or in CI
# needs Node. Versions are pinned here and nowhere else: change one, run the script, commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

HTMX_VERSION=2.0.11   # htmx 4 (npm's `latest`) is a rewrite; 2.x is what the console is written for
UPLOT_VERSION=1.6.32

dest=src/openrds/console/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # package version -> unpacked into $work/<package>/package
  local name=$1 version=$2
  mkdir -p "$work/$name"
  # npm pack checks the tarball against the registry's integrity hash before writing it.
  (cd "$work/$name" && npm pack --silent "$name@$version" >/dev/null && tar -xzf ./*.tgz)
}

fetch htmx.org "$HTMX_VERSION"
fetch uplot "$UPLOT_VERSION"

rm -f "$dest"/htmx-*.min.js "$dest"/uPlot-*.iife.min.js "$dest"/uPlot-*.min.css
cp "$work/htmx.org/package/dist/htmx.min.js" "$dest/htmx-$HTMX_VERSION.min.js"
cp "$work/uplot/package/dist/uPlot.iife.min.js" "$dest/uPlot-$UPLOT_VERSION.iife.min.js"
cp "$work/uplot/package/dist/uPlot.min.css" "$dest/uPlot-$UPLOT_VERSION.min.css"
cp "$work/htmx.org/package/LICENSE" "$dest/LICENSE-htmx"
cp "$work/uplot/package/LICENSE" "$dest/LICENSE-uPlot"

{
  echo "# Vendored by scripts/refresh-console-vendor.sh; do not edit by hand."
  echo "htmx.org $HTMX_VERSION"
  echo "uplot $UPLOT_VERSION"
  (cd "$dest" && sha256sum -- *.js *.css)
} > "$dest/VERSIONS"
echo "vendored htmx.org $HTMX_VERSION and uplot $UPLOT_VERSION into $dest"
