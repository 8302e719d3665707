#!/usr/bin/env python3
"""Durability benchmark: what a data dir costs, side by side in one run.

1. PUT at 32 connections (wrk, bench/lua/put_replace.lua, 1k keys of 8 bytes, 20-byte
   values) against main without a data dir, with --sync always and with --sync periodic,
   alternated round by round; server on CPU 1, wrk on CPU 0. Prints each one's ratio to
   memory only, round by round, and their median.
2. Restart with 1M keys: a log of 1M PUTs is written here (the service's record format),
   then the time from spawning main to its first answer (median of 5), before and after
   compaction, beside the start of main without a data dir.
3. Disk after compaction: every file in the data dir over the live keys' and values' bytes.

Usage: bench/durability.py [--rounds N] [--seconds S] [--keys N]   (binary: artifacts/publish/AotKvs)
"""
import argparse, json, os, shutil, socket, statistics, struct, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("KVS_BINARY", os.path.join(ROOT, "artifacts", "publish", "AotKvs"))
LUA = os.path.join(ROOT, "bench", "lua")
VALUE = b'"v-0123456789abcdef"'  # bench/lua/common.lua's 20-byte value

def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table

TABLE = crc32c_table()

def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def record(key, value, version):
    """Storage/Log/LogRecord.cs, a versioned put without a deadline: [crc32c][payload length][kind=3][key length][version: 8][key][value].
    (Kind 5, a put with a deadline, has 8 more bytes after the version; the benchmark's keys live forever.)"""
    body = struct.pack("<IBBQ", 10 + len(key) + len(value), 3, len(key), version) + key + value
    return struct.pack("<I", crc32c(body)) + body

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def start(port, data_dir=None, extra=(), cpus="1"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KVS_", "FORWARDING_", "ASPNETCORE_"))}
    argv = ["taskset", "-c", cpus, BINARY, "--port", str(port), "--log-level", "warning", *extra]
    if data_dir:
        argv += ["--data-dir", data_dir]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def request(port, method, path, body=b""):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data

def first_answer_ms(port, data_dir=None):
    """Spawn to the first answer of GET /kvs/k0000000, polling every 1 ms (bounded)."""
    began = time.perf_counter()
    proc = start(port, data_dir)
    try:
        for _ in range(30000):
            try:
                if request(port, "GET", "/kvs/k0000000").startswith(b"HTTP/1.1"):
                    return (time.perf_counter() - began) * 1000
            except OSError:
                time.sleep(0.001)
        raise RuntimeError("main never answered")
    finally:
        proc.terminate()
        proc.wait(10)

def wait_listening(port):
    for _ in range(3000):
        try:
            request(port, "GET", "/healthz")
            return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"nothing listens on {port}")

def metric(port, name):
    for line in request(port, "GET", "/metrics").decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    return None

def throughput(args, work):
    targets = {"memory": None, "always": ["--sync", "always"], "periodic": ["--sync", "periodic"]}
    rps = {name: [] for name in targets}
    for r in range(args.rounds):
        for name, extra in targets.items():
            port = free_port()
            data = os.path.join(work, f"put-{name}-{r}") if extra else None
            proc = start(port, data, extra or ())
            try:
                wait_listening(port)
                out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", "-c32", f"-d{args.seconds}s", "--timeout", "5s",
                                      "-s", os.path.join(LUA, "put_replace.lua"), f"http://127.0.0.1:{port}", "--", "1000"],
                                     capture_output=True, text=True, timeout=args.seconds + 30).stdout
                result = json.loads(next(l for l in out.splitlines() if l.startswith("BENCHJSON "))[10:])
                errors = result["err_connect"] + result["err_read"] + result["err_write"] + result["err_timeout"] + result.get("err_status", 0)
                rps[name].append(result["requests"] / (result["duration_us"] / 1e6))
                print(f"  round {r + 1} {name:9s} {rps[name][-1]:9.0f} PUT/s  errors {errors}", flush=True)
            finally:
                proc.terminate()
                proc.wait(10)
    # Each round's ratio pairs targets run seconds apart, so load from elsewhere cancels out
    # better than in a ratio of medians; the median of those ratios is the figure.
    for name in targets:
        ratios = [a / b for a, b in zip(rps[name], rps["memory"])]
        print(f"PUT 32 conns {name:9s} median {statistics.median(rps[name]):9.0f}/s  ratio to memory: median {statistics.median(ratios):.2f}x"
              f" (rounds {' '.join(f'{r:.2f}' for r in ratios)})")

def restart(args, work):
    data = os.path.join(work, "restart")
    os.makedirs(data)
    print(f"writing a log of {args.keys} PUTs...", flush=True)
    live = 0
    with open(os.path.join(data, "log.00000001"), "wb") as log:
        chunk = []
        for i in range(args.keys):
            key = b"k%07d" % i
            chunk.append(record(key, VALUE, i + 1))
            live += len(key) + len(VALUE)
            if len(chunk) == 10000:
                log.write(b"".join(chunk))
                chunk = []
        log.write(b"".join(chunk))
    disk = lambda: sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
    plain = statistics.median(first_answer_ms(free_port()) for _ in range(5))
    from_log = statistics.median(first_answer_ms(free_port(), data) for _ in range(5))

    # Compaction: a floor of 4 KiB, so the next write starts it.
    port = free_port()
    proc = start(port, data, ["--compact-min-bytes", "4096"])
    try:
        wait_listening(port)
        request(port, "PUT", "/kvs/trigger", b'{"value": 1}')
        for _ in range(3000):
            if (metric(port, "kvs_log_compactions") or 0) >= 1:
                break
            time.sleep(0.01)
        live += len(b"trigger") + 1
        compacted = disk()
    finally:
        proc.terminate()
        proc.wait(10)
    from_snapshot = statistics.median(first_answer_ms(free_port(), data) for _ in range(5))
    print(f"start to first answer, no data dir          {plain:7.1f} ms")
    print(f"start to first answer, {args.keys} keys from the log      {from_log:7.1f} ms")
    print(f"start to first answer, {args.keys} keys from a snapshot   {from_snapshot:7.1f} ms")
    print(f"disk after compaction {compacted} B for {live} B of live keys and values: {compacted / live:.2f}x")

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        sys.exit(f"publish first: {BINARY} is missing")
    work = tempfile.mkdtemp(prefix="kvs-durability-bench-", dir=os.path.join(ROOT, "artifacts"))
    try:
        throughput(args, work)
        restart(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
