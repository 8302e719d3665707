# shellcheck shell=bash
# Helpers of the container suite: output and counting, curl requests, the engine, clean-up and the
# xunit hook. Sourced by scripts/container-test.sh, which sets the variables they use.

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - t_start))"; }
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
note() { printf 'note  %s\n' "$*"; }
measured() { printf 'measured  %s\n' "$*"; printf '%s\n' "$*" >>"$MEASURE"; }
# The image the containers run, by its short ID (what the black-box runs ran against).
image_id() { "$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null | sed -E 's/^sha256:(.{12}).*/\1/'; }
# The clock, without forking: microseconds from $EPOCHREALTIME; ms_since T0 sets MS.
ms_since() { MS=$(((${EPOCHREALTIME/./} - $1) / 1000)); }

# Debian's python3 (a version manager's shim can take seconds to start); used only when a
# body is not byte-for-byte the expected compact JSON, to compare it after parsing.
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY="$(command -v python3)"

# --- requests ------------------------------------------------------------------------
# req METHOD URL [BODY [CONTENT_TYPE]]: sets R_CODE, R_BODY, R_CT (Content-Type),
# R_ALLOW (Allow header), R_MS (wall time of the request in ms). One process per request
# (curl): this machine may be busy, and every fork counts.
HDR="$OUT/.headers"
BODY="$OUT/.body"
req() {
    local method="$1" url="$2" t0 line args=()
    if (($# >= 3)); then
        args=(--data-binary "$3" -H "Content-Type: ${4-application/json}")
    fi
    : >"$HDR"
    : >"$BODY"
    t0="${EPOCHREALTIME/./}"
    R_CODE="$(curl -s -g --max-time 10 -X "$method" -D "$HDR" -o "$BODY" "${args[@]}" -w '%{http_code}' "$url" 2>/dev/null)"
    ms_since "$t0"
    R_MS=$MS
    R_BODY=""
    IFS= read -r -d '' R_BODY <"$BODY"
    R_CT=""
    R_ALLOW=""
    while IFS= read -r line; do
        line="${line%$'\r'}"
        case "${line,,}" in
            content-type:*) R_CT="${line#*:}"; R_CT="${R_CT# }" ;;
            allow:*) R_ALLOW="${line#*:}"; R_ALLOW="${R_ALLOW# }" ;;
        esac
    done <"$HDR"
}

json_equal() { # json_equal GOT WANT: deep equality after parsing (numbers compared exactly)
    [[ "$1" == "$2" ]] && return 0
    "$PY" - "$1" "$2" <<'EOF' 2>/dev/null
import decimal, json, sys
def load(s):
    return json.loads(s, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
try:
    sys.exit(0 if load(sys.argv[1]) == load(sys.argv[2]) else 1)
except Exception:
    sys.exit(1)
EOF
}

is_json_error() { # a JSON object with a string member "error"
    [[ "$1" =~ ^\{\"error\":\"[^\"\\]*\"\}$ ]] && return 0
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if isinstance(d, dict) and isinstance(d.get("error"), str) else 1)' "$1" 2>/dev/null
}

# expect LABEL METHOD URL WANT_STATUS WANT_JSON [BODY [CONTENT_TYPE]]
# WANT_JSON is compared after parsing (written compact, as the service answers, it is
# mostly a plain string match). "*error*" means: any JSON object with an "error" string.
expect() {
    local label="$1" method="$2" url="$3" want_code="$4" want_json="$5"
    shift 5
    req "$method" "$url" "$@"
    local why=""
    [[ "$R_CODE" == "$want_code" ]] || why="status $R_CODE, want $want_code"
    if [[ -z "$why" ]]; then
        if [[ "$want_json" == "*error*" ]]; then
            is_json_error "$R_BODY" || why="body $R_BODY is not a JSON error"
        elif ! json_equal "$R_BODY" "$want_json"; then
            why="body $R_BODY, want $want_json"
        fi
    fi
    [[ -n "$why" || "$R_CT" == application/json* ]] || why="Content-Type '$R_CT', want application/json"
    if [[ -z "$why" ]]; then
        pass "$label: $method ${url#http://127.0.0.1} -> $R_CODE ($R_MS ms)"
    else
        fail "$label: $method ${url#http://127.0.0.1}: $why"
    fi
}

# --- engine --------------------------------------------------------------------------
ensure_tools() {
    local pkgs=()
    command -v curl >/dev/null || pkgs+=(curl)
    command -v python3 >/dev/null || pkgs+=(python3)
    if [[ "$DOCKER" == docker ]]; then
        command -v dockerd >/dev/null || pkgs+=(docker.io)
        command -v docker >/dev/null || pkgs+=(docker.io)
    else
        command -v "$DOCKER" >/dev/null || pkgs+=("$DOCKER")
    fi
    command -v debootstrap >/dev/null || pkgs+=(debootstrap)
    if ((${#pkgs[@]})); then
        say "installing ${pkgs[*]}"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"; } >"$OUT/apt.log" 2>&1 \
            || { tail -n 20 "$OUT/apt.log"; return 1; }
    fi
}

ensure_engine() {
    "$DOCKER" info >/dev/null 2>&1 && { note "using the running $DOCKER engine"; return 0; }
    [[ "$DOCKER" == docker ]] || return 0 # podman needs no daemon
    say "starting dockerd (vfs storage, no iptables; log: $OUT/dockerd.log)"
    # shellcheck disable=SC2086
    dockerd --storage-driver=vfs --iptables=false ${DOCKERD_EXTRA_ARGS:-} >"$OUT/dockerd.log" 2>&1 &
    STARTED_DOCKERD_PID=$!
    local i
    for ((i = 0; i < 120; i++)); do
        "$DOCKER" info >/dev/null 2>&1 && return 0
        kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$OUT/dockerd.log"
    return 1
}

# --- clean-up ------------------------------------------------------------------------
save_logs() {
    local c
    for c in "${OWN_CONTAINERS[@]}" main-instance forwarding-instance1 forwarding-instance2; do
        "$DOCKER" logs "$c" >"$OUT/logs-$c.txt" 2>&1 || rm -f "$OUT/logs-$c.txt"
    done
}

cleanup() {
    local c
    ((failed == 0)) || save_logs
    for c in "${OWN_CONTAINERS[@]}"; do "$DOCKER" rm -f "$c" >/dev/null 2>&1; done
    if ((${#COMPOSE[@]})); then "${COMPOSE[@]}" -f "$repo/compose.yaml" -p asg2 down -t 2 >/dev/null 2>&1; fi
    "$CLUSTER" down >/dev/null 2>&1
    if [[ -n "$STARTED_DOCKERD_PID" ]]; then
        kill -TERM "$STARTED_DOCKERD_PID" 2>/dev/null
        for ((c = 0; c < 60; c++)); do kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null && kill -KILL "$STARTED_DOCKERD_PID" 2>/dev/null
    fi
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    cleanup
    printf '\nmeasurements (also in %s):\n' "$MEASURE"
    sed 's/^/  /' "$MEASURE"
    printf 'total time %ds\n' "$((SECONDS - t_start))"
    ((rc == 0 || failed > 0)) || fail "container-test stopped early (status $rc)"
    printf 'RESULT passed=%d failed=%d\n' "$passed" "$failed"
    ((failed == 0)) && exit 0 || exit 1
}
trap finish EXIT
trap 'fail "interrupted"; exit 130' INT TERM

# Runs the xunit black-box suite against running servers. Its tests are the ones the
# local run has: scripts/test.sh (which sets KVS_TRX_DIR) folds these results into the same
# distinct tests instead of counting them again, so they are reported on their own line
# and not added to this script's RESULT. Run alone, a failing run is one failed check.
run_xunit() { # run_xunit LABEL MAIN_URL FORWARDER_URLS WHAT
    local label="$1" log="$OUT/xunit-$1.log" dir="${KVS_TRX_DIR:-$OUT}" trx counted
    trx="$dir/containers-$1.trx"
    rm -f "$trx"
    KVS_MAIN_URL="$2" KVS_FORWARDER_URLS="$3" dotnet test tests/AotKvs.Tests -c Release \
        --filter Category=BlackBox -nologo --logger "trx;LogFileName=containers-$1.trx" \
        --results-directory "$dir" >"$log" 2>&1
    if [[ ! -f "$trx" ]]; then
        tail -n 30 "$log"; fail "xunit black-box suite ($label) did not run"; return
    fi
    echo "xunit BlackBox again, against $4" >"$trx.label"
    counted="$("$PY" "$here/lib/test_count.py" --summary "$trx")"
    printf '  xunit black-box suite against %s: %s (the same tests as the local run; not in RESULT)\n' "$4" "$counted"
    measured "xunit black-box suite against $4: $counted"
    if [[ "$counted" == "0 passed,"* ]]; then
        fail "xunit black-box suite ($label) passed nothing: $counted"
    elif [[ "$counted" != *" 0 failed,"* ]]; then
        grep -E '^\s+Failed ' "$log" | head -n 20
        [[ -n "${KVS_TRX_DIR:-}" ]] || fail "xunit black-box suite ($label): $counted"
    fi
}

# An instance is up when it answers HTTP at all on its host port. Prints the ms waited.
wait_answers() { # wait_answers PORT START_US [SECONDS]
    local port="$1" t0="$2" limit="${3:-20}" code deadline=$((SECONDS + ${3:-20}))
    while ((SECONDS < deadline)); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/kvs/" 2>/dev/null)"
        if [[ -n "$code" && "$code" != 000 ]]; then echo $(((${EPOCHREALTIME/./} - t0) / 1000)); return 0; fi
        sleep 0.02
    done
    echo "timeout after ${limit}s"
    return 1
}

# The image's HEALTHCHECK is the binary's own `AotKvs --healthcheck` (image.sh checks that it
# is). Docker runs it first one interval (5 s) after start, and these notes are taken
# sooner, when the status may still be "starting": so it is noted, not asserted.
health_note() {
    local c s
    for c in "$@"; do
        s="$("$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c" 2>/dev/null)"
        note "health of $c: ${s:-?} (noted, not asserted)"
    done
}
