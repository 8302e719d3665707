#!/usr/bin/env bash
# A main over etcd against etcd's own JSON gateway and against the in-memory main, side by
# side in one run: PUT (replace) and GET (hit) of 1,000 preloaded keys at 32 connections,
# each measurement ROUNDS times in alternating order, on a 1-node etcd and then a 3-node
# cluster. Prints req/s, p50 and p99 per target and the ratios that matter:
#   main over etcd / the gateway (the hop this main adds), in-memory main / main over etcd.
#
#   scripts/bench-etcd.sh [SECONDS per run, default 5] [ROUNDS, default 2]
#
# Everything listens on free 127.0.0.1 ports and is stopped on exit; etcd's data goes to a
# temporary directory that is deleted. Needs wrk and etcd (installed when missing).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib/common.sh"
source "$here/lib/etcd.sh"
cd "$REPO_ROOT" || exit 1

SECONDS_PER_RUN="${1:-5}"
ROUNDS="${2:-2}"
CONNECTIONS=32
KEYS=1000
command -v wrk >/dev/null || ensure_packages wrk
[ -x "$BINARY" ] || publish_service

tmp=$(mktemp -d /tmp/kvs-bench-etcd.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
results="$tmp/results.jsonl"

# run LABEL OP URL SCRIPT [ARGS...]: one wrk run, its summary appended to the results.
run() {
  local label="$1" op="$2" url="$3" script="$4"
  shift 4
  local line
  line=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "bench/lua/$script" "$url" -- "$KEYS" "$@" | grep '^BENCHJSON' | cut -d' ' -f2-)
  echo "{\"target\":\"$label\",\"op\":\"$op\",\"result\":$line}" >>"$results"
}

preload() { # preload URL: PUT every key once (wrk's preload script stops itself)
  wrk -t1 -c8 -d30s -s bench/lua/preload.lua "$1" -- "$KEYS" >/dev/null
}

memory_port=$(free_port)
memory=$(kvs_start "$memory_port") || { echo "the in-memory main did not start"; exit 1; }
pids+=("$memory")
preload "http://127.0.0.1:$memory_port"

# bench_cluster NAME GATEWAY_URL STORE: a main over STORE, measured beside the gateway and the in-memory main.
bench_cluster() {
  local name="$1" gateway="$2" store="$3" port pid
  port=$(free_port)
  pid=$(kvs_start "$port" KVS_STORE="$store") || { echo "the main over $store did not start"; exit 1; }
  pids+=("$pid")
  preload "http://127.0.0.1:$port"
  for round in $(seq 1 "$ROUNDS"); do
    echo "  $name, round $round of $ROUNDS"
    # One cell per line: label|op|url|script|script argument. Odd rounds run them in this
    # order, even rounds backwards, so that neither side always runs first on a warm or busy machine.
    local cells=(
      "main over etcd ($name)|put|http://127.0.0.1:$port|put_replace.lua|"
      "etcd gateway ($name)|put|$gateway|etcd_gateway.lua|put"
      "in-memory main|put|http://127.0.0.1:$memory_port|put_replace.lua|"
      "main over etcd ($name)|get|http://127.0.0.1:$port|get_hit.lua|"
      "etcd gateway ($name)|get|$gateway|etcd_gateway.lua|get"
      "in-memory main|get|http://127.0.0.1:$memory_port|get_hit.lua|"
    )
    local order=("${!cells[@]}")
    if ((round % 2 == 0)); then order=($(printf '%s\n' "${order[@]}" | tac)); fi
    local i label op url script argument
    for i in "${order[@]}"; do
      IFS='|' read -r label op url script argument <<<"${cells[$i]}"
      run "$label" "$op" "$url" "$script" ${argument:+"$argument"}
    done
  done
  kill "$pid"
}

echo "== 1-node etcd"
etcd_start "$tmp/one" || exit 1
pids+=("$ETCD_PID")
bench_cluster "1 node" "$ETCD_URL" "etcd://127.0.0.1:$ETCD_PORT"
kill "$ETCD_PID"

echo "== 3-node etcd (the gateway measured on the first node; the main is given all three)"
peers=() clients=()
for i in 0 1 2; do clients+=("$(free_port)"); peers+=("$(free_port)"); done
initial=""
for i in 0 1 2; do initial+="${initial:+,}n$i=http://127.0.0.1:${peers[$i]}"; done
for i in 0 1 2; do
  etcd --name "n$i" --data-dir "$tmp/three/n$i" --log-level warn \
    --listen-client-urls "http://127.0.0.1:${clients[$i]}" --advertise-client-urls "http://127.0.0.1:${clients[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${peers[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${peers[$i]}" \
    --initial-cluster "$initial" >"$tmp/three-n$i.log" 2>&1 &
  pids+=("$!")
done
deadline=$((SECONDS + 30))
until curl -sf -X POST "http://127.0.0.1:${clients[0]}/v3/kv/put" -d '{"key":"AA==","value":"AA=="}' >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { echo "the 3-node cluster did not form"; exit 1; }
  sleep 0.1
done
bench_cluster "3 nodes" "http://127.0.0.1:${clients[0]}" "etcd://127.0.0.1:${clients[0]},127.0.0.1:${clients[1]},127.0.0.1:${clients[2]}"

python3 - "$results" "$CONNECTIONS" "$SECONDS_PER_RUN" "$ROUNDS" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
conns, secs, rounds = sys.argv[2:5]
by = {}
for r in rows:
    res = r["result"]
    rate = res["requests"] / (res["duration_us"] / 1e6)
    errors = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_status"] + res["err_timeout"]
    by.setdefault((r["target"], r["op"]), []).append((rate, res["p50_us"], res["p99_us"], errors))
def med(key, i):
    return statistics.median(v[i] for v in by[key])
print(f"\n{conns} connections, {secs} s per run, median of {rounds} rounds, 1,000 keys, 20-byte value\n")
print(f"| target | op | req/s | p50 ms | p99 ms | errors |")
print(f"| --- | --- | ---: | ---: | ---: | ---: |")
for (target, op) in sorted(by, key=lambda k: (k[1], k[0])):
    k = (target, op)
    print(f"| {target} | {op.upper()} | {med(k,0):,.0f} | {med(k,1)/1000:.2f} | {med(k,2)/1000:.2f} | {sum(v[3] for v in by[k])} |")
print("\n| ratio | PUT | GET |")
print("| --- | ---: | ---: |")
for name in ("1 node", "3 nodes"):
    main, gw = f"main over etcd ({name})", f"etcd gateway ({name})"
    if (main, "put") not in by: continue
    print(f"| main over etcd / etcd gateway, {name} | {med((main,'put'),0)/med((gw,'put'),0):.2f}x | {med((main,'get'),0)/med((gw,'get'),0):.2f}x |")
    print(f"| in-memory main / main over etcd, {name} | {med(('in-memory main','put'),0)/med((main,'put'),0):.2f}x | {med(('in-memory main','get'),0)/med((main,'get'),0):.2f}x |")
PY
