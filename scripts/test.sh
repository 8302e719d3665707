#!/usr/bin/env bash
# The whole test suite: publish the Native AOT binary, run the xunit tests (in-process unit
# tests, then the published binary as real processes), then the suites under scripts/suites/.
#
# The last line is "N passed, M failed, K skipped", counting each distinct xunit test once,
# read test by test from xunit's TRX files (scripts/lib/test_count.py). The container suite
# runs the black-box tests again against the image; those runs are reported on their own
# lines and fold into the same distinct tests (a test passes only if it passed in every run
# it had), so they never add to N. A suite's own checks (curl rows, timings) are reported
# on its own line too; a suite that fails, or breaks, counts once in M.
# Exits non-zero when anything failed.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

results="$REPO_ROOT/artifacts/test-results"
rm -rf "$results" && mkdir -p "$results/trx"
# The container suite writes the TRX files of its black-box runs here too.
export KVS_TRX_DIR="$results/trx"
broken=0      # runs that never produced results, failed suites
summary=()    # the suites' own lines, printed again at the end

publish_service || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# As root, the network-cut tests run in a namespace of their own (else they are skipped, and named).
if [ "$(id -u)" -eq 0 ]; then ensure_packages iproute2 nftables || true; fi
# A main over etcd is tested against real etcd processes (Debian's etcd-server, etcd 3.4):
# the xunit etcd tests and scripts/suites/etcd.sh.
ensure_packages etcd-server || true

dotnet test tests/AotKvs.Tests -c Release -nologo \
  --logger "trx;LogFileName=local.trx" --results-directory "$results/trx" 2>&1 | tee "$results/xunit.log"
if [ -f "$results/trx/local.trx" ]; then
  echo "xunit, every category, against the published binary artifacts/publish/AotKvs (sha256 $(sha256sum "$BINARY" | cut -c1-12))" \
    >"$results/trx/local.trx.label"
else
  broken=$((broken + 1))
  summary+=("xunit: the test run produced no results (see artifacts/test-results/xunit.log)")
fi

# Further suites print a line "RESULT passed=P failed=F" and may be skipped with
# SKIP_SUITES="name ...".
for suite in scripts/suites/*.sh; do
  [ -e "$suite" ] || continue
  name=$(basename "$suite" .sh)
  if [[ " ${SKIP_SUITES:-} " == *" $name "* ]]; then
    summary+=("suite $name: not run (SKIP_SUITES)")
    continue
  fi
  echo "== suite $name"
  bash "$suite" 2>&1 | tee "$results/$name.log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E "^RESULT passed=[0-9]+ failed=[0-9]+$" "$results/$name.log" | tail -n 1)
  if [ -z "$line" ]; then
    broken=$((broken + 1))
    summary+=("suite $name: stopped before its result line (status $rc)")
    continue
  fi
  p=$(sed -E 's/RESULT passed=([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.*failed=([0-9]+)/\1/' <<<"$line")
  summary+=("suite $name: its own checks $p passed, $f failed (not in the count below, where a failing suite counts once)")
  if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
    broken=$((broken + 1))
  fi
done

echo
echo "== summary"
for line in "${summary[@]}"; do echo "$line"; done
trx=()
[ -f "$results/trx/local.trx" ] && trx+=("$results/trx/local.trx")
for f in "$results"/trx/*.trx; do
  [ -e "$f" ] && [ "$f" != "$results/trx/local.trx" ] && trx+=("$f")
done
passed=0 failed=0 skipped=0
if [ ${#trx[@]} -gt 0 ]; then
  python3 scripts/lib/test_count.py "${trx[@]}" >"$results/count.txt"
  grep -v "^DISTINCT " "$results/count.txt"
  line=$(grep -E "^DISTINCT " "$results/count.txt" | tail -n 1)
  if [ -n "$line" ]; then
    read -r passed failed skipped <<<"$(sed -E 's/DISTINCT passed=([0-9]+) failed=([0-9]+) skipped=([0-9]+)/\1 \2 \3/' <<<"$line")"
  else
    broken=$((broken + 1))
  fi
fi
failed=$((failed + broken))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
