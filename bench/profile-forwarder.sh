#!/usr/bin/env bash
# Where does an AotKvs forwarder spend its CPU on a forwarded GET hit and PUT replace?
# Starts a main (CPU 0, beside wrk) and a forwarder in front of it (CPU 1), loads the
# forwarder with wrk, samples only the forwarder with `perf record -e cpu-clock -g` and
# prints bucketed percentages (bench/perf_categories.py) and the top symbols.
# Usage: bench/profile-forwarder.sh [seconds] [forwarder binary]   (default artifacts/publish/AotKvs;
# main is always artifacts/publish/AotKvs, so two forwarder builds can be compared in front of one main)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-6}
forwarder_bin=${2:-artifacts/publish/AotKvs}
main_port=18197
port=18198
out=$(mktemp -d /tmp/aotkvs-profile-forwarder-XXXX)
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }

ASPNETCORE_URLS=http://127.0.0.1:$main_port FORWARDING_ADDRESS= taskset -c 0 artifacts/publish/AotKvs >"$out/main.log" 2>&1 &
main=$!
ASPNETCORE_URLS=http://127.0.0.1:$port FORWARDING_ADDRESS=127.0.0.1:$main_port taskset -c 1 "$forwarder_bin" >"$out/forwarder.log" 2>&1 &
forwarder=$!
trap 'kill "$forwarder" "$main" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/kvs/x" && break; sleep 0.05; done

taskset -c 0 wrk -t1 -c16 -d3s -s bench/lua/preload.lua "http://127.0.0.1:$port" -- 1000 >/dev/null
for scenario in get_hit put_replace; do
    taskset -c 0 wrk -t1 -c32 -d$((secs + 2))s -s "bench/lua/$scenario.lua" "http://127.0.0.1:$port" -- 1000 >"$out/$scenario.wrk" &
    load=$!
    sleep 1
    perf record -q -e cpu-clock -F 999 -g -p "$forwarder" -o "$out/$scenario.data" -- sleep "$secs" 2>/dev/null
    wait "$load"
    echo "== $scenario ($(grep -o '"requests":[0-9]*' "$out/$scenario.wrk"), 32 connections, forwarder only)"
    python3 bench/perf_categories.py "$out/$scenario.data"
    echo "top symbols:"
    perf report -i "$out/$scenario.data" --no-children --sort sym --stdio -g none 2>/dev/null \
        | grep -E '^ +[0-9]' | head -15
done
echo "raw data in $out"
