#!/usr/bin/env bash
# Fuzzing, long form: the seeded random and mutation-based fuzz tests of every hand-written
# reader of bytes from the wire or disk (tests/AotKvs.Tests/Fuzz/: the forwarder's answer
# parser, the etcd answer readers, request target and key decoding, the PUT body, the
# data dir's records and their replay), each for the given time instead of CI's 2 s, from a
# random seed. The negative controls in the same folder run too (seconds, fixed seeds).
#
#   scripts/fuzz.sh                 60 s per reader, a random seed
#   scripts/fuzz.sh 600             10 minutes per reader
#   KVS_FUZZ_SEED=42 scripts/fuzz.sh 30   a given seed (a failure prints its seed and
#                                         execution, and how to replay just that input)
#
# Prints one line per reader with its executions and seconds; the whole log is in
# artifacts/fuzz/xunit.log. Exits non-zero when a test failed.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "usage: scripts/fuzz.sh [seconds-per-reader]" >&2; exit 2; }
seed="${KVS_FUZZ_SEED:-$(( (RANDOM << 15 | RANDOM) % 2147483647 ))}"
command -v dotnet >/dev/null || { echo "the .NET 10 SDK is required (dotnet on PATH)" >&2; exit 1; }
rm -rf artifacts/fuzz && mkdir -p artifacts/fuzz

echo "fuzzing each reader for $seconds s, seed $seed"
KVS_FUZZ_SECONDS="$seconds" KVS_FUZZ_SEED="$seed" dotnet test tests/AotKvs.Tests -c Release -nologo \
  --filter "FullyQualifiedName~AotKvs.Tests.Fuzz" --logger "console;verbosity=detailed" >artifacts/fuzz/xunit.log 2>&1
rc=$?

# The tests write "FUZZ reader=NAME executions=N seconds=S seed=X"; negative controls' names have spaces.
grep -hoE "FUZZ reader=[A-Za-z]+ executions=[0-9]+ seconds=[0-9.]+ seed=-?[0-9]+" artifacts/fuzz/xunit.log | sort -u |
  sed -E 's/FUZZ reader=([A-Za-z]+) executions=([0-9]+) seconds=([0-9.]+) seed=.*/\1 \2 \3/' |
  while read -r reader executions secs; do
    printf "%-14s %12s executions in %6s s\n" "$reader" "$executions" "$secs"
  done
grep -E "^\s*(Passed|Failed|Total tests|Skipped):" artifacts/fuzz/xunit.log | sed 's/^ *//' | tr '\n' ' ' && echo
if [ "$rc" -ne 0 ]; then
  echo "FAILED (seed $seed): see artifacts/fuzz/xunit.log" >&2
  grep -E -A8 "^\s+Failed AotKvs" artifacts/fuzz/xunit.log | head -60 >&2
fi
exit "$rc"
