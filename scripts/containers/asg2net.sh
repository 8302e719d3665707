# shellcheck shell=bash
# The graders' cluster on asg2net (scripts/cluster.sh): addresses, a forwarder chained to a
# forwarder, the xunit suite through main, both forwarders and the chain (its SPEC rows, one store
# behind every instance, are the suite's and are not repeated here), a refused address, then main
# paused, stopped and started again with the forwarders' 503s timed against the bound.

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

# One store behind every instance is the xunit suite's (Every_instance_sees_the_same_data, below).
# The smoke script is checked here because it is shipped for users to run against a cluster.
if "$here/smoke.sh" "$MAIN_PORT" "${FWD_PORTS[@]}" >"$OUT/smoke.log" 2>&1; then
    pass "scripts/smoke.sh through main and both forwarders"
else
    cat "$OUT/smoke.log"; fail "scripts/smoke.sh"
fi

# A forwarder chained to forwarding-instance1: two hops to main. The suite below runs through it
# as a third forwarder, so every SPEC row is checked through the chain too.
t0="${EPOCHREALTIME/./}"
chain_url=""
ready=""
if "$DOCKER" run -d --rm --net asg2net --ip 10.10.0.11 -p "127.0.0.1:$CHAIN_PORT:8090" \
    -e FORWARDING_ADDRESS=10.10.0.3:8090 --name kvs-chain-fwd "$IMAGE" >/dev/null \
    && ready="$(wait_answers "$CHAIN_PORT" "$t0")"; then
    pass "a forwarder chained to forwarding-instance1 answers on host port $CHAIN_PORT ($ready ms)"
    chain_url=",http://127.0.0.1:$CHAIN_PORT"
else
    fail "starting a forwarder chained to forwarding-instance1: ${ready:-docker run failed}"
fi

# >>> XUNIT HOOK (cluster): the black-box suite through main, the forwarders and the chain.
if [[ "${KVS_BLACKBOX:-0}" == 1 && -d tests/AotKvs.Tests ]]; then
    run_xunit cluster "$M" "http://127.0.0.1:${FWD_PORTS[0]},http://127.0.0.1:${FWD_PORTS[1]}$chain_url" \
        "the asg2net cluster: main-instance, forwarding-instance1/2${chain_url:+ and a chain through forwarding-instance1} (image $IMAGE $(image_id))"
else
    note "xunit black-box suite not run (KVS_BLACKBOX=1 and tests/AotKvs.Tests enable it)"
fi
# <<< XUNIT HOOK
"$DOCKER" rm -f kvs-chain-fwd >/dev/null 2>&1

section "forwarding edge cases: refused address"
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
"$DOCKER" rm -f kvs-refused-fwd >/dev/null 2>&1
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
