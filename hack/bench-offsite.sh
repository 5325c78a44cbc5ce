#!/usr/bin/env bash
# Side-by-side benchmark of an off-site backup (issue 15), in one run.
#
# Starts one etcd member (TLS on loopback) on a cached data set of
# BENCH_BYTES (built once by "benchsnap fill" and kept under
# $LIFEBOAT_CACHE/bench/), and a SeaweedFS S3 gateway (weed mini, from
# hack/tools.sh s3) on loopback, over https unless BENCH_S3_TLS=0. Then, each step a child process timed by
# GNU time (wall clock, peak RSS, CPU), ROUNDS times in alternating order:
#
#   etcdctl   = "etcdctl snapshot save" to local disk
#   stream    = offsite.Stream (benchsnap stream): snapshot, sha256 trailer
#               check, zstd, age, multipart upload to the local S3 server,
#               manifest last; nothing written to local disk
#   ceiling   = a client reading the member's snapshot stream and
#               discarding it (no disk, no hash; large gRPC windows)
#   snapshot  = backup.Snapshot (benchsnap save) to local disk
#
# and prints both times, the ratios, the compression ratio and the peak
# RSS, with the CPU the etcd member and the S3 server spent during each
# step (from /proc: on a 2-core machine the S3 server on the same cores
# is a large part of the stream's cost). Targets (reported, never asserted): stream <= 1.10 x etcdctl, peak
# RSS of stream < 128 MiB whatever the size, snapshot <= 1.05 x ceiling and
# <= 1.00 x etcdctl.
#
#   hack/bench-offsite.sh                              # 1.1 GiB, 1 round
#   BENCH_BYTES=$((256<<20)) hack/bench-offsite.sh     # a quick check
#   ROUNDS=3 BENCH_TEXT=0 hack/bench-offsite.sh        # incompressible values
#   BENCH_PROFILE=/tmp/stream.pprof hack/bench-offsite.sh  # CPU profile of the stream
#
# BENCH_TEXT=1 (the default) fills values with Kubernetes-like JSON objects
# whose names, UIDs and payloads are random (compressible as etcd's content
# is); BENCH_TEXT=0 with random bytes (no compression gain, the worst case
# for the pipeline). Note that the S3 server runs on the same machine and
# competes for its CPU and disk. It takes about 3 x BENCH_BYTES of disk
# beside the cache; run it on a quiet machine. Not part of the test command.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bytes=${BENCH_BYTES:-$((1100 << 20))}
value_size=${BENCH_VALUE_SIZE:-$((1 << 20))}
text=${BENCH_TEXT:-1}
rounds=${ROUNDS:-1}
zstd_level=${BENCH_ZSTD_LEVEL:-0}
timebin=${TIME:-/usr/bin/time}
"$timebin" -f %e true 2>/dev/null || { echo "bench-offsite: GNU time ($timebin) is required" >&2; exit 1; }
command -v openssl >/dev/null || { echo "bench-offsite: openssl is required for the test certificates" >&2; exit 1; }

