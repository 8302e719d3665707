#!/usr/bin/env bash
# Builds the Native AOT binary and runs it in the main role on port 8090.
# Arguments go to the binary (e.g. --urls http://127.0.0.1:9000); environment
# variables such as FORWARDING_ADDRESS are honoured as usual.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
publish_service
exec "$BINARY" "$@"
