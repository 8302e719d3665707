#!/usr/bin/env bash
# Container test: proves, on a machine with no registry access, that the top-level
# Dockerfile builds with a plain `docker build -t asg2img .` and that the image behaves as
# the graders drive it (README.md, "Container" and "The asg2net walk-through"):
#
#   1. a Docker engine (started here if none runs: dockerd --storage-driver=vfs
#      --iptables=false, stopped again at the end), the base-image stand-ins
#      (scripts/standins/), then `docker build -t asg2img .`, and the image's config
#      (non-root, port 8090, no shell, healthcheck, size);
#   2. one container on a published port: start-to-ready and `docker stop` times; the same
#      with --read-only;
#   3. asg2net with main at 10.10.0.2 (host 8082) and forwarders at 10.10.0.3/.4 (8083/8084)
#      via scripts/cluster.sh: one store behind all three, `docker stop main-instance` ->
#      every forwarder answers 503 {"error":"Cannot forward request"} within the bound,
#      main started again -> the very next request through each forwarder succeeds;
#      a refused forwarding address and a chain of two forwarders;
#   4. compose.yaml: `compose up` gives a cluster that answers, then `compose down`.
#
# Traffic goes only from this host to 127.0.0.1 published ports. Every wait is bounded.
# It cleans up after itself (containers, network, the engine if it started it); images and
# the stand-ins' root filesystem are kept as a cache for the next run.
# The SPEC rows are not repeated here: with KVS_BLACKBOX=1 (as scripts/test.sh runs it) the
# xunit black-box suite runs against the single container and through the cluster.
# Last line: "RESULT passed=N failed=M", this script's own checks (lifecycle, timings, image
# config); the xunit black-box runs are reported on their own lines and counted by
# scripts/test.sh as the same distinct tests as the local run. Exit status non-zero on any failure.
#
# Env: DOCKER (docker; podman works for the cluster steps), SINGLE_PORT (18090: host port
# for the single-container run; the graders use 8090), FORWARD_BOUND_MS (1000: the documented
# default of KVS_FORWARD_TIMEOUT_MS) and FORWARD_MARGIN_MS (250: curl and scheduling on top),
# STOP_BOUND_MS (1000: SIGTERM -> exit), STOP_WALL_BOUND_MS (5000: the whole `docker stop`
# command, engine included), KVS_BLACKBOX=1 (also run the xunit black-box suite, see the hook;
# its TRX files go to KVS_TRX_DIR, default the output directory),
# CONTAINER_TEST_OUT (artifacts/container-test: logs and measurements).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo" || exit 1
source "$here/lib/common.sh"

DOCKER="${DOCKER:-docker}"
IMAGE=asg2img
SINGLE_PORT="${SINGLE_PORT:-18090}"
READONLY_PORT=18091
REFUSED_PORT=18092
CHAIN_PORT=18093
MAIN_PORT=8082
FWD_PORTS=(8083 8084)
FORWARD_BOUND_MS="${FORWARD_BOUND_MS:-1000}"
FORWARD_MARGIN_MS="${FORWARD_MARGIN_MS:-250}"
# The promise (tests/AotKvs.Tests/Support/ForwardBound.cs): a 503 that waited for main comes
# from 0.9x the bound to the bound plus the margin; one for a main that is gone may come at once.
FORWARD_LATEST_MS=$((FORWARD_BOUND_MS + FORWARD_MARGIN_MS))
FORWARD_EARLIEST_MS=$((FORWARD_BOUND_MS * 9 / 10))
STOP_BOUND_MS="${STOP_BOUND_MS:-1000}"
STOP_WALL_BOUND_MS="${STOP_WALL_BOUND_MS:-5000}"
OUT="${CONTAINER_TEST_OUT:-$repo/artifacts/container-test}"
mkdir -p "$OUT"
MEASURE="$OUT/measurements.txt"
: >"$MEASURE"
export DOCKER IMAGE
# The cluster script publishes on loopback only here.
export BIND_ADDR=127.0.0.1 WAIT_SECONDS=20

