# shellcheck shell=bash
# compose.yaml: `compose up` gives a cluster that answers, then `compose down`; last, old
# untagged images are dropped (this run's layers are kept as the next run's cache).

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
