#!/usr/bin/env bash
# What versions and conditional requests cost main, side by side in one run, alternated
# round by round: plain GETs and PUTs (no precondition) against a BASELINE binary built
# before the feature, and a conditional PUT ("If-Match: *" on an existing key) against a
# plain PUT on the same binary. Also the bytes allocated per plain request, from each
# binary's kvs_gc_allocated_bytes. Prints each round and the median ratios.
#
#   bench/conditional-cost.sh [ROUNDS] [SECONDS]   BINARY=artifacts/publish/AotKvs BASELINE=path (required)
#
# Main pinned to CPU 1, wrk to CPU 0, 32 connections, 1,000 preloaded keys; ports
# 18184-18187 on 127.0.0.1; every process stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-3}
binary=${BINARY:-artifacts/publish/AotKvs}
baseline=${BASELINE:?BASELINE must name a binary built before the feature}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

start() { # binary port
    taskset -c 1 "$1" --urls "http://127.0.0.1:$2" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$2/healthz" && break; sleep 0.02; done
    wrk -t1 -c4 -d1s -s bench/lua/preload.lua "http://127.0.0.1:$2" -- 1000 >/dev/null
}
allocated() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^kvs_gc_allocated_bytes / {print $2}'; }
# rate binary port script: requests/s; also sets bytes_per to what one request allocated
rate() {
    start "$1" "$2"
    local before after requests
    before=$(allocated "$2")
    requests=$(taskset -c 0 wrk -t1 -c32 -d"${seconds}s" -s "bench/lua/$3" "http://127.0.0.1:$2" -- 1000 | tee /tmp/aotkvs-cond-wrk | awk '/requests in/ {print $1}')
    after=$(allocated "$2")
    bytes_per=$(python3 -c "print(round(($after - $before) / max($requests, 1)))")
    awk '/Requests\/sec/ {print $2}' /tmp/aotkvs-cond-wrk
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

get=() put=() cond=() alloc=()
for r in $(seq 1 "$rounds"); do
    get_now=$(rate "$binary" 18184 get_hit.lua);  get_now_b=$bytes_per
    get_base=$(rate "$baseline" 18185 get_hit.lua); get_base_b=$bytes_per
    put_now=$(rate "$binary" 18186 put_replace.lua); put_now_b=$bytes_per
    put_base=$(rate "$baseline" 18187 put_replace.lua); put_base_b=$bytes_per
    put_if=$(rate "$binary" 18186 put_if_match_any.lua)
    echo "round $r: GET $get_now/s vs baseline $get_base/s ($get_now_b vs $get_base_b B/request); PUT $put_now/s vs $put_base/s ($put_now_b vs $put_base_b B); PUT If-Match: * $put_if/s"
    get+=("$(python3 -c "print($get_now / $get_base)")")
    put+=("$(python3 -c "print($put_now / $put_base)")")
    cond+=("$(python3 -c "print($put_if / $put_now)")")
    alloc+=("GET $get_now_b/$get_base_b B, PUT $put_now_b/$put_base_b B")
done
median() { python3 -c "import statistics, sys; v = sorted(map(float, sys.argv[1:])); print(f'{statistics.median(v):.3f}x (range {v[0]:.3f}-{v[-1]:.3f})')" "$@"; }
echo "plain GET, this vs baseline: $(median "${get[@]}")"
echo "plain PUT, this vs baseline: $(median "${put[@]}")"
echo "conditional PUT vs plain PUT, this binary: $(median "${cond[@]}")"
echo "allocated per request, this/baseline, by round: ${alloc[*]}"