CLUSTER="$here/cluster.sh"
STARTED_DOCKERD_PID=""
OWN_CONTAINERS=(kvs-single kvs-readonly kvs-refused-fwd kvs-chain-fwd)
COMPOSE=()
passed=0
failed=0
t_start=$SECONDS

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

health_note() { # health status is noted, not asserted, until `AotKvs --healthcheck` lands
    local c s
    for c in "$@"; do
        s="$("$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c" 2>/dev/null)"
        note "health of $c: ${s:-?} (not asserted yet)"
    done
}

# ======================================================================================
section "tools and engine"
ensure_tools || { fail "installing the tools"; exit 1; }
ensure_engine || { fail "no container engine"; exit 1; }
pass "container engine answers ($("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null || echo "$DOCKER"))"
"$CLUSTER" down >/dev/null 2>&1 # leftovers of an interrupted run
for c in "${OWN_CONTAINERS[@]}"; do "$DOCKER" rm -f "$c" >/dev/null 2>&1; done

section "base-image stand-ins"
t0="${EPOCHREALTIME/./}"
if DOCKER="$DOCKER" "$here/standins/build-standins.sh" >"$OUT/standins.log" 2>&1; then
    pass "stand-ins for the Dockerfile's base images are tagged ($(((${EPOCHREALTIME/./} - t0) / 1000)) ms)"
else
    tail -n 30 "$OUT/standins.log"
    fail "building the base-image stand-ins"
    exit 1
fi

section "Dockerfile"
# Portable syntax: the classic builder, BuildKit and Podman must all take it.
if grep -n -E '^# *syntax=|--mount=|--chmod=|--link|--parents|\$\{?(TARGET|BUILD)(ARCH|PLATFORM|OS|VARIANT)|<<' Dockerfile; then
    fail "Dockerfile uses BuildKit-only syntax or variables (lines above)"
else
    pass "Dockerfile has no BuildKit-only syntax or variables"
fi
t0="${EPOCHREALTIME/./}"
if "$DOCKER" build -t "$IMAGE" . >"$OUT/build.log" 2>&1; then
    build_ms="$(((${EPOCHREALTIME/./} - t0) / 1000))"
    pass "docker build -t $IMAGE . ($((build_ms / 1000)) s)"
    measured "image build: $((build_ms / 1000)) s ($(grep -c 'Using cache' "$OUT/build.log") steps from cache)"
else
    tail -n 40 "$OUT/build.log"
    fail "docker build -t $IMAGE ."
    exit 1
fi
if grep -q -A2 'dotnet restore' "$OUT/build.log" && grep -A2 'dotnet restore' "$OUT/build.log" | grep -q 'Using cache'; then
    note "restore layer came from the cache"
fi

