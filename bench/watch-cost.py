#!/usr/bin/env python3
"""What waiting reads and expiry cost main, measured on the published binary.

1. Wake-up latency, one waiter: a GET with If-None-Match and Prefer: wait=30 is waiting on
   main (kvs_waiting says so); a PUT of the key is sent; the time from sending the PUT to the
   waiter's answer. Beside it, the same through etcd's own watch (its JSON gateway, one watch
   stream, a put per round) when an `etcd` binary is on PATH, in the same run.
2. 10,000 waiters on one key: main's RSS before and while they wait (bytes per waiter), then
   one PUT and the time until each waiter has its answer (p50, p99, last).
3. The expiry sweep under reads: 1M keys (default) written with Kvs-Ttl so that they all
   expire together; one client reading another key serially the whole time; its GET latency
   p99 in the 2 s the keys expire against the 2 s before (deadlines held, no sweep) and a
   second before any deadline.

Usage: bench/watch-cost.py [--rounds N] [--waiters N] [--keys N]
(binary: artifacts/publish/AotKvs, or KVS_BINARY; ports 18290-18293 on 127.0.0.1)
"""
import argparse, asyncio, base64, json, os, resource, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("KVS_BINARY", os.path.join(ROOT, "artifacts", "publish", "AotKvs"))
PORT, ETCD_CLIENT, ETCD_PEER = 18290, 18292, 18293


