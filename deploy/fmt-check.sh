#!/usr/bin/env bash
# Fails (and lists the files) when any Go file is not gofmt-formatted.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

files=()
while IFS= read -r -d '' f; do
	files+=("$f")
done < <(find . \( -path ./.git -o -path ./.run -o -path ./bin -o -name node_modules -o -name vendor -o -name testdata \) -prune \
	-o -type f -name '*.go' -print0)
[ "${#files[@]}" -gt 0 ] || exit 0

bad="$(gofmt -l "${files[@]}")"
if [ -n "$bad" ]; then
	echo "fmt-check: these files need gofmt (run: gofmt -w <file>):" >&2
	printf '%s\n' "$bad" | sed 's/^/  /' >&2
	exit 1
fi
