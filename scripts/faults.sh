#!/usr/bin/env bash
# Proof under faults, hostile input and load: the linearizability checker and its runs
# against main + forwarders under kills, freezes and restarts, the hostile-input corpus,
# limits, slow clients, forwarding loops and confinement, and the soak.
#
#   scripts/faults.sh          quick form (what CI runs as part of scripts/test.sh)
#   scripts/faults.sh --long   long form: 120 s linearizability runs (also with real
#                              network cuts when root), 60 s soak, header-timeout check
#
# Reports are written to artifacts/faults/*.txt and printed at the end.
# Last line: "RESULT passed=P failed=F".
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

if [ "${1:-}" = "--long" ]; then
  export KVS_FAULTS=long
fi

publish_service || { echo "RESULT passed=0 failed=1"; exit 1; }
rm -rf artifacts/faults && mkdir -p artifacts/faults

dotnet test tests/AotKvs.Tests -c Release -nologo \
  --filter "Category=Faults|FullyQualifiedName~AotKvs.Tests.Unit.PlantedViolationTests|FullyQualifiedName~AotKvs.Tests.Unit.CheckerTests|FullyQualifiedName~AotKvs.Tests.Processes.HttpNegativeControlTests" \
  --logger "trx;LogFileName=faults.trx" --results-directory artifacts/faults 2>&1 | tee artifacts/faults/xunit.log

for report in artifacts/faults/*.txt; do
  [ -e "$report" ] || continue
  echo "== $(basename "$report" .txt)"
  cat "$report"
done

# Test by test from the TRX file; skips are named (the network cuts need root).
if [ -f artifacts/faults/faults.trx ]; then
  python3 scripts/lib/test_count.py artifacts/faults/faults.trx | tee artifacts/faults/count.txt | grep -v "^DISTINCT "
  read -r passed failed <<<"$(sed -nE 's/^DISTINCT passed=([0-9]+) failed=([0-9]+).*/\1 \2/p' artifacts/faults/count.txt)"
else
  passed=0 failed=1
fi
echo "RESULT passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
