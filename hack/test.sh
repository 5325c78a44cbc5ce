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
# Without arguments: every package, the slowest first. "go test -p 2" starts
# the packages in the order they are named, so a long package named last
# (./... lists restore near the end) runs alone after the others finished;
# started first, it overlaps them. The list is by package time in a full
# run (restore 810 s, clustertest 331 s, host 321 s, member 215 s,
# backup/offsite 184 s, examples/restore 130 s, lifecycle 123 s,
# examples/demo 101 s); a package missing from it still runs, after them,
# and a listed directory that no longer exists is left out.
if [ $# -eq 0 ]; then
	for p in ./restore ./clustertest ./host ./member ./backup/offsite ./examples/restore ./lifecycle ./examples/demo; do
		if [ -d "$p" ]; then set -- "$@" "$p"; fi
	done
	set -- "$@" ./...
fi
exec go test -timeout 45m -p 2 "$@"