size="$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")"
base_size="$("$DOCKER" image inspect -f '{{.Size}}' mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled)"
measured "image size: $((size / 1000000)).$(((size % 1000000) / 100000)) MB ($size bytes; base stand-in $((base_size / 1000000)).$(((base_size % 1000000) / 100000)) MB, binary layer $(((size - base_size) / 1000000)).$((((size - base_size) % 1000000) / 100000)) MB)"
# The target is 25 MB; over it is reported, not failed (the base alone is ~13 MB). Over
# 30 MB something that does not belong (symbols, the SDK) went into the image.
((size <= 25 * 1000 * 1000)) || note "image is over the 25 MB target"
if ((size <= 30 * 1000 * 1000)); then pass "image is at most 30 MB"; else fail "image is over 30 MB"; fi
cfg="$("$DOCKER" image inspect -f '{{.Config.User}}|{{json .Config.Env}}|{{json .Config.ExposedPorts}}|{{json .Config.Entrypoint}}|{{json .Config.Healthcheck}}' "$IMAGE")"
IFS='|' read -r c_user c_env c_ports c_entry c_health <<<"$cfg"
[[ "$c_user" == 1654 || "$c_user" == app ]] && pass "image user is the non-root app user ($c_user)" || fail "image user is '$c_user'"
[[ "$c_env" == *'"ASPNETCORE_HTTP_PORTS=8090"'* && "$c_env" != *'ASPNETCORE_HTTP_PORTS=8080'* ]] && pass "ASPNETCORE_HTTP_PORTS=8090 replaces the base image's 8080" || fail "image env: $c_env"
[[ "$c_ports" == *'"8090/tcp"'* ]] && pass "image exposes 8090" || fail "exposed ports: $c_ports"
[[ "$c_entry" == '["/app/AotKvs"]' ]] && pass "entrypoint is the binary itself (exec form, PID 1)" || fail "entrypoint: $c_entry"
[[ "$c_health" == *'"CMD","/app/AotKvs","--healthcheck"'* ]] && pass "healthcheck runs the binary's own probe" || fail "healthcheck: $c_health"
if "$DOCKER" run --rm --entrypoint /bin/sh "$IMAGE" -c true >/dev/null 2>&1; then fail "the image has a shell"; else pass "the image has no shell"; fi

section "single container (the single-instance suite's setup)"
S="http://127.0.0.1:$SINGLE_PORT"
t0="${EPOCHREALTIME/./}"
if "$DOCKER" run -d -p "127.0.0.1:$SINGLE_PORT:8090" --name kvs-single "$IMAGE" >/dev/null; then
    if ready="$(wait_answers "$SINGLE_PORT" "$t0")"; then
        pass "single container answers on host port $SINGLE_PORT -> 8090"
        measured "start-to-ready (docker run -> first HTTP answer): $ready ms"
        started="$("$DOCKER" inspect -f '{{.State.StartedAt}}' kvs-single)"
        line="$("$DOCKER" logs kvs-single 2>&1 | grep -m1 'listening=')"
        app_ms="$("$PY" - "$started" "$line" <<'EOF' 2>/dev/null
import datetime, re, sys
s = re.sub(r'(\.\d{6})\d*', r'\1', sys.argv[1]).replace('Z', '+00:00')
started = datetime.datetime.fromisoformat(s)
m = re.match(r'(\S+?)Z? ', sys.argv[2])
logged = datetime.datetime.fromisoformat(m.group(1) + '+00:00')
print(int((logged - started).total_seconds() * 1000))
EOF
)"
        [[ -n "$app_ms" ]] && measured "in-container start (process start -> listening log line): ${app_ms} ms"
        [[ "$line" == *':8090'* ]] && pass "it logs listening on 8090: ${line##*listening=}" || fail "startup line: $line"
        uid="$("$DOCKER" top kvs-single -o uid,pid 2>/dev/null | awk 'NR==2 {print $1}')"
        [[ -n "$uid" && "$uid" != 0 && "$uid" != root ]] && pass "the process runs as uid $uid, not root" || fail "process uid '$uid'"
        # The SPEC rows themselves are the xunit black-box suite's (below), never repeated here.
        # >>> XUNIT HOOK (single instance): the black-box suite against this container.
        if [[ "${KVS_BLACKBOX:-0}" == 1 && -d tests/AotKvs.Tests ]]; then
            run_xunit single "$S" "" "the single container kvs-single (image $IMAGE $(image_id))"
        fi
        # <<< XUNIT HOOK
        health_note kvs-single
        # docker stop's wall time includes the engine's own work (slow on a busy machine
        # with vfs); the service's part is SIGTERM -> exit, read from the container's
        # FinishedAt. The first must stay far below docker's 10 s SIGKILL fallback, the
        # second under STOP_BOUND_MS, and the exit status must be 0 (a graceful stop).
        t_stop="$EPOCHREALTIME"
        t0="${EPOCHREALTIME/./}"
        "$DOCKER" stop kvs-single >/dev/null
        stop_ms="$(((${EPOCHREALTIME/./} - t0) / 1000))"
        fin="$("$DOCKER" inspect -f '{{.State.FinishedAt}} {{.State.ExitCode}}' kvs-single 2>/dev/null)"
        exit_ms="$("$PY" - "$t_stop" "${fin% *}" <<'EOF' 2>/dev/null
