#!/usr/bin/env bash
# Builds the binaries lifeboat's tests and demo run against -- etcd, etcdctl,
# etcdutl (v3.7.3) and kube-apiserver (v1.35.4) -- from the Go module proxy,
# using the pinned tools modules under internal/toolchain/modules/ (the same
# builder clustertest.EnsureBinaries runs). Binaries land in a cache outside
# the repository, in a directory named by version, so they are rebuilt only
# when a pinned version changes. clustertest looks for them in the same place.
#
#   hack/tools.sh            build what is missing, print the bin directory
#   hack/tools.sh --print    print the bin directory only
#   hack/tools.sh s3         also build SeaweedFS's weed (the S3 server of
#                            backup/offsite's tests; minutes on 2 cores, once)
#   hack/tools.sh azurite    also install Azurite (the Azure Blob emulator)
#                            from npm into the cache (needs node and npm)
#   hack/tools.sh realnode   also build kubelet (v1.35.4, from the
#                            kube-apiserver tools module) and crictl
#                            (v1.37.0): the real-node tier of
#                            clustertest/realnode (minutes, once)
#   hack/tools.sh all        s3 and azurite (not realnode)
#
# Environment:
#   LIFEBOAT_CACHE_DIR   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat)
#   LIFEBOAT_ETCD, LIFEBOAT_ETCDCTL, LIFEBOAT_ETCDUTL, LIFEBOAT_KUBE_APISERVER,
#   LIFEBOAT_WEED, LIFEBOAT_AZURITE, LIFEBOAT_KUBELET, LIFEBOAT_CRICTL
#                        use these binaries instead; nothing is built for them
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${LIFEBOAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat}

version() { awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$top/internal/toolchain/modules/$1/go.mod.txt"; }
etcd_dir="$cache/bin/etcd-$(version etcd go.etcd.io/etcd/server/v3)"
kas_dir="$cache/bin/kube-apiserver-$(version kube-apiserver k8s.io/kubernetes)"
weed_dir="$cache/bin/weed-$(version weed github.com/seaweedfs/seaweedfs)"
kubelet_dir="$cache/bin/kubelet-$(version kube-apiserver k8s.io/kubernetes)"
crictl_dir="$cache/bin/crictl-$(version crictl sigs.k8s.io/cri-tools)"
azurite_version=3.35.0
azurite_dir="$cache/azurite-$azurite_version"

if [ "${1:-}" = "--print" ]; then
  echo "LIFEBOAT_ETCD=${LIFEBOAT_ETCD:-$etcd_dir/etcd}"
  echo "LIFEBOAT_ETCDCTL=${LIFEBOAT_ETCDCTL:-$etcd_dir/etcdctl}"
  echo "LIFEBOAT_ETCDUTL=${LIFEBOAT_ETCDUTL:-$etcd_dir/etcdutl}"
  echo "LIFEBOAT_KUBE_APISERVER=${LIFEBOAT_KUBE_APISERVER:-$kas_dir/kube-apiserver}"
  echo "LIFEBOAT_WEED=${LIFEBOAT_WEED:-$weed_dir/weed}"
  echo "LIFEBOAT_AZURITE=${LIFEBOAT_AZURITE:-$azurite_dir/node_modules/.bin/azurite-blob}"
  echo "LIFEBOAT_KUBELET=${LIFEBOAT_KUBELET:-$kubelet_dir/kubelet}"
  echo "LIFEBOAT_CRICTL=${LIFEBOAT_CRICTL:-$crictl_dir/crictl}"
  exit 0
fi
want_s3=; want_azurite=; want_realnode=
case "${1:-}" in
  "") ;;
  s3) want_s3=1 ;;
  azurite) want_azurite=1 ;;
  realnode) want_realnode=1 ;;
  all) want_s3=1; want_azurite=1 ;;
  *) echo "usage: $0 [--print | s3 | azurite | realnode | all]" >&2; exit 2 ;;
esac

build() { # tool groups of internal/toolchain; each is built once, then cached
  (cd "$top" && go run ./internal/toolchain/cmd/lifeboat-tools "$@")
}

groups=()
if [ -z "${LIFEBOAT_ETCD:-}${LIFEBOAT_ETCDCTL:-}${LIFEBOAT_ETCDUTL:-}" ] && [ ! -x "$etcd_dir/etcdutl" ]; then
  groups+=(etcd)
fi
if [ -z "${LIFEBOAT_KUBE_APISERVER:-}" ] && [ ! -x "$kas_dir/kube-apiserver" ]; then
  groups+=(kube-apiserver)
fi
if [ -n "$want_s3" ] && [ -z "${LIFEBOAT_WEED:-}" ] && [ ! -x "$weed_dir/weed" ]; then
  groups+=(weed)
fi
if [ -n "$want_realnode" ] && [ -z "${LIFEBOAT_KUBELET:-}" ] && [ ! -x "$kubelet_dir/kubelet" ]; then
  groups+=(kubelet)
fi
if [ -n "$want_realnode" ] && [ -z "${LIFEBOAT_CRICTL:-}" ] && [ ! -x "$crictl_dir/crictl" ]; then
  groups+=(crictl)
fi
if [ ${#groups[@]} -gt 0 ]; then
  build "${groups[@]}"
fi
if [ -n "$want_azurite" ] && [ -z "${LIFEBOAT_AZURITE:-}" ] && [ ! -x "$azurite_dir/node_modules/.bin/azurite-blob" ]; then
  echo "lifeboat: installing Azurite $azurite_version from npm into $azurite_dir (once)" >&2
  rm -rf "$azurite_dir.tmp" && mkdir -p "$azurite_dir.tmp"
  npm install --prefix "$azurite_dir.tmp" --no-audit --no-fund --loglevel=error "azurite@$azurite_version" >&2
  rm -rf "$azurite_dir" && mv "$azurite_dir.tmp" "$azurite_dir"
fi
"$0" --print
