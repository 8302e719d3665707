# shellcheck shell=bash
# The engine, the base-image stand-ins, then `docker build` of the unmodified Dockerfile and the
# image's configuration.

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
