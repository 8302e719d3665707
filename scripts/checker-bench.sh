#!/usr/bin/env bash
# The linearizability checker's benchmark: time and managed-heap memory per operation on
# generated histories of about 50 k, 500 k and 2 M operations (correct, and with five
# planted violations). Writes bench/checker.md. KVS_CHECKER_BENCH_SIZES=a,b,c to change sizes.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

load=$(cut -d' ' -f1-3 /proc/loadavg)
KVS_CHECKER_BENCH=1 dotnet test tests/AotKvs.Tests -c Release -nologo \
  --filter "FullyQualifiedName~CheckerBenchmark" | tee artifacts/checker-bench.log
{
  echo "# Linearizability checker benchmark"
  echo
  echo "scripts/checker-bench.sh on $(nproc) cores, $(date -u +%Y-%m-%d). Generated histories"
  echo "(tests/AotKvs.Tests/Linearizability/HistoryGenerator.cs): 8 clients, 8 keys, 0.5 % of"
  echo "operations unanswered, main restarted every 25 k operations. Heap: the managed heap the"
  echo "history occupies, and the most the check adds on top of it (sampled every millisecond)."
  echo "Load average when it started: $load (times move with it; memory does not). At 50 k"
  echo "the heap figure is mostly the garbage collector's allocation budget, about 19 MB"
  echo "before a collection, not data the check keeps."
  echo
  cat artifacts/checker-bench.md
} > bench/checker.md
cat bench/checker.md
