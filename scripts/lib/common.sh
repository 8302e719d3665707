# Shared by the scripts: repo root, build prerequisites, the publish step.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BINARY="$REPO_ROOT/artifacts/publish/AotKvs"

# Installs Debian packages that are missing (Native AOT needs clang and zlib headers).
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Publishes the Native AOT binary to artifacts/publish/AotKvs.
publish_service() {
  ensure_packages clang zlib1g-dev
  command -v dotnet >/dev/null || { echo "the .NET 10 SDK is required (dotnet on PATH)" >&2; exit 1; }
  dotnet publish "$REPO_ROOT/AotKvs.csproj" -c Release -o "$REPO_ROOT/artifacts/publish" -nologo -v quiet >&2
}
