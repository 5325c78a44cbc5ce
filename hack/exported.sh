#!/usr/bin/env bash
# Counts the exported identifiers of lifeboat's library packages (every
# non-main package outside internal/, examples/, testdata/; clustertest
# counts). Columns: top-level funcs/types/vars/consts, exported methods, and
# exported struct fields. -v lists the top-level names.
# Usage: hack/exported.sh [-v | -unused]  (-unused: who outside each package names each identifier)
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./internal/exported -root . "$@"
