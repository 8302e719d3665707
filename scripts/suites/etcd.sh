#!/usr/bin/env bash
# A main over etcd (--store etcd://...) against the contract: one real etcd node on loopback
# (Debian's etcd-server, installed when missing), a main over it and a forwarder to that main,
# all from the published binary. Its own checks: the store is shared by two mains over the
# same etcd, and the etcd restart walk (503 while it is down, /readyz not ready, service back
# by itself). Then the whole xunit black-box suite runs against the main over etcd and through
# the forwarder (TRX in KVS_TRX_DIR, counted by scripts/test.sh as the same distinct tests).
# Last line: "RESULT passed=N failed=M" (its own checks).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/lib/common.sh"
source "$here/lib/etcd.sh"
cd "$REPO_ROOT" || exit 1

OUT="$REPO_ROOT/artifacts/etcd-suite"
rm -rf "$OUT" && mkdir -p "$OUT"
export KVS_LOG="$OUT/kvs.log"
passed=0 failed=0
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
pass() { echo "  ok   $1"; passed=$((passed + 1)); }
fail() { echo "  FAIL $1"; failed=$((failed + 1)); }
check() { # check NAME EXPECTED_STATUS METHOD URL [BODY]
  local got
  got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$3" -H 'Content-Type: application/json' ${5:+-d "$5"} "$4")
  if [ "$got" = "$2" ]; then pass "$1 ($3 → $got)"; else fail "$1: $3 $4 gave $got, expected $2"; fi
}

[ -x "$BINARY" ] || publish_service || { echo "RESULT passed=0 failed=1"; exit 1; }
etcd_start "$OUT/etcd" || { echo "RESULT passed=0 failed=1"; exit 1; }
pids+=("$ETCD_PID")
store="etcd://127.0.0.1:$ETCD_PORT"
prefix="/kvs-suite-$$/"

main_port=$(free_port)
main=$(kvs_start "$main_port" KVS_STORE="$store" KVS_STORE_PREFIX="$prefix") || { echo "main over etcd did not start"; cat "$KVS_LOG"; echo "RESULT passed=0 failed=1"; exit 1; }
pids+=("$main")
second_port=$(free_port)
second=$(kvs_start "$second_port" KVS_STORE="$store" KVS_STORE_PREFIX="$prefix") && pids+=("$second")
fwd_port=$(free_port)
fwd=$(kvs_start "$fwd_port" FORWARDING_ADDRESS="127.0.0.1:$main_port") && pids+=("$fwd")
M="http://127.0.0.1:$main_port" S="http://127.0.0.1:$second_port" F="http://127.0.0.1:$fwd_port"

echo "== one etcd ($store), main $M, a second main $S, forwarder $F"
check "ready over etcd" 200 GET "$M/readyz"
check "created through main" 201 PUT "$M/kvs/shared" '{"value": 1}'
check "seen by the second main" 200 GET "$S/kvs/shared"
check "replaced through the second main" 200 PUT "$S/kvs/shared" '{"value": 2}'
check "deleted through the forwarder" 200 DELETE "$F/kvs/shared"
check "gone for main" 404 GET "$M/kvs/shared"

echo "== etcd stopped: 503 at once, not ready; started again: back by itself"
check "stored before the stop" 201 PUT "$M/kvs/kept" '{"value": "kept"}'
kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null
t0=${EPOCHREALTIME/./}
check "a GET while etcd is down" 503 GET "$M/kvs/kept"
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
if [ "$ms" -le 1250 ]; then pass "its 503 came in $ms ms (bound 1000 ms)"; else fail "its 503 took $ms ms"; fi
ready=""
for _ in $(seq 1 60); do
  ready=$(curl -s -o /dev/null -w '%{http_code}' "$M/readyz"); [ "$ready" = 503 ] && break; sleep 0.05
done
[ "$ready" = 503 ] && pass "/readyz not ready while etcd is down" || fail "/readyz said $ready while etcd was down"
etcd_restart "$OUT/etcd" || fail "etcd did not start again"
pids+=("$ETCD_PID")
for _ in $(seq 1 100); do
  ready=$(curl -s -o /dev/null -w '%{http_code}' "$M/readyz"); [ "$ready" = 200 ] && break; sleep 0.05
done
[ "$ready" = 200 ] && pass "/readyz ready again after etcd restarted" || fail "/readyz said $ready after etcd restarted"
check "the value stored before the stop is back" 200 GET "$M/kvs/kept"

echo "== the xunit black-box suite against the main over etcd and through the forwarder"
dir="${KVS_TRX_DIR:-$OUT}"
rm -f "$dir/etcd.trx"
KVS_MAIN_URL="$M" KVS_FORWARDER_URLS="$F" dotnet test tests/AotKvs.Tests -c Release \
  --filter Category=BlackBox -nologo --logger "trx;LogFileName=etcd.trx" --results-directory "$dir" >"$OUT/xunit.log" 2>&1
if [ -f "$dir/etcd.trx" ]; then
  echo "xunit BlackBox again, against a main over one etcd node and a forwarder to it" >"$dir/etcd.trx.label"
  counted=$(python3 scripts/lib/test_count.py --summary "$dir/etcd.trx")
  echo "  xunit black-box suite over etcd: $counted (the same tests as the local run; not in RESULT)"
  if [[ "$counted" == "0 passed,"* ]]; then fail "the black-box suite passed nothing"; fi
  grep -E '^\s+Failed ' "$OUT/xunit.log" | head -n 20
  [[ "$counted" == *" 0 failed,"* ]] || [ -n "${KVS_TRX_DIR:-}" ] || fail "black-box suite over etcd: $counted"
else
  tail -n 30 "$OUT/xunit.log"; fail "the black-box suite over etcd did not run"
fi

echo "RESULT passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
