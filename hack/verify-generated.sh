#!/usr/bin/env bash
# Fails when the generated files (CRDs, RBAC role, DeepCopy methods) differ
# from what `make manifests generate` writes for the current Go sources.
# It regenerates in place and compares with a snapshot taken before, so it
# works on a work tree with uncommitted edits too; after a failure the tree
# holds the fresh files, ready to commit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GENERATED=(config/crd/bases config/rbac charts/trustbroker/crds charts/trustbroker/files api/v1alpha1/zz_generated.deepcopy.go)
snap="$(mktemp -d)"
trap 'rm -rf "$snap"' EXIT
for p in "${GENERATED[@]}"; do
  mkdir -p "$snap/$(dirname "$p")"
  [[ -e "$p" ]] && cp -r "$p" "$snap/$p"
done
make --no-print-directory -s manifests generate >/dev/null
stale=0
for p in "${GENERATED[@]}"; do
  if ! diff -r -u "$snap/$p" "$p" >"$snap/diff" 2>&1; then
    echo "stale: $p" >&2
    head -n 40 "$snap/diff" >&2
    stale=1
  fi
done
if ((stale)); then
  echo "generated files were stale and have been rewritten: review and commit them" >&2
  exit 1
fi
echo "generated files are current"