import datetime, re, sys
s = re.sub(r'(\.\d{6})\d*', r'\1', sys.argv[2]).replace('Z', '+00:00')
finished = datetime.datetime.fromisoformat(s).timestamp()
print(int((finished - float(sys.argv[1])) * 1000))
EOF
)"
        measured "docker stop (command wall time): $stop_ms ms"
        measured "SIGTERM -> process exited (container FinishedAt): ${exit_ms:-?} ms, exit status ${fin##* }"
        [[ "${fin##* }" == 0 ]] && pass "SIGTERM stops the service gracefully (exit status 0)" || fail "exit status after docker stop: '${fin##* }'"
        if [[ -n "$exit_ms" ]] && ((exit_ms < STOP_BOUND_MS)); then pass "service exits ${exit_ms} ms after SIGTERM (< $STOP_BOUND_MS)"; else fail "service took '${exit_ms}' ms to exit after SIGTERM"; fi
        ((stop_ms < STOP_WALL_BOUND_MS)) && pass "docker stop took $stop_ms ms (< $STOP_WALL_BOUND_MS)" || fail "docker stop took $stop_ms ms (>= $STOP_WALL_BOUND_MS)"
        ((stop_ms < 1000)) || note "docker stop took over a second, most of it the engine's (see the exit time above)"
    else
        fail "single container did not answer: $ready"
    fi
else
    fail "docker run of the single container"
fi
"$DOCKER" rm -f kvs-single >/dev/null 2>&1

section "read-only root filesystem"
t0="${EPOCHREALTIME/./}"
if "$DOCKER" run -d --rm --read-only -p "127.0.0.1:$READONLY_PORT:8090" --name kvs-readonly "$IMAGE" >/dev/null \
    && ready="$(wait_answers "$READONLY_PORT" "$t0")"; then
    R="http://127.0.0.1:$READONLY_PORT"
    expect "read-only" PUT "$R/kvs/ro" 201 '{"result":"created"}' '{"value": [1, "ro"]}'
    expect "read-only" GET "$R/kvs/ro" 200 '{"result":"found","value":[1, "ro"]}'
    sleep 1
    [[ "$("$DOCKER" inspect -f '{{.State.Running}}' kvs-readonly 2>/dev/null)" == true ]] \
        && pass "--read-only container keeps running" || fail "--read-only container stopped"
else
    fail "--read-only container did not answer: ${ready:-docker run failed}"
fi
"$DOCKER" rm -f kvs-readonly >/dev/null 2>&1

section "asg2net: main + 2 forwarders (scripts/cluster.sh)"
M="http://127.0.0.1:$MAIN_PORT"
t0="${EPOCHREALTIME/./}"
if "$CLUSTER" up 2 >"$OUT/cluster-up.log" 2>&1; then
    pass "cluster.sh up 2: main and two forwarders answer ($(((${EPOCHREALTIME/./} - t0) / 1000)) ms)"
else
    cat "$OUT/cluster-up.log"
    fail "cluster.sh up 2"
fi
ids1="$("$DOCKER" ps -q --filter network=asg2net | sort | tr '\n' ' ')"
"$CLUSTER" up 2 >/dev/null 2>&1 && [[ "$("$DOCKER" ps -q --filter network=asg2net | sort | tr '\n' ' ')" == "$ids1" ]] \
    && pass "cluster.sh up is idempotent (same containers)" || fail "cluster.sh up a second time changed or failed"
