#!/usr/bin/env bash
# Builds the book with mdBook into book/book/ and fails on any error or
# warning mdBook logs (a broken {{#include}} is logged, not fatal, in
# mdBook 0.4). Installs mdBook MDBOOK_VERSION from crates.io when the
# `mdbook` on the PATH is missing or another version.
#
#   scripts/book.sh           build; open book/book/index.html
#   scripts/book.sh serve     the same, served on http://localhost:3000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MDBOOK_VERSION=${MDBOOK_VERSION:-0.4.52}
if ! mdbook --version 2>/dev/null | grep -qx "mdbook v$MDBOOK_VERSION"; then
    echo "installing mdbook $MDBOOK_VERSION (cargo install, a few minutes)"
    cargo install mdbook --locked --version "$MDBOOK_VERSION"
fi

if [ "${1:-}" = serve ]; then
    exec mdbook serve book
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
mdbook build book 2>&1 | tee "$log"
if grep -E '\[(ERROR|WARN)\]' "$log" >/dev/null; then
    echo "scripts/book.sh: mdbook logged errors or warnings (above): the book is broken" >&2
    exit 1
fi
echo "book built: book/book/index.html"
