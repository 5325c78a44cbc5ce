#!/usr/bin/env bash
# The test command of the README: builds the binaries the tests run against
# (hack/tools.sh, cached), then runs every test of the module.
# Extra arguments go to "go test" (e.g. hack/test.sh -run TestSnapshot ./backup).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(hack/tools.sh | sed 's/^/export /')"
if [ $# -eq 0 ]; then set -- ./...; fi
exec go test -timeout 45m -p 2 "$@"