"$CLUSTER" net-create >/dev/null 2>&1 && pass "cluster.sh net-create is idempotent" || fail "cluster.sh net-create a second time"
for pair in "main-instance 10.10.0.2" "forwarding-instance1 10.10.0.3" "forwarding-instance2 10.10.0.4"; do
    set -- $pair
    ip="$("$DOCKER" inspect -f '{{(index .NetworkSettings.Networks "asg2net").IPAddress}}' "$1" 2>/dev/null)"
    [[ "$ip" == "$2" ]] && pass "$1 is at $2 on asg2net" || fail "$1 is at '$ip', want $2"
done

# One store: written through one instance, read through the others.
expect "shared" PUT "http://127.0.0.1:${FWD_PORTS[0]}/kvs/shared-$$" 201 '{"result":"created"}' '{"value": {"via": "fwd1"}}'
expect "shared" GET "$M/kvs/shared-$$" 200 '{"result":"found","value":{"via": "fwd1"}}'
expect "shared" GET "http://127.0.0.1:${FWD_PORTS[1]}/kvs/shared-$$" 200 '{"result":"found","value":{"via": "fwd1"}}'
if "$here/smoke.sh" "$MAIN_PORT" "${FWD_PORTS[@]}" >"$OUT/smoke.log" 2>&1; then
    pass "scripts/smoke.sh through main and both forwarders"
else
    cat "$OUT/smoke.log"; fail "scripts/smoke.sh"
fi

# >>> XUNIT HOOK (cluster): the black-box suite through main and the forwarders.
if [[ "${KVS_BLACKBOX:-0}" == 1 && -d tests/AotKvs.Tests ]]; then
    run_xunit cluster "$M" "http://127.0.0.1:${FWD_PORTS[0]},http://127.0.0.1:${FWD_PORTS[1]}" \
        "the asg2net cluster: main-instance and forwarding-instance1/2 (image $IMAGE $(image_id))"
else
    note "xunit black-box suite not run (KVS_BLACKBOX=1 and tests/AotKvs.Tests enable it)"
fi
# <<< XUNIT HOOK

section "forwarding edge cases: refused address, chain of forwarders"
# Forwarding to a live address with nothing on the port: refused, so 503 at once.
t0="${EPOCHREALTIME/./}"
if "$DOCKER" run -d --rm --net asg2net --ip 10.10.0.10 -p "127.0.0.1:$REFUSED_PORT:8090" \
    -e FORWARDING_ADDRESS=10.10.0.3:9 --name kvs-refused-fwd "$IMAGE" >/dev/null \
    && wait_answers "$REFUSED_PORT" "$t0" >/dev/null; then
    expect "refused" GET "http://127.0.0.1:$REFUSED_PORT/kvs/x" 503 '{"error":"Cannot forward request"}'
    measured "503 when the forwarding address refuses: $R_MS ms"
    ((R_MS < 500)) && pass "refused -> 503 in $R_MS ms (< 500)" || fail "refused -> 503 took $R_MS ms"
else
    fail "starting a forwarder to a refusing address"
fi
t0="${EPOCHREALTIME/./}"
if "$DOCKER" run -d --rm --net asg2net --ip 10.10.0.11 -p "127.0.0.1:$CHAIN_PORT:8090" \
    -e FORWARDING_ADDRESS=10.10.0.3:8090 --name kvs-chain-fwd "$IMAGE" >/dev/null \
    && wait_answers "$CHAIN_PORT" "$t0" >/dev/null; then
    expect "chain" PUT "http://127.0.0.1:$CHAIN_PORT/kvs/chain-$$" 201 '{"result":"created"}' '{"value": "two hops"}'
    expect "chain" GET "$M/kvs/chain-$$" 200 '{"result":"found","value":"two hops"}'
    expect "chain" GET "http://127.0.0.1:$CHAIN_PORT/kvs/none-$$" 404 '{"error":"Key does not exist"}'
