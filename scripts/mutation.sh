#!/usr/bin/env bash
# Mutation testing (Stryker.NET) over the code the in-process tests reach: the store, key
# and body parsing, the forwarding target, configuration and the metrics text. Only the
# in-process tests (Category=Unit) run against each mutant: the process tests drive the
# published binary, which a mutant never changes. Not part of CI (minutes of CPU).
#
#   scripts/mutation.sh            every folder below, one mutant at a time
#   CONCURRENCY=2 scripts/mutation.sh Storage/*.cs   only the files named (globs from the repo root)
#
# Prints the score per folder and every mutant no test caught; the full report (HTML, JSON)
# is in artifacts/mutation/. Stryker builds the test project in Release and swaps mutated
# assemblies into its bin folder: build or test that project in Release meanwhile and the
# run is wrong. What only the process tests reach (the endpoints, the forwarder, readiness,
# the host and log setup) is not in its scope.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(
    "Storage/*.cs" "Storage/Memory/*.cs"
    "Endpoints/KeyRules.cs" "Protocol/KeyPath.cs" "Protocol/RequestTarget.cs"
    "Configuration/ForwardingTarget.cs" "Forwarding/ViaHeader.cs"
    "Configuration/CommandLine.cs" "Configuration/ServiceOptions.cs"
    "Configuration/ListenAddress.cs" "Configuration/LogSettings.cs"
    "Operations/PrometheusText.cs" "Operations/MetricsCollector.cs"
    "Protocol/FailureCause.cs" "Operations/RequestSeries.cs"
  )
fi
mutate=()
for t in "${targets[@]}"; do
  # A target that names no file would be scored as nothing, silently: stop instead.
  compgen -G "$t" >/dev/null || { echo "mutation.sh: no file matches $t" >&2; exit 2; }
  mutate+=(--mutate "**/$t")
done

out="$REPO_ROOT/artifacts/mutation"
rm -rf "$out" && mkdir -p "$out"
dotnet tool restore >/dev/null
cd tests/AotKvs.Tests
# Stryker writes its report under <output>/reports/mutation-report.json.
dotnet dotnet-stryker \
  --project AotKvs.csproj \
  --configuration Release \
  --concurrency "${CONCURRENCY:-1}" \
  --test-case-filter "Category=Unit" \
  --reporter json --reporter cleartext --reporter html \
  --output "$out" \
  "${mutate[@]}"

python3 "$REPO_ROOT/scripts/lib/mutation_score.py" "$out/reports/mutation-report.json"
