# A one-node etcd on loopback for the scripts that need a real cluster (scripts/suites/etcd.sh,
# scripts/bench-etcd.sh). Installs Debian's etcd-server (etcd 3.4) when it is missing.
# shellcheck shell=bash

# A loopback port nobody listens on right now (the OS picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# etcd_start DIR: starts etcd with its data in DIR on two free loopback ports, waits
# (bounded) until its JSON gateway answers, and sets ETCD_PID, ETCD_PORT and ETCD_URL.
etcd_start() {
  command -v etcd >/dev/null || ensure_packages etcd-server
  ETCD_PORT=$(free_port)
  ETCD_PEER_PORT=$(free_port)
  ETCD_URL="http://127.0.0.1:$ETCD_PORT"
  etcd_restart "$1"
}

# etcd_restart DIR: the same node again, on the same ports, with the data it had.
etcd_restart() {
  local dir="$1" peer="http://127.0.0.1:$ETCD_PEER_PORT"
  mkdir -p "$dir"
  etcd --name kvs --data-dir "$dir/data" --log-level warn \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "kvs=$peer" >>"$dir/etcd.log" 2>&1 &
  ETCD_PID=$!
  local deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    if curl -sf -X POST "$ETCD_URL/v3/kv/range" -d '{"key":"AA=="}' >/dev/null 2>&1; then return 0; fi
    kill -0 "$ETCD_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "etcd did not answer on $ETCD_URL:" >&2
  tail -n 20 "$dir/etcd.log" >&2
  return 1
}

# kvs_start PORT ENV...: starts the published binary on 127.0.0.1:PORT with these
# variables, waits (bounded) until it answers, and prints its pid.
kvs_start() {
  local port="$1"
  shift
  env -u FORWARDING_ADDRESS "$@" "$BINARY" --urls "http://127.0.0.1:$port" >>"${KVS_LOG:-/dev/null}" 2>&1 &
  local pid=$! deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then echo "$pid"; return 0; fi
    sleep 0.02
  done
  kill "$pid" 2>/dev/null
  return 1
}