eval "$(hack/tools.sh --print | sed 's/^/export /')"
[ -x "${LIFEBOAT_WEED:-}" ] || { echo "bench-offsite: weed missing: run hack/tools.sh s3" >&2; exit 1; }
cache_root=${LIFEBOAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat}/bench
kind=random; [ "$text" = 1 ] && kind=objects
cache=$cache_root/etcd-$((bytes >> 20))m-v$value_size-$kind
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench-offsite.XXXXXX")
etcd_pid="" weed_pid=""
cleanup() {
  for p in $etcd_pid $weed_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "building backup/internal/benchsnap" >&2
go build -o "$work/benchsnap" ./backup/internal/benchsnap

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_etcd DATA-DIR: starts the member on free ports; sets ep, tls, etcd_pid.
start_etcd() {
  local cport pport
  cport=$(port); pport=$(port)
  ep=https://127.0.0.1:$cport
  tls=(--cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key")
  "$LIFEBOAT_ETCD" --name bench --data-dir "$1" \
    --listen-client-urls "$ep" --advertise-client-urls "$ep" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "bench=http://127.0.0.1:$pport" \
    --cert-file "$pki/server.crt" --key-file "$pki/server.key" --trusted-ca-file "$pki/ca.crt" --client-cert-auth \
    --quota-backend-bytes $((8 << 30)) --snapshot-count 1000000 >>"$work/etcd.log" 2>&1 &
  etcd_pid=$!
  for _ in $(seq 150); do
    "$LIFEBOAT_ETCDCTL" --endpoints "$ep" "${tls[@]}" endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "bench-offsite: etcd did not start:" >&2; tail -20 "$work/etcd.log" >&2; exit 1
}
stop_etcd() { kill "$etcd_pid"; wait "$etcd_pid" 2>/dev/null || true; etcd_pid=""; }

# The data set: built once, then reused (a copy runs, the cache stays as built).
pki=$cache/pki
if [ ! -f "$cache/complete" ]; then
  echo "building the cached data set $cache (once)" >&2
  rm -rf "$cache"; mkdir -p "$pki"
  (
    cd "$pki"
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 3650 -out ca.crt
    for n in server client; do
      openssl ecparam -name prime256v1 -genkey -noout -out $n.key
      openssl req -new -key $n.key -subj /CN=$n -out $n.csr
    done
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    for n in server client; do
      openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile $n.ext -out $n.crt
    done
  ) 2>/dev/null
  start_etcd "$cache/data"
  echo "filling etcd with $((bytes >> 20)) MiB in values of $value_size bytes ($kind)" >&2
  text_flag=-text=false; [ "$text" = 1 ] && text_flag=-text
  "$work/benchsnap" fill -endpoint "$ep" -cacert "$pki/ca.crt" -cert "$pki/client.crt" -key "$pki/client.key" \
    -bytes "$bytes" -value-size "$value_size" "$text_flag"
  stop_etcd
  touch "$cache/complete"
fi
cp -r --reflink=auto "$cache/data" "$work/data"
start_etcd "$work/data"
dbsize=$(stat -c %s "$work/data/member/snap/db")
echo "etcd database: $((dbsize >> 20)) MiB" >&2

# The S3 server, with made-up credentials in the standard variables.
export AWS_ACCESS_KEY_ID=lifeboat-bench AWS_SECRET_ACCESS_KEY=lifeboat-bench-secret AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
s3port=$(port)
weed_args=(mini -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket=lifeboat -s3.port="$s3port"
  -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false -admin.port.legacy=0 -master.telemetry=false -s3.iam=false)
for p in master.port master.port.grpc volume.port volume.port.grpc filer.port filer.port.grpc s3.port.grpc admin.port admin.port.grpc; do
  weed_args+=("-$p=$(port)")
done
# BENCH_S3_TLS=1 (the default): the gateway serves https with the bench
# CA's server certificate (SAN 127.0.0.1), trusted through the AWS SDK's
# AWS_CA_BUNDLE, the shape of a real S3 endpoint. Over https the SDK sends
# UNSIGNED-PAYLOAD with a trailing CRC32; over plain http (BENCH_S3_TLS=0)
# it must sign every part's payload sha256, work a real endpoint never
# asks for.
if [ "${BENCH_S3_TLS:-1}" = 1 ]; then
  weed_args+=(-s3.cert.file="$pki/server.crt" -s3.key.file="$pki/server.key")
  export AWS_CA_BUNDLE=$pki/ca.crt
  dest="s3://lifeboat?endpoint=https%3A%2F%2F127.0.0.1%3A$s3port&region=us-east-1&use_path_style=true"
else
  dest="s3://lifeboat?endpoint=http%3A%2F%2F127.0.0.1%3A$s3port&region=us-east-1&use_path_style=true&disable_https=true"
fi
mkdir -p "$work/weed"
S3_BUCKET=lifeboat "$LIFEBOAT_WEED" "${weed_args[@]}" >"$work/weed.log" 2>&1 &
weed_pid=$!
# Wait for the bucket, but not for a gateway that exited (a port taken
# between port() and its bind, on a busy machine).
"$work/benchsnap" s3wait -dest "$dest" &
wait_pid=$!
while kill -0 "$wait_pid" 2>/dev/null; do
  if ! kill -0 "$weed_pid" 2>/dev/null; then
    kill "$wait_pid" 2>/dev/null || true
    echo "bench-offsite: the S3 gateway exited:" >&2; tail -20 "$work/weed.log" >&2; exit 1
  fi
  sleep 0.5
done
wait "$wait_pid" || { tail -20 "$work/weed.log" >&2; exit 1; }
recipient=$("$work/benchsnap" agekey)
certs=(-endpoint "$ep" -cacert "$pki/ca.crt" -cert "$pki/client.crt" -key "$pki/client.key")

results=$work/results
# cpu_ticks PID: user+system CPU clock ticks the process has used so far
# (0 when it is gone); the servers' share of each step's work.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
measure() {
  local label=$1; shift
  local e0 w0
  e0=$(cpu_ticks "$etcd_pid"); w0=$(cpu_ticks "$weed_pid")
  "$timebin" -f "$label %e %M %U %S" -o "$results.one" "$@" >"$work/out.log" 2>&1 || {
    echo "bench-offsite: $label failed:" >&2; cat "$work/out.log" >&2; exit 1; }
  echo "$(cat "$results.one") $(( $(cpu_ticks "$etcd_pid") - e0 )) $(( $(cpu_ticks "$weed_pid") - w0 ))" >>"$results"
  if [ "$label" = stream ]; then grep '^{' "$work/out.log" >>"$work/stream.json"; fi
}
etcdctl_save() {
  measure etcdctl env ETCDCTL_API=3 "$LIFEBOAT_ETCDCTL" --endpoints "$ep" "${tls[@]}" snapshot save "$work/etcdctl.db"
  rm -f "$work/etcdctl.db"
}
prof=(); [ -n "${BENCH_PROFILE:-}" ] && prof=(-cpuprofile "$BENCH_PROFILE")
stream() { measure stream "$work/benchsnap" stream "${certs[@]}" -dest "$dest" -recipient "$recipient" -zstd-level "$zstd_level" "${prof[@]}"; }
ceiling() { measure ceiling "$work/benchsnap" ceiling "${certs[@]}"; }
# Informational: the pipeline without the network (to a file:// bucket),
# and the storage alone (an upload of as many random bytes as stream stored).
stream_file() { mkdir -p "$work/fileblob"; measure stream-file "$work/benchsnap" stream "${certs[@]}" -dest "file://$work/fileblob" -recipient "$recipient" -zstd-level "$zstd_level"; rm -rf "$work/fileblob"; }
s3_put() {
  local stored
  stored=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]["stored"])' "$work/stream.json")
  measure s3-put "$work/benchsnap" put -dest "$dest" -bytes "$stored"
}
snapshot() {
  measure snapshot "$work/benchsnap" save "${certs[@]}" -out "$work/lifeboat.db"
  rm -f "$work/lifeboat.db"
}

