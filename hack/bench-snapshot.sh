#!/usr/bin/env bash
# Side-by-side benchmark of runbook chapter 1's snapshot step.
#
# Starts one etcd member (TLS on loopback, quota raised), fills it with
# BENCH_BYTES of incompressible values, then in one run and alternating
# ROUNDS times measures, each as a child process timed by GNU time
# (wall clock, peak RSS and CPU time from wait4):
#
#   script  = "etcdctl snapshot save" followed by "etcdutl snapshot status"
#             (what cluster-backup.sh does to take and check a snapshot)
#   lifeboat = backup.Snapshot (backup/internal/benchsnap save), which checks
#             the sha256 trailer while the snapshot streams
#
# plus, for information, backup.VerifySnapshot on lifeboat's file (hash pass
# and bolt consistency check, what backup.Verify costs).
#
# and prints a table with the ratios. Targets: lifeboat <= 0.85 x the
# script's two steps, <= 1.0 x "etcdctl snapshot save" alone, peak RSS
# < 64 MiB.
#
#   hack/bench-snapshot.sh                 # 1.1 GiB, 2 rounds
#   BENCH_BYTES=$((2<<30)) ROUNDS=3 hack/bench-snapshot.sh
#   BENCH_DIR=/var/tmp/bench hack/bench-snapshot.sh   # keep data elsewhere
#   BENCH_VALUE_SIZE=4096 hack/bench-snapshot.sh      # Kubernetes-sized objects
#
# It takes a few minutes and about 4x BENCH_BYTES of disk; run it on a quiet
# machine. Not part of the test command.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bytes=${BENCH_BYTES:-$((1100 << 20))}
value_size=${BENCH_VALUE_SIZE:-$((1 << 20))}
rounds=${ROUNDS:-2}
timebin=${TIME:-/usr/bin/time}
"$timebin" -f %e true 2>/dev/null || { echo "bench-snapshot: GNU time ($timebin) is required" >&2; exit 1; }
command -v openssl >/dev/null || { echo "bench-snapshot: openssl is required for the test certificates" >&2; exit 1; }

