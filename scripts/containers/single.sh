# shellcheck shell=bash
# One container on a published port, as the single-instance suite runs it: start-up, the xunit
# black-box suite against it, `docker stop`; then the same image with --read-only, and with a
# data dir on a named volume across `docker kill`.

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
    # What only a container can show: with no writable root, a write and a read still work and
    # the process keeps running. The SPEC rows themselves are the xunit suite's.
    expect "read-only" PUT "$R/kvs/ro" 201 '{"result":"created"}' '{"value": [1, "ro"]}'
    expect "read-only" GET "$R/kvs/ro" 200 '{"result":"found","value":[1, "ro"]}'
    sleep 1
    [[ "$("$DOCKER" inspect -f '{{.State.Running}}' kvs-readonly 2>/dev/null)" == true ]] \
        && pass "--read-only container keeps running" || fail "--read-only container stopped"
else
    fail "--read-only container did not answer: ${ready:-docker run failed}"
fi
"$DOCKER" rm -f kvs-readonly >/dev/null 2>&1

section "data dir on a named volume (KVS_DATA_DIR=/data)"
"$DOCKER" volume rm -f kvs-test-data >/dev/null 2>&1
for pass_no in 1 2; do
    t0="${EPOCHREALTIME/./}"
    if "$DOCKER" run -d -v kvs-test-data:/data -e KVS_DATA_DIR=/data -p "127.0.0.1:$READONLY_PORT:8090" \
            --name kvs-durable "$IMAGE" >/dev/null \
        && ready="$(wait_answers "$READONLY_PORT" "$t0")"; then
        D="http://127.0.0.1:$READONLY_PORT"
        # What only a container can show: a change survives `docker kill` of its container on a named volume.
        if [[ $pass_no == 1 ]]; then
            expect "data dir" PUT "$D/kvs/kept" 201 '{"result":"created"}' '{"value": {"kept": true}}'
        else
            # The first container was killed (SIGKILL), not stopped: the change was on disk before its answer.
            expect "data dir, after docker kill and a new container" GET "$D/kvs/kept" 200 '{"result":"found","value":{"kept": true}}'
        fi
    else
        fail "container with a data dir did not answer: ${ready:-docker run failed} $("$DOCKER" logs kvs-durable 2>&1 | tail -1)"
    fi
    "$DOCKER" kill kvs-durable >/dev/null 2>&1
    "$DOCKER" rm -f kvs-durable >/dev/null 2>&1
done
"$DOCKER" volume rm -f kvs-test-data >/dev/null 2>&1
