#!/usr/bin/env bash
# A quick curl smoke test of running instances: through each one, PUT a key (201), PUT it
# again (200), GET it back (200 + value), DELETE it (200), GET it again (404).
#
#   scripts/smoke.sh                       main and two forwarders on 127.0.0.1:8082 8083 8084
#   scripts/smoke.sh 8090                  a single instance on 127.0.0.1:8090
#   scripts/smoke.sh 8082 8083 8084 8085   any set of host ports
#
# Needs only curl. Exits non-zero if any step fails.
set -uo pipefail

ports=("$@")
((${#ports[@]})) || ports=(8082 8083 8084)
failed=0
passed=0

step() { # step PORT METHOD PATH BODY WANT_STATUS WANT_BODY_SUBSTRING
    local port="$1" method="$2" path="$3" body="$4" want="$5" want_body="$6" out code args=()
    [[ -n "$body" ]] && args=(-H 'Content-Type: application/json' --data-binary "$body")
    out="$(curl -s --max-time 5 -X "$method" "${args[@]}" -w $'\n%{http_code}' "http://127.0.0.1:$port$path")"
    code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    if [[ "$code" == "$want" && "$out" == *"$want_body"* ]]; then
        passed=$((passed + 1))
        printf 'ok    %-5s %-6s %-28s %s %s\n' "$port" "$method" "$path" "$code" "$out"
    else
        failed=$((failed + 1))
        printf 'FAIL  %-5s %-6s %-28s got %s %s, want %s ...%s...\n' "$port" "$method" "$path" "$code" "$out" "$want" "$want_body"
    fi
}

for port in "${ports[@]}"; do
    key="/kvs/smoke-$port-$$"
    step "$port" PUT "$key" '{"value": "hello"}' 201 '"created"'
    step "$port" PUT "$key" '{"value": {"n": 42}}' 200 '"replaced"'
    step "$port" GET "$key" '' 200 '42'
    step "$port" DELETE "$key" '' 200 '"deleted"'
    step "$port" GET "$key" '' 404 'Key does not exist'
done
echo "smoke: $passed passed, $failed failed"
((failed == 0))