else
    fail "starting a forwarder chained to forwarding-instance1"
fi
"$DOCKER" rm -f kvs-refused-fwd kvs-chain-fwd >/dev/null 2>&1
health_note main-instance forwarding-instance1 forwarding-instance2

section "docker pause main-instance -> forwarders answer 503 at the bound (${FORWARD_EARLIEST_MS}-${FORWARD_LATEST_MS} ms)"
expect "before stop" PUT "$M/kvs/survivor-$$" 201 '{"result":"created"}' '{"value": 1}'
# A frozen main keeps its address and sockets but never answers (a hung host): the
# forwarder must wait its whole bound, and no longer.
if "$DOCKER" pause main-instance >/dev/null 2>&1; then
    for port in "${FWD_PORTS[@]}"; do
        expect "main frozen, $port" GET "http://127.0.0.1:$port/kvs/survivor-$$" 503 '{"error":"Cannot forward request"}'
        measured "503 through :$port while main is paused: $R_MS ms"
        if ((R_MS >= FORWARD_EARLIEST_MS && R_MS <= FORWARD_LATEST_MS)); then
            pass "  ...in $R_MS ms (${FORWARD_EARLIEST_MS}-${FORWARD_LATEST_MS})"
        else
            fail "  ...in $R_MS ms, outside ${FORWARD_EARLIEST_MS}-${FORWARD_LATEST_MS}"
        fi
    done
    "$DOCKER" unpause main-instance >/dev/null 2>&1 || fail "docker unpause main-instance"
    for port in "${FWD_PORTS[@]}"; do
        expect "main thawed, $port" GET "http://127.0.0.1:$port/kvs/survivor-$$" 200 '{"result":"found","value":1}'
    done
else
    note "docker pause is not available here (no cgroup freezer): the frozen-main timing is covered by the xunit tests only"
fi

section "docker stop main-instance -> forwarders answer 503 within ${FORWARD_LATEST_MS} ms"
t0="${EPOCHREALTIME/./}"
"$DOCKER" stop main-instance >/dev/null 2>&1
stop_ms="$(((${EPOCHREALTIME/./} - t0) / 1000))"
measured "docker stop main-instance: $stop_ms ms"
((stop_ms < STOP_WALL_BOUND_MS)) && pass "docker stop main-instance took $stop_ms ms (< $STOP_WALL_BOUND_MS)" || fail "docker stop main-instance took $stop_ms ms"
worst=0
for port in "${FWD_PORTS[@]}"; do
    F="http://127.0.0.1:$port"
    for method in GET PUT DELETE GET; do
        if [[ "$method" == PUT ]]; then
            expect "main gone, $port" PUT "$F/kvs/survivor-$$" 503 '{"error":"Cannot forward request"}' '{"value": 2}'
        else
            expect "main gone, $port" "$method" "$F/kvs/survivor-$$" 503 '{"error":"Cannot forward request"}'
        fi
        ((R_MS > worst)) && worst=$R_MS
        if ((R_MS <= FORWARD_LATEST_MS)); then pass "  ...in $R_MS ms (<= $FORWARD_LATEST_MS)"; else fail "  ...took $R_MS ms (> $FORWARD_LATEST_MS)"; fi
    done
done
measured "503 after docker stop main-instance: slowest of 8 requests $worst ms"

section "main started again -> the very next forwarded request succeeds"
t0="${EPOCHREALTIME/./}"
if "$CLUSTER" main-start >"$OUT/main-restart.log" 2>&1 && ready="$(wait_answers "$MAIN_PORT" "$t0")"; then
    measured "main restart (docker run -> main answers): $ready ms"
    for port in "${FWD_PORTS[@]}"; do
        F="http://127.0.0.1:$port"
        # The very first request through each forwarder after the restart: main's new
        # store is empty, so a 404 from main, never a 503.
        expect "main back, $port, first request" GET "$F/kvs/survivor-$$" 404 '{"error":"Key does not exist"}'
        measured "first request through forwarder :$port after main restart: $R_CODE in $R_MS ms"
        expect "main back, $port" PUT "$F/kvs/back-$port-$$" 201 '{"result":"created"}' '{"value": "back"}'
        expect "main back, $port" GET "$M/kvs/back-$port-$$" 200 '{"result":"found","value":"back"}'
    done