def start_main(env):
    proc = subprocess.Popen([BINARY, "--urls", f"http://127.0.0.1:{PORT}"], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", PORT), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.01)
    raise SystemExit("main did not start")


def request(method, path, body=b"", headers=()):
    """One request on its own connection; (status, headers dict, body)."""
    with socket.create_connection(("127.0.0.1", PORT)) as s:
        s.sendall(head(method, path, body, headers) + body)
        return read_answer(s.makefile("rb"))


def head(method, path, body=b"", headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"] + [f"{n}: {v}" for n, v in headers]
    if method == "PUT":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(f):
    status = int(f.readline().split()[1])
    headers = {}
    while (line := f.readline().strip()):
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    body = f.read(int(headers.get("content-length", 0))) if status != 304 else b""
    return status, headers, body


def put(key, value, headers=()):
    return request("PUT", f"/kvs/{key}", json.dumps({"value": value}).encode(), headers)


def waiting():
    _, _, body = request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("kvs_waiting "):
            return int(float(line.split()[1]))
    return 0


def until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return False


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def one_waiter(rounds):
    tag = put("w", 0)[1]["etag"]
    latencies = []
    for i in range(rounds):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(head("GET", "/kvs/w", headers=[("If-None-Match", tag), ("Prefer", "wait=30")]))
        until(lambda: waiting() == 1)
        started = time.perf_counter()
        tag = put("w", i + 1)[1]["etag"]
        status, _, _ = read_answer(s.makefile("rb"))
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
        s.close()
    return latencies


def etcd_watch(rounds):
    """etcd's watch latency through its JSON gateway: one watch stream, a put per round."""
    if not shutil.which("etcd"):
        return None
    data = tempfile.mkdtemp(prefix="watch-cost-etcd-")
    proc = subprocess.Popen(["etcd", "--data-dir", data, "--listen-client-urls", f"http://127.0.0.1:{ETCD_CLIENT}",
                             "--advertise-client-urls", f"http://127.0.0.1:{ETCD_CLIENT}",
                             "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER}",
                             "--initial-cluster", f"default=http://127.0.0.1:{ETCD_PEER}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        key = base64.b64encode(b"w").decode()
        def call(path, payload):
            with socket.create_connection(("127.0.0.1", ETCD_CLIENT)) as s:
                body = json.dumps(payload).encode()
                s.sendall(f"POST {path} HTTP/1.1\r\nHost: etcd\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
                return s.recv(65536)
        def ready():
            try:
                return b"200 OK" in call("/v3/kv/range", {"key": key})
            except OSError:
                return False
        if not until(ready, 30):
            return None
        watch = socket.create_connection(("127.0.0.1", ETCD_CLIENT))
        body = json.dumps({"create_request": {"key": key}}).encode()
        watch.sendall(f"POST /v3/watch HTTP/1.1\r\nHost: etcd\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        stream = watch.makefile("rb")
        while b"created" not in stream.readline():
            pass
        latencies = []
        for i in range(rounds):
            started = time.perf_counter()
            call("/v3/kv/put", {"key": key, "value": base64.b64encode(str(i).encode()).decode()})
            while b"events" not in stream.readline():
                pass
            latencies.append((time.perf_counter() - started) * 1000)
        watch.close()
        return latencies
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


async def many_waiters(n, pid):
    tag = put("many", 0)[1]["etag"]
    before = rss_kb(pid)
    streams = []
    for _ in range(n):
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
        writer.write(head("GET", "/kvs/many", headers=[("If-None-Match", tag), ("Prefer", "wait=120")]))
        streams.append((reader, writer))
    await asyncio.get_running_loop().run_in_executor(None, lambda: until(lambda: waiting() == n, 120))
    during = rss_kb(pid)
    times = []

    async def answer(reader):
        await reader.readuntil(b"\r\n\r\n")
        times.append(time.perf_counter())

    readers = [asyncio.create_task(answer(r)) for r, _ in streams]
    started = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, lambda: put("many", 1))
    await asyncio.wait_for(asyncio.gather(*readers), 60)
    for _, writer in streams:
        writer.close()
    return before, during, [(t - started) * 1000 for t in times]


def sweep_under_reads(keys, ttl):
    put("reader", 1)
    stop_at = [None]
    latencies = []  # (time, ms)

    def reader():
        s = socket.create_connection(("127.0.0.1", PORT))
        f = s.makefile("rb")
        request_bytes = head("GET", "/kvs/reader")
        while stop_at[0] is None or time.monotonic() < stop_at[0]:
            started = time.perf_counter()
            s.sendall(request_bytes)
            read_answer(f)
            latencies.append((time.monotonic(), (time.perf_counter() - started) * 1000))

    import threading
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(1)
    quiet = (time.monotonic() - 1, time.monotonic())
    # Write the keys pipelined, 1,000 per batch, all with one lifetime.
    s = socket.create_connection(("127.0.0.1", PORT))
    f = s.makefile("rb")
    first = time.monotonic()
    for batch in range(0, keys, 1000):
        s.sendall(b"".join(head("PUT", f"/kvs/t{i}", b'{"value":1}', [("Kvs-Ttl", str(ttl))]) + b'{"value":1}'
                           for i in range(batch, min(batch + 1000, keys))))
        for _ in range(batch, min(batch + 1000, keys)):
            read_answer(f)
    written = time.monotonic()
    expire_at = first + ttl
    if written > expire_at:
        print(f"  writing {keys} keys took {written - first:.1f} s, longer than the {ttl} s lifetime: raise --ttl")
    stop_at[0] = max(expire_at, written) + 3
    thread.join()
    def p99(window):
        values = [ms for t, ms in latencies if window[0] <= t < window[1]]
        return pct(values, 99) if values else float("nan"), len(values)
    return p99(quiet), p99((expire_at - 2, expire_at)), p99((expire_at, expire_at + 2)), written - first


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--waiters", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--ttl", type=int, default=90)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.waiters * 2 + 1000)), hard))
    proc = start_main({"KVS_MAX_WAITERS": str(args.waiters + 100), "KVS_MAX_CONNECTIONS": str(args.waiters * 2 + 100)})
    try:
        ours = one_waiter(args.rounds)
        print(f"1 waiter, PUT sent -> waiter answered: p50 {pct(ours, 50):.3f} ms, p99 {pct(ours, 99):.3f} ms ({args.rounds} rounds)")
        theirs = etcd_watch(args.rounds)
        if theirs:
            print(f"etcd watch, put sent -> event received: p50 {pct(theirs, 50):.3f} ms, p99 {pct(theirs, 99):.3f} ms "
                  f"(ratio of p50s, ours/etcd: {pct(ours, 50) / pct(theirs, 50):.2f})")
        else:
            print("etcd watch: no etcd on PATH, not measured")
        before, during, wakes = asyncio.run(many_waiters(args.waiters, proc.pid))
        print(f"{args.waiters} waiters: RSS {before} -> {during} KiB, {(during - before) * 1024 / args.waiters:.0f} bytes per waiter "
              f"(connection included); one PUT woke all: p50 {pct(wakes, 50):.1f} ms, p99 {pct(wakes, 99):.1f} ms, last {max(wakes):.1f} ms")
        (quiet, n_quiet), (held, n_held), (sweep, n_sweep), took = sweep_under_reads(args.keys, args.ttl)
        print(f"sweep of {args.keys} keys expiring together (written in {took:.1f} s): GET p99 {sweep:.3f} ms over {n_sweep} reads "
              f"in the 2 s they expire, against {held:.3f} ms ({n_held} reads) in the 2 s before, with the deadlines held "
              f"(ratio {sweep / held:.2f}), and {quiet:.3f} ms ({n_quiet} reads) before any deadline (ratio {sweep / quiet:.2f})")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
