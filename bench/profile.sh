#!/usr/bin/env bash
# Where does AotKvs spend its CPU on GET hit and PUT replace?
#   main (default): artifacts/publish/AotKvs pinned to CPU 1, loaded by wrk from CPU 0.
#   --forwarder [BINARY]: a main (artifacts/publish/AotKvs) on CPU 0 beside wrk and a
#     forwarder in front of it on CPU 1 (BINARY, default artifacts/publish/AotKvs, so two
#     forwarder builds can be compared in front of one main); only the forwarder is sampled.
# The target is sampled with `perf record -e cpu-clock -g`; prints bucketed percentages
# (bench/perf_categories.py) and the top symbols. Needs linux-perf (installed when missing).
# Usage: bench/profile.sh [--forwarder [BINARY]] [seconds]   (extra env for the target via PROFILE_ENV="K=V K2=V2")
set -euo pipefail
cd "$(dirname "$0")/.."
role=main
bin=artifacts/publish/AotKvs
if [ "${1:-}" = --forwarder ]; then
    role=forwarder
    shift
    if [ -n "${1:-}" ] && [ -x "$1" ]; then bin=$1; shift; fi
fi
secs=${1:-8}
port=18199
main_port=18197
out=$(mktemp -d /tmp/aotkvs-profile-XXXX)
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
if [ "$role" = forwarder ]; then
    ASPNETCORE_URLS=http://127.0.0.1:$main_port FORWARDING_ADDRESS= taskset -c 0 artifacts/publish/AotKvs >"$out/main.log" 2>&1 &
    pids+=($!)
    env ${PROFILE_ENV:-} ASPNETCORE_URLS=http://127.0.0.1:$port FORWARDING_ADDRESS=127.0.0.1:$main_port taskset -c 1 "$bin" >"$out/target.log" 2>&1 &
else
    env ${PROFILE_ENV:-} ASPNETCORE_URLS=http://127.0.0.1:$port taskset -c 1 "$bin" >"$out/target.log" 2>&1 &
fi
target=$!
pids+=("$target")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/kvs/x" && break; sleep 0.05; done

taskset -c 0 wrk -t1 -c16 -d3s -s bench/lua/preload.lua "http://127.0.0.1:$port" -- 1000 >/dev/null
for scenario in get_hit put_replace; do
    taskset -c 0 wrk -t1 -c32 -d$((secs + 3))s -s "bench/lua/$scenario.lua" "http://127.0.0.1:$port" -- 1000 >"$out/$scenario.wrk" &
    load=$!
    sleep 1
    perf record -q -e cpu-clock -F 999 -g -p "$target" -o "$out/$scenario.data" -- sleep "$secs" 2>/dev/null
    wait "$load"
    echo "== $scenario ($(grep -o '"requests":[0-9]*' "$out/$scenario.wrk"), 32 connections, $role only)"
    python3 bench/perf_categories.py "$out/$scenario.data"
    echo "top symbols:"
    perf report -i "$out/$scenario.data" --no-children --sort sym --stdio -g none 2>/dev/null \
        | grep -E '^ +[0-9]' | head -15 || true # head closing the pipe early is not a failure
done
echo "raw data in $out"
