#!/usr/bin/env bash
# Where does AotKvs main spend its CPU on GET hit and PUT replace?
# Starts artifacts/publish/AotKvs pinned to CPU 1, loads it with wrk from CPU 0, samples it
# with `perf record -e cpu-clock -g` and prints bucketed percentages (bench/perf_categories.py).
# Needs linux-perf (apt-get install -y linux-perf). Symbols come from artifacts/publish/AotKvs.dbg.
# Usage: bench/profile.sh [seconds]   (extra env for the server via PROFILE_ENV="K=V K2=V2")
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
port=18199
out=$(mktemp -d /tmp/aotkvs-profile-XXXX)
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }

env ${PROFILE_ENV:-} ASPNETCORE_URLS=http://127.0.0.1:$port taskset -c 1 artifacts/publish/AotKvs >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/kvs/x" && break; sleep 0.05; done

taskset -c 0 wrk -t1 -c16 -d3s -s bench/lua/preload.lua "http://127.0.0.1:$port" -- 1000 >/dev/null
for scenario in get_hit put_replace; do
    taskset -c 0 wrk -t1 -c32 -d$((secs + 3))s -s "bench/lua/$scenario.lua" "http://127.0.0.1:$port" -- 1000 >"$out/$scenario.wrk" &
    load=$!
    sleep 1
    perf record -q -e cpu-clock -F 999 -g -p "$server" -o "$out/$scenario.data" -- sleep "$secs" 2>/dev/null
    wait "$load"
    echo "== $scenario ($(grep -o '"requests":[0-9]*' "$out/$scenario.wrk"), 32 connections)"
    python3 bench/perf_categories.py "$out/$scenario.data"
    echo "top symbols:"
    perf report -i "$out/$scenario.data" --no-children --sort sym --stdio -g none 2>/dev/null \
        | grep -E '^ +[0-9]' | head -15
done
echo "raw data in $out"
