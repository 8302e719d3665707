#!/usr/bin/env bash
# The whole test suite: publish the Native AOT binary, run the xunit tests (unit and
# black-box against the real binary), then the suites under scripts/suites/.
# Prints "N passed, M failed" as its last line; exits non-zero when anything failed.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

passed=0
failed=0
results="$REPO_ROOT/artifacts/test-results"
rm -rf "$results" && mkdir -p "$results"

publish_service || { echo "0 passed, 1 failed"; exit 1; }

dotnet test tests/AotKvs.Tests -c Release -nologo 2>&1 | tee "$results/xunit.log"
read -r p f <<<"$(xunit_counts "$results/xunit.log")"
if [ -n "${p:-}" ]; then
  passed=$((passed + p))
  failed=$((failed + f))
else
  failed=$((failed + 1)) # the test run itself broke
fi

# Further suites print a line "RESULT passed=P failed=F" and may be skipped with
# SKIP_SUITES="name ...".
for suite in scripts/suites/*.sh; do
  [ -e "$suite" ] || continue
  name=$(basename "$suite" .sh)
  if [[ " ${SKIP_SUITES:-} " == *" $name "* ]]; then
    echo "skipping suite $name"
    continue
  fi
  echo "== suite $name"
  bash "$suite" 2>&1 | tee "$results/$name.log"
  line=$(grep -E "^RESULT passed=[0-9]+ failed=[0-9]+$" "$results/$name.log" | tail -n 1)
  if [ -n "$line" ]; then
    passed=$((passed + $(sed -E 's/RESULT passed=([0-9]+).*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.*failed=([0-9]+)/\1/' <<<"$line")))
  else
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
