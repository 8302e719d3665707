#!/usr/bin/env bash
# What the Kvs-Tag echo costs main: GETs pipelined 16 deep (as a forwarder's batches reach
# main) with and without the tag, against the same binary, alternated round by round; and
# plain unpipelined GETs against a second binary (BASELINE, e.g. a build from before) for the
# cost to clients that send no tag. Prints each round and the median ratios.
#
#   bench/tag-cost.sh [ROUNDS] [SECONDS]      BINARY=artifacts/publish/AotKvs BASELINE=path
#
# Main pinned to CPU 1, wrk to CPU 0; ports 18180-18183 on 127.0.0.1; every process stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-3}
binary=${BINARY:-artifacts/publish/AotKvs}
baseline=${BASELINE:-}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

rate() { # binary port script (- for none: one GET per round trip) tag connections
    taskset -c 1 "$1" --urls "http://127.0.0.1:$2" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$2/healthz" && break; sleep 0.02; done
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"value": 1}' "http://127.0.0.1:$2/kvs/a"
    local script=()
    [ "$3" = - ] || script=(-s "$3")
    TAG="$4" taskset -c 0 wrk -t1 -c"$5" -d"${seconds}s" "${script[@]}" "http://127.0.0.1:$2/kvs/a" | awk '/Requests\/sec/ {print $2}'
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

tagged=() plain=()
for r in $(seq 1 "$rounds"); do
    without=$(rate "$binary" 18180 bench/lua/get_pipelined.lua "" 8)
    with=$(rate "$binary" 18181 bench/lua/get_pipelined.lua 0123456789abcdef 8)
    line="round $r pipelined: untagged $without/s, tagged $with/s"
    tagged+=("$(python3 -c "print($with / $without)")")
    if [ -n "$baseline" ]; then
        now=$(rate "$binary" 18182 - "" 32)
        before=$(rate "$baseline" 18183 - "" 32)
        line="$line; plain GET: this $now/s, baseline $before/s"
        plain+=("$(python3 -c "print($now / $before)")")
    fi
    echo "$line"
done
median() { python3 -c "import statistics, sys; v = sorted(map(float, sys.argv[1:])); print(f'{statistics.median(v):.3f}x (range {v[0]:.3f}-{v[-1]:.3f})')" "$@"; }
echo "main, pipelined GETs, tagged vs untagged: $(median "${tagged[@]}")"
[ -n "$baseline" ] && echo "main, plain GETs at 32 connections, this vs baseline: $(median "${plain[@]}")"
exit 0