eval "$(hack/tools.sh | sed 's/^/export /')"
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench-snapshot.XXXXXX")
etcd_pid=""
cleanup() {
  if [ -n "$etcd_pid" ]; then kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building backup/internal/benchsnap" >&2
go build -o "$work/benchsnap" ./backup/internal/benchsnap

# Certificates: a CA, a server certificate for 127.0.0.1, a client certificate.
pki=$work/pki
mkdir -p "$pki"
(
  cd "$pki"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 2 -out ca.crt
  for n in server client; do
    openssl ecparam -name prime256v1 -genkey -noout -out $n.key
    openssl req -new -key $n.key -subj /CN=$n -out $n.csr
  done
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  for n in server client; do
    openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile $n.ext -out $n.crt
  done
) 2>/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(port)
pport=$(port)
ep=https://127.0.0.1:$cport
tls=(--cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key")

"$LIFEBOAT_ETCD" --name bench --data-dir "$work/data" \
  --listen-client-urls "$ep" --advertise-client-urls "$ep" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "bench=http://127.0.0.1:$pport" \
  --cert-file "$pki/server.crt" --key-file "$pki/server.key" --trusted-ca-file "$pki/ca.crt" --client-cert-auth \
  --quota-backend-bytes $((8 << 30)) >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do
  "$LIFEBOAT_ETCDCTL" --endpoints "$ep" "${tls[@]}" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done

echo "filling etcd with $((bytes >> 20)) MiB in values of $value_size bytes" >&2
"$work/benchsnap" fill -endpoint "$ep" -cacert "$pki/ca.crt" -cert "$pki/client.crt" -key "$pki/client.key" -bytes "$bytes" -value-size "$value_size"
dbsize=$(stat -c %s "$work/data/member/snap/db")
echo "etcd database: $((dbsize >> 20)) MiB" >&2

# measure LABEL CMD...: runs CMD as a child, appends "LABEL seconds maxrss_kib".
results=$work/results
measure() {
  local label=$1; shift
  "$timebin" -f "$label %e %M %U %S" -o "$results.one" "$@" >"$work/out.log" 2>&1 || {
    echo "bench-snapshot: $label failed:" >&2; cat "$work/out.log" >&2; exit 1; }
  cat "$results.one" >>"$results"
}

script_side() {
  measure etcdctl-save env ETCDCTL_API=3 "$LIFEBOAT_ETCDCTL" --endpoints "$ep" "${tls[@]}" snapshot save "$work/etcdctl.db"
  measure etcdutl-status "$LIFEBOAT_ETCDUTL" snapshot status "$work/etcdctl.db" -w table
  rm -f "$work/etcdctl.db"
}
lifeboat_side() {
  measure lifeboat "$work/benchsnap" save -endpoint "$ep" -cacert "$pki/ca.crt" -cert "$pki/client.crt" -key "$pki/client.key" -out "$work/lifeboat.db"
  # Informational: backup.VerifySnapshot (what Verify does to a snapshot).
  measure lifeboat-verify "$work/benchsnap" verify -out "$work/lifeboat.db"
  rm -f "$work/lifeboat.db"
}
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  # Alternate which side goes first, so neither always meets a cold cache
  # or the other's write-back.
  if [ $((r % 2)) = 1 ]; then script_side; lifeboat_side; else lifeboat_side; script_side; fi
  sync
done

awk -v rounds="$rounds" -v db="$dbsize" -v vs="$value_size" '
  function median(a, n,   i, j, t, b) {
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j-1] > b[j]; j--) { t = b[j]; b[j] = b[j-1]; b[j-1] = t }
    return n % 2 ? b[(n+1)/2] : (b[n/2] + b[n/2+1]) / 2
  }
  { t[$1, ++n[$1]] = $2; m[$1, n[$1]] = $3; c[$1, n[$1]] = $4 + $5 }
  END {
    printf "etcd database %.0f MiB (values of %d bytes), %d rounds, each step a child process (GNU time: wall, max RSS, CPU)\n\n", db / 1048576, vs, rounds
    printf "%-5s %-28s %9s %15s %8s\n", "round", "step", "wall (s)", "peak RSS (MiB)", "CPU (s)"
    best_ls = best_lb = best_s = 1e9
    for (i = 1; i <= rounds; i++) {
      s = t["etcdctl-save", i]; st = t["etcdutl-status", i]; lb = t["lifeboat", i]
      printf "%-5d %-28s %9.2f %15.1f %8.2f\n", i, "etcdctl snapshot save", s, m["etcdctl-save", i] / 1024, c["etcdctl-save", i]
      printf "%-5d %-28s %9.2f %15.1f %8.2f\n", i, "etcdutl snapshot status", st, m["etcdutl-status", i] / 1024, c["etcdutl-status", i]
      printf "%-5d %-28s %9.2f %15.1f %8.2f\n", i, "script (save + status)", s + st, (m["etcdctl-save", i] > m["etcdutl-status", i] ? m["etcdctl-save", i] : m["etcdutl-status", i]) / 1024, c["etcdctl-save", i] + c["etcdutl-status", i]
      printf "%-5d %-28s %9.2f %15.1f %8.2f\n", i, "lifeboat backup.Snapshot", lb, m["lifeboat", i] / 1024, c["lifeboat", i]
      printf "%-5d %-28s %9.2f %15.1f %8.2f\n", i, "(lifeboat VerifySnapshot)", t["lifeboat-verify", i], m["lifeboat-verify", i] / 1024, c["lifeboat-verify", i]
      printf "%-5d %-28s %9.2f   (target <= 0.85)\n", i, "ratio lifeboat / script", lb / (s + st)
      printf "%-5d %-28s %9.2f   (target <= 1.00)\n", i, "ratio lifeboat / save alone", lb / s
      rs[i] = lb / (s + st); rsave[i] = lb / s
      if (s + st < best_ls) best_ls = s + st
      if (s < best_s) best_s = s
      if (lb < best_lb) best_lb = lb
      if (m["lifeboat", i] > peak_lb) peak_lb = m["lifeboat", i]
      if (m["etcdutl-status", i] > peak_st) peak_st = m["etcdutl-status", i]
    }
    printf "\nbest of %d: script %.2f s, etcdctl save %.2f s, lifeboat %.2f s\n", rounds, best_ls, best_s, best_lb
    printf "ratios (best): lifeboat/script %.2f (target <= 0.85), lifeboat/save %.2f (target <= 1.00)\n", best_lb / best_ls, best_lb / best_s
    printf "ratios (median of rounds): lifeboat/script %.2f, lifeboat/save %.2f\n", median(rs, rounds), median(rsave, rounds)
    printf "peak RSS: lifeboat %.1f MiB (target < 64), etcdutl status %.1f MiB\n", peak_lb / 1024, peak_st / 1024
  }' "$results"