# Warm the member's page cache once, unmeasured, so that no side meets it cold.
"$work/benchsnap" ceiling "${certs[@]}" >/dev/null
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  if [ $((r % 2)) = 1 ]; then etcdctl_save; stream; ceiling; snapshot; else snapshot; ceiling; stream; etcdctl_save; fi
  stream_file; s3_put
  # The same binary doing nothing: its baseline RSS (code and runtime).
  measure idle "$work/benchsnap" agekey
  sync
done

ratio=$(python3 -c 'import json,sys; rs=[json.loads(l)["ratio"] for l in open(sys.argv[1]) if l.startswith("{")]; print("%.2f" % (sum(rs)/len(rs)))' "$work/stream.json")
awk -v rounds="$rounds" -v cores="$(nproc)" -v db="$dbsize" -v vs="$value_size" -v kind="$kind" -v cr="$ratio" -v hz="$hz" '
  function median(a, n,   i, j, t, b) {
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j-1] > b[j]; j--) { t = b[j]; b[j] = b[j-1]; b[j-1] = t }
    return n % 2 ? b[(n+1)/2] : (b[n/2] + b[n/2+1]) / 2
  }
  { t[$1, ++n[$1]] = $2; m[$1, n[$1]] = $3; c[$1, n[$1]] = $4 + $5; ce[$1, n[$1]] = $6 / hz; cw[$1, n[$1]] = $7 / hz }
  END {
    printf "etcd database %.0f MiB (values of %d bytes, %s), %d round(s), each step a child process (GNU time: wall, max RSS, CPU)\n\n", db / 1048576, vs, kind, rounds
    printf "%-5s %-44s %9s %15s %8s %9s %9s\n", "round", "step", "wall (s)", "peak RSS (MiB)", "CPU (s)", "etcd CPU", "S3 CPU"
    split("etcdctl stream ceiling snapshot stream-file s3-put idle", order, " ")
    names["etcdctl"] = "etcdctl snapshot save (local disk)"
    names["stream"] = "lifeboat offsite.Stream -> zstd -> age -> S3"
    names["ceiling"] = "ceiling: read the stream, discard it"
    names["snapshot"] = "lifeboat backup.Snapshot (local disk)"
    names["stream-file"] = "(info) offsite.Stream to file:// (no S3)"
    names["s3-put"] = "(info) S3 upload alone, stored bytes"
    names["idle"] = "(info) the lifeboat binary idle: baseline"
    for (i = 1; i <= rounds; i++) {
      for (k = 1; k <= 7; k++) { s = order[k]; printf "%-5d %-44s %9.2f %15.1f %8.2f %9.2f %9.2f\n", i, names[s], t[s, i], m[s, i] / 1024, c[s, i], ce[s, i], cw[s, i] }
      rp[i] = t["stream", i] / t["etcdctl", i]; rc[i] = t["snapshot", i] / t["ceiling", i]; re[i] = t["snapshot", i] / t["etcdctl", i]
      # CPU of every process of the step (the client, etcd, the S3 server)
      for (k = 1; k <= 4; k++) { s = order[k]; all[s, i] = c[s, i] + ce[s, i] + cw[s, i] }
      ap[i] = all["stream", i] / all["etcdctl", i]; ac[i] = all["snapshot", i] / all["ceiling", i]
      if (m["stream", i] > peak) peak = m["stream", i]
    }
    printf "\nratios (median of rounds):\n"
    printf "  stream pipeline / etcdctl save   %5.2f   (target <= 1.10)\n", median(rp, rounds)
    printf "  backup.Snapshot / ceiling        %5.2f   (target <= 1.05)\n", median(rc, rounds)
    printf "  backup.Snapshot / etcdctl save   %5.2f   (target <= 1.00)\n", median(re, rounds)
    printf "  (info) CPU of client, etcd and S3 server together: stream / etcdctl %.2f, snapshot / ceiling %.2f\n", median(ap, rounds), median(ac, rounds)
    printf "         (on %d cores the wall time of a step is at least its CPU / %d)\n", cores, cores
    printf "compression ratio (plaintext / stored): %s\n", cr
    printf "peak RSS of the stream pipeline: %.1f MiB (target < 128), of which %.1f MiB the idle binary\n", peak / 1024, m["idle", 1] / 1024
  }' "$results"
