#!/usr/bin/env bash
# The test command of the README: builds the binaries the tests run against
# (hack/tools.sh, cached), then runs every test of the module.
# Extra arguments go to "go test" (e.g. hack/test.sh -run TestSnapshot ./backup).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(hack/tools.sh | sed 's/^/export /')"
# backup/offsite's servers (S3: SeaweedFS's weed, built once; Azure: Azurite
# from npm), in parallel; without them those tests skip, unless
# LIFEBOAT_REQUIRE_S3 / LIFEBOAT_REQUIRE_AZURITE ask for them.
# The real-node tier (clustertest/realnode: kubelet and crictl, built
# once) likewise; without them its tests skip unless
# LIFEBOAT_REQUIRE_REALNODE=1.
hack/tools.sh azurite >/dev/null & azurite_pid=$!
hack/tools.sh realnode >/dev/null & realnode_pid=$!
hack/tools.sh s3 >/dev/null || echo "hack/test.sh: could not build weed: backup/offsite's S3 tests skip" >&2
wait "$azurite_pid" || echo "hack/test.sh: could not install Azurite: backup/offsite's Azure tests skip" >&2
wait "$realnode_pid" || echo "hack/test.sh: could not build kubelet/crictl: the real-node tests skip" >&2
if [ $# -eq 0 ]; then set -- ./...; fi
exec go test -timeout 45m -p 2 "$@"
