#!/usr/bin/env bash
# The grader topology on one machine, step by step. Every command is idempotent: running it
# again when the thing is already there (or already gone) succeeds and changes nothing.
#
#   scripts/cluster.sh net-create          network asg2net, subnet 10.10.0.0/16
#   scripts/cluster.sh net-remove          remove it (stops the instances first)
#   scripts/cluster.sh main-start          main-instance at 10.10.0.2, host port 8082
#   scripts/cluster.sh main-stop           docker stop main-instance (as the graders do)
#   scripts/cluster.sh forwarders-start N  forwarding-instance1..N at 10.10.0.3.., host ports 8083..
#   scripts/cluster.sh forwarders-stop     stop every forwarding-instanceK
#   scripts/cluster.sh up [N]              net-create, main-start, forwarders-start N (default 2), wait until all answer
#   scripts/cluster.sh down                stop every instance and remove the network
#   scripts/cluster.sh wait [N]            wait (at most WAIT_SECONDS) until main and N forwarders answer HTTP
#   scripts/cluster.sh status              what is running, with host ports
#
# Env: DOCKER=docker|podman (default docker), IMAGE (default asg2img), NET (asg2net),
# SUBNET (10.10.0.0/16), BIND_ADDR (host address for published ports; default empty = all
# interfaces, as in the graders' `-p 8082:8090`; CI uses 127.0.0.1), MAIN_PORT (8082),
# FORWARDER_BASE_PORT (8083), WAIT_SECONDS (20).
# Containers run with --rm, as the graders run them: a stopped instance is gone, and
# main-start after main-stop starts a new one with the same name, address and port.
set -euo pipefail

DOCKER="${DOCKER:-docker}"
IMAGE="${IMAGE:-asg2img}"
NET="${NET:-asg2net}"
SUBNET="${SUBNET:-10.10.0.0/16}"
BIND_ADDR="${BIND_ADDR:-}"
MAIN_PORT="${MAIN_PORT:-8082}"
FORWARDER_BASE_PORT="${FORWARDER_BASE_PORT:-8083}"
WAIT_SECONDS="${WAIT_SECONDS:-20}"
MAIN_NAME=main-instance
MAIN_IP=10.10.0.2
FORWARDER_PREFIX=forwarding-instance
MAX_FORWARDERS=200

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

publish() { # host port -> the -p value
    if [[ -n "$BIND_ADDR" ]]; then echo "$BIND_ADDR:$1:8090"; else echo "$1:8090"; fi
}

net_exists() { "$DOCKER" network inspect "$NET" >/dev/null 2>&1; }
container_exists() { "$DOCKER" container inspect "$1" >/dev/null 2>&1; }
container_running() { [[ "$("$DOCKER" container inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" == true ]]; }

net_create() {
    if net_exists; then
        log "network $NET already exists"
    else
        "$DOCKER" network create --subnet="$SUBNET" "$NET" >/dev/null
        log "network $NET created ($SUBNET)"
    fi
}

# Waits (bounded) until a container name is free again: with --rm the engine removes a
# stopped container just after `stop` returns.
wait_gone() {
    local name="$1" i
    for ((i = 0; i < 100; i++)); do
        container_exists "$name" || return 0
        sleep 0.1
    done
    die "$name still exists 10 s after it stopped"
}

stop_container() {
    local name="$1"
    if container_running "$name"; then
        "$DOCKER" stop "$name" >/dev/null
        log "$name stopped"
    fi
    if container_exists "$name"; then
        "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
    fi
    wait_gone "$name"
}

# start_container NAME IP HOST_PORT [docker run args...]
start_container() {
    local name="$1" ip="$2" port="$3"
    shift 3
    if container_running "$name"; then
        log "$name already running"
        return 0
    fi
    if container_exists "$name"; then # left over, stopped: replace it
        "$DOCKER" rm -f "$name" >/dev/null
        wait_gone "$name"
    fi
    net_exists || net_create
    "$DOCKER" run -d --rm --name "$name" --net "$NET" --ip "$ip" -p "$(publish "$port")" "$@" "$IMAGE" >/dev/null
    log "$name started at $ip, host port $port"
}

main_start() { start_container "$MAIN_NAME" "$MAIN_IP" "$MAIN_PORT"; }
main_stop() { stop_container "$MAIN_NAME"; }

forwarder_ip() { echo "10.10.0.$((2 + $1))"; }
forwarder_port() { echo "$((FORWARDER_BASE_PORT + $1 - 1))"; }

forwarders_start() {
    local n="${1:-2}" k
    [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_FORWARDERS)) || die "forwarders-start needs a count from 1 to $MAX_FORWARDERS"
    for ((k = 1; k <= n; k++)); do
        start_container "$FORWARDER_PREFIX$k" "$(forwarder_ip "$k")" "$(forwarder_port "$k")" \
            -e "FORWARDING_ADDRESS=$MAIN_IP:8090"
    done
}

forwarder_names() {
    "$DOCKER" ps -a --format '{{.Names}}' | grep -E "^${FORWARDER_PREFIX}[0-9]+$" || true
}

forwarders_stop() {
    local name
    for name in $(forwarder_names); do stop_container "$name"; done
}

net_remove() {
    forwarders_stop
    main_stop
    if net_exists; then
        "$DOCKER" network rm "$NET" >/dev/null
        log "network $NET removed"
    else
        log "network $NET already gone"
    fi
}

# An instance is ready when it answers HTTP at all (any status) on its host port.
answers() {
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/kvs/" 2>/dev/null || true)"
    [[ -n "$code" && "$code" != 000 ]]
}

wait_ready() {
    local n="${1:-2}" k ports=("$MAIN_PORT") deadline port
    for ((k = 1; k <= n; k++)); do ports+=("$(forwarder_port "$k")"); done
    deadline=$((SECONDS + WAIT_SECONDS))
    for port in "${ports[@]}"; do
        until answers "$port"; do
            ((SECONDS < deadline)) || die "nothing answers on 127.0.0.1:$port after ${WAIT_SECONDS}s"
            sleep 0.05
        done
    done
    log "ready: ports ${ports[*]}"
}

status() {
    "$DOCKER" ps -a --filter "network=$NET" --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}' 2>/dev/null || true
}

cmd="${1:-}"
shift || true
case "$cmd" in
    net-create) net_create ;;
    net-remove) net_remove ;;
    main-start) main_start ;;
    main-stop) main_stop ;;
    forwarders-start) forwarders_start "${1:-2}" ;;
    forwarders-stop) forwarders_stop ;;
    up) net_create; main_start; forwarders_start "${1:-2}"; wait_ready "${1:-2}" ;;
    down) net_remove ;;
    wait) wait_ready "${1:-2}" ;;
    status) status ;;
    *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; [[ -z "$cmd" || "$cmd" == -h || "$cmd" == --help ]] || exit 2 ;;
esac
