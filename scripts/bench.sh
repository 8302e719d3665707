#!/usr/bin/env bash
# Benchmarks AotKvs against the baselines in one invocation on this machine.
#
#   scripts/bench.sh --quick      ~6 minutes: GET hit + PUT replace at 32 connections (forwarders
#                                 also at 256), 1k keys, the short memory scenarios,
#                                 2 rounds, start times, memory per key at 1M keys
#   scripts/bench.sh              full: 5 scenarios x 1/32/256 connections x 1k/1M keys, 3 rounds
#   scripts/bench.sh --help       every option of bench/run.py (rounds, duration, targets, ...)
#
# Extra options of this script (before the others): --no-build (use what artifacts/ holds).
# Results: bench/results/latest.md, latest.svg (chart), latest.json (raw numbers).
# Servers listen on 127.0.0.1 ports 18100-18199 only; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_TMP=${BENCH_TMP:-/tmp/aotkvs-bench}   # the built Go peer lives here, never in the repo

build=1
if [[ ${1:-} == --no-build ]]; then build=0; shift; fi

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v go >/dev/null || missing+=(golang-go)
command -v taskset >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

mkdir -p "$BENCH_TMP"
if ((build)); then
    echo "building AotKvs, the Kestrel ceiling (bench/ceiling) and the Go peer (bench/go-peer)..."
    dotnet publish AotKvs.csproj -c Release -o artifacts/publish -nologo -v quiet
    dotnet publish bench/ceiling/Ceiling.csproj -c Release -o artifacts/ceiling -nologo -v quiet
    # Standard library only: builds offline, no module download.
    (cd bench/go-peer && GOFLAGS=-mod=mod GOPROXY=off go build -o "$BENCH_TMP/go-peer" .)
fi

runner=""
cleanup() {
    # The runner stops every server and wrk it started; make sure it gets the chance.
    if [[ -n $runner ]] && kill -0 "$runner" 2>/dev/null; then
        kill -TERM "$runner" 2>/dev/null || true
        wait "$runner" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

python3 bench/run.py --go-bin "$BENCH_TMP/go-peer" "$@" &
runner=$!
wait "$runner"
status=$?
runner=""
exit $status