else
    cat "$OUT/main-restart.log"
    fail "starting main again: ${ready:-cluster.sh main-start failed}"
fi
health_note main-instance forwarding-instance1 forwarding-instance2
t0="${EPOCHREALTIME/./}"
"$CLUSTER" down >"$OUT/cluster-down.log" 2>&1 && pass "cluster.sh down ($(((${EPOCHREALTIME/./} - t0) / 1000)) ms)" || { cat "$OUT/cluster-down.log"; fail "cluster.sh down"; }
"$CLUSTER" down >/dev/null 2>&1 && pass "cluster.sh down is idempotent" || fail "cluster.sh down a second time"
"$DOCKER" network inspect asg2net >/dev/null 2>&1 && fail "asg2net still exists" || pass "asg2net removed"

section "compose.yaml"
if [[ "$DOCKER" == docker ]] && docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
elif [[ "$DOCKER" == docker ]]; then
    say "installing docker-compose"
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; } >"$OUT/apt-compose.log" 2>&1; then
        COMPOSE=(docker-compose)
    fi
fi
if ((${#COMPOSE[@]})); then
    t0="${EPOCHREALTIME/./}"
    if "${COMPOSE[@]}" -f compose.yaml -p asg2 up -d >"$OUT/compose-up.log" 2>&1 && "$CLUSTER" wait 2 >>"$OUT/compose-up.log" 2>&1; then
        pass "${COMPOSE[*]} up -d: main and two forwarders answer ($(((${EPOCHREALTIME/./} - t0) / 1000)) ms)"
        for pair in "main-instance 10.10.0.2" "forwarding-instance1 10.10.0.3" "forwarding-instance2 10.10.0.4"; do
            set -- $pair
            ip="$("$DOCKER" inspect -f '{{(index .NetworkSettings.Networks "asg2net").IPAddress}}' "$1" 2>/dev/null)"
            [[ "$ip" == "$2" ]] && pass "compose: $1 is at $2 on asg2net" || fail "compose: $1 is at '$ip', want $2"
        done
        if "$here/smoke.sh" "$MAIN_PORT" "${FWD_PORTS[@]}" >"$OUT/compose-smoke.log" 2>&1; then
            pass "compose: scripts/smoke.sh through main and both forwarders"
        else
            cat "$OUT/compose-smoke.log"; fail "compose: scripts/smoke.sh"
        fi
        health_note main-instance forwarding-instance1 forwarding-instance2
    else
        cat "$OUT/compose-up.log"
        fail "${COMPOSE[*]} up -d"
    fi
    if "${COMPOSE[@]}" -f compose.yaml -p asg2 down -t 2 >"$OUT/compose-down.log" 2>&1; then
        pass "${COMPOSE[*]} down"
    else
        cat "$OUT/compose-down.log"; fail "${COMPOSE[*]} down"
    fi
    COMPOSE=()
else
    fail "no docker compose / docker-compose available to check compose.yaml"
fi

# Drop images that earlier builds left untagged (vfs keeps a full copy of every layer),
# but not the ones this run's build used: they are the layer cache of the next run.
used=" $(grep -oE -- '---> [0-9a-f]{12}' "$OUT/build.log" 2>/dev/null | awk '{print $2}' | tr '\n' ' ') "
for id in $("$DOCKER" images -q -f dangling=true 2>/dev/null); do
    [[ "$used" == *" $id "* ]] || "$DOCKER" rmi "$id" >/dev/null 2>&1 || true
done
exit 0
