#!/usr/bin/env bash
# What versions and conditional requests cost main, side by side in one run, alternated
# round by round: plain GETs and PUTs (no precondition) against a BASELINE binary built
# before the feature, and a conditional PUT ("If-Match: *" on an existing key) against a
# plain PUT on the same binary. Also the bytes allocated per plain request, from each
# binary's kvs_gc_allocated_bytes, and main's CPU time per answer. Prints each round and the median ratios.
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
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, in clock ticks
# rate binary port script: prints "requests/s bytes-allocated-per-request main-CPU-µs-per-request"
# (CPU time per answer is what a shared machine disturbs least)
rate() {
    start "$1" "$2"
    local before after out ticks_before ticks_after
    before=$(allocated "$2"); ticks_before=$(cpu_ticks "$pid")
    out=$(taskset -c 0 wrk -t1 -c32 -d"${seconds}s" -s "bench/lua/$3" "http://127.0.0.1:$2" -- 1000)
    after=$(allocated "$2"); ticks_after=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 -c "import sys, os; n = max(int(sys.argv[2]), 1); print(sys.argv[1], round(($after - $before) / n), round(($ticks_after - $ticks_before) * 1e6 / os.sysconf('SC_CLK_TCK') / n, 2))" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '/requests in/ {print $1}' <<<"$out")"
}

get=() put=() cond=() alloc=() get_cpu=() put_cpu=() cond_cpu=()
for r in $(seq 1 "$rounds"); do
    read -r get_now get_now_b get_now_c < <(rate "$binary" 18184 get_hit.lua)
    read -r get_base get_base_b get_base_c < <(rate "$baseline" 18185 get_hit.lua)
    read -r put_now put_now_b put_now_c < <(rate "$binary" 18186 put_replace.lua)
    read -r put_base put_base_b put_base_c < <(rate "$baseline" 18187 put_replace.lua)
    read -r put_if _ put_if_c < <(rate "$binary" 18186 put_if_match_any.lua)
    echo "round $r: GET $get_now/s ${get_now_c} µs vs baseline $get_base/s ${get_base_c} µs ($get_now_b vs $get_base_b B/request); PUT $put_now/s ${put_now_c} µs vs $put_base/s ${put_base_c} µs ($put_now_b vs $put_base_b B); PUT If-Match: * $put_if/s ${put_if_c} µs"
    get+=("$(python3 -c "print($get_now / $get_base)")")
    put+=("$(python3 -c "print($put_now / $put_base)")")
    cond+=("$(python3 -c "print($put_if / $put_now)")")
    get_cpu+=("$(python3 -c "print($get_now_c / $get_base_c)")")
    put_cpu+=("$(python3 -c "print($put_now_c / $put_base_c)")")
    cond_cpu+=("$(python3 -c "print($put_if_c / $put_now_c)")")
    alloc+=("GET $get_now_b/$get_base_b B, PUT $put_now_b/$put_base_b B")
done
median() { python3 -c "import statistics, sys; v = sorted(map(float, sys.argv[1:])); print(f'{statistics.median(v):.3f}x (range {v[0]:.3f}-{v[-1]:.3f})')" "$@"; }
echo "plain GET, this vs baseline: $(median "${get[@]}")"
echo "plain PUT, this vs baseline: $(median "${put[@]}")"
echo "conditional PUT vs plain PUT, this binary: $(median "${cond[@]}")"
echo "main's CPU per answer (lower is cheaper): GET this/baseline $(median "${get_cpu[@]}"), PUT this/baseline $(median "${put_cpu[@]}"), conditional/plain PUT $(median "${cond_cpu[@]}")"
echo "allocated per request, this/baseline, by round: ${alloc[*]}"
