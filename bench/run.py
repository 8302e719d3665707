#!/usr/bin/env python3
"""AotKvs benchmark runner (python3 standard library only).

Starts every target fresh on 127.0.0.1 in one invocation, loads it with wrk and the Lua
scripts in bench/lua, and writes bench/results/latest.md plus an SVG chart. Targets:

  aot-main    AotKvs, main role
  go-main     the Go peer (bench/go-peer: net/http, mutex + map), main role
  ceiling     bench/ceiling: Kestrel on Native AOT answering a constant (framework ceiling)
  aot-fwd     AotKvs, forwarding role, in front of a fresh AotKvs main
  go-fwd      the Go peer (httputil.ReverseProxy), forwarding role, in front of a fresh AotKvs main
  nginx-fwd   nginx proxy_pass + upstream keepalive, in front of a fresh AotKvs main
  aot-fwd-single  AotKvs, forwarding role, one request per connection to main (KVS_UPSTREAM_PIPELINE=1):
              the forwarder without pipelining, side by side
  (extra)     --extra-forwarder NAME=BINARY[,KEY=VALUE...]: any AotKvs-compatible binary as forwarder

Every forwarder sits in front of the same kind of backend (a fresh AotKvs main), so the
forwarding columns compare forwarders only. The machine is shared and noisy: targets are
alternated inside every round, rounds are repeated, and the report quotes medians of
per-round ratios (A and B measured minutes apart, not hours).

Scripts/bench.sh builds the binaries and calls this; run it directly for finer control.
This file runs the targets and collects the numbers; report.py writes latest.md, chart.py
the SVG, workload.py holds the scenarios they share.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import memory
from chart import svg_chart
from report import write_report
from workload import SCENARIOS

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
LUA = os.path.join(BENCH_DIR, "lua")
PORTS = range(18100, 18200)


# ---------------------------------------------------------------- processes and ports

class Procs:
    """Every process this run started, so that all of them are stopped whatever happens."""

    def __init__(self):
        self.live = []

    def start(self, argv, env=None, cpus=None, log=None):
        if cpus:
            argv = ["taskset", "-c", cpus] + argv
        full_env = dict(os.environ)
        full_env.update(env or {})
        out = open(log, "ab") if log else subprocess.DEVNULL
        p = subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.live.append(p)
        return p

    def stop(self, p, grace=3.0):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(self.live):
            self.stop(p)


PROCS = Procs()
_next_port = [PORTS.start]


def free_port():
    """The next port in 18100-18199 that nothing listens on (checked, not guessed)."""
    for _ in range(len(PORTS)):
        port = _next_port[0]
        _next_port[0] = port + 1 if port + 1 < PORTS.stop else PORTS.start
        ok = True
        for host in ("127.0.0.1", "0.0.0.0"):
            s = socket.socket()
            try:
                s.bind((host, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise RuntimeError("no free port in 18100-18199")


def first_answer(port, deadline_s=10.0, path="/kvs/startprobe"):
    """Polls until any HTTP status line comes back; returns seconds waited, or None."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < deadline_s:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(request)
                data = s.recv(64)
                if data.startswith(b"HTTP/1."):
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.0002)
    return None


def http_status(port, path):
    """Status of one GET, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            line = s.recv(64).split(b"\r\n", 1)[0].split()
            return int(line[1]) if len(line) > 1 else None
    except (OSError, ValueError):
        return None


def cpu_ms(pid):
    """CPU time (user + system, all live threads) a process has used so far, in ms."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return total / 1e6


def process_tree(pid):
    """The pid and every descendant still alive (nginx: master + worker)."""
    todo = [pid]
    while todo:
        p = todo.pop()
        yield p
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass


def vmrss_kb(pid):
    """RSS of one process, in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0


def rss_kb(pid):
    """RSS of a process plus its children (nginx: master + worker), in KiB."""
    return sum(vmrss_kb(p) for p in process_tree(pid))


def cpu_ms_tree(pid):
    """CPU time of a process and its children (nginx: master + worker), in ms."""
    return sum(cpu_ms(p) for p in process_tree(pid))


def server_pid(p):
    """The pid of the server itself (taskset execs, so it is the Popen pid)."""
    return p.pid


# ---------------------------------------------------------------- targets

class Running:
    def __init__(self, name, port, main_proc, procs, backend_port):
        self.name = name
        self.port = port
        self.proc = main_proc          # the process whose RSS we report
        self.procs = procs             # everything to stop, target first
        self.backend_port = backend_port  # where keys are preloaded


class Bench:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="aotkvs-bench-")
        self.server_cpus = None if args.no_pin else "1"
        self.client_cpus = None if args.no_pin else "0"
        self.loads = []
        self.aot = os.path.join(REPO, "artifacts/publish/AotKvs")
        self.ceiling = os.path.join(REPO, "artifacts/ceiling/Ceiling")
        self.go = args.go_bin
        # NAME=BINARY[,KEY=VALUE...]: the binary, and environment for it
        self.extra = {}
        for spec in args.extra_forwarder:
            name, rest = spec.split("=", 1)
            binary, *settings = rest.split(",")
            self.extra[name] = (binary, dict(kv.split("=", 1) for kv in settings))

    def log(self, name):
        return os.path.join(self.tmp, f"{name}.log")

    def _aot(self, binary, port, forward_to=None, name="aot", extra_env=None):
        env = {"ASPNETCORE_URLS": f"http://127.0.0.1:{port}", "FORWARDING_ADDRESS": ""}
        if forward_to:
            env["FORWARDING_ADDRESS"] = f"127.0.0.1:{forward_to}"
        env.update(extra_env or {})
        return PROCS.start([binary], env, self.server_cpus, self.log(name))

    def _go(self, port, forward_to=None):
        env = {"PORT": str(port), "FORWARDING_ADDRESS": f"127.0.0.1:{forward_to}" if forward_to else ""}
        return PROCS.start([self.go], env, self.server_cpus, self.log("go"))

    def _nginx(self, port, main_port):
        prefix = tempfile.mkdtemp(prefix="nginx-", dir=self.tmp)
        with open(os.path.join(BENCH_DIR, "nginx.conf.template")) as f:
            conf = f.read().replace("@PREFIX@", prefix).replace("@PORT@", str(port)).replace("@MAIN_PORT@", str(main_port))
        path = os.path.join(prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return PROCS.start(["nginx", "-p", prefix, "-c", path, "-e", os.path.join(prefix, "error.log")],
                           None, self.server_cpus, self.log("nginx"))

    def _ready(self, port, p, what):
        if first_answer(port) is None or p.poll() is not None:
            raise RuntimeError(f"{what} did not answer on port {port}; see {self.tmp}")

    def start(self, name):
        """Starts a target fresh (and, for a forwarder, a fresh AotKvs main behind it)."""
        if name in ("aot-main", "go-main", "ceiling"):
            port = free_port()
            p = (self._aot(self.aot, port, name=name) if name == "aot-main"
                 else self._go(port) if name == "go-main"
                 else PROCS.start([self.ceiling], {"ASPNETCORE_URLS": f"http://127.0.0.1:{port}"}, self.server_cpus, self.log(name)))
            self._ready(port, p, name)
            return Running(name, port, p, [p], None if name == "ceiling" else port)

        main_port = free_port()
        main = self._aot(self.aot, main_port, name=f"{name}-backend")
        self._ready(main_port, main, f"{name} backend main")
        port = free_port()
        if name == "aot-fwd":
            p = self._aot(self.aot, port, forward_to=main_port, name=name)
        elif name == "go-fwd":
            p = self._go(port, forward_to=main_port)
        elif name == "nginx-fwd":
            p = self._nginx(port, main_port)
        elif name == "aot-fwd-single":
            p = self._aot(self.aot, port, forward_to=main_port, name=name, extra_env={"KVS_UPSTREAM_PIPELINE": "1"})
        elif name in self.extra:
            binary, env = self.extra[name]
            p = self._aot(binary, port, forward_to=main_port, name=name, extra_env=env)
        else:
            raise ValueError(name)
        self._ready(port, p, name)
        return Running(name, port, p, [p, main], main_port)

    def stop(self, running):
        for p in running.procs:
            PROCS.stop(p)

    # ------------------------------------------------------------ load

    def wrk(self, script, port, conns, duration, keys, threads=None, timeout_s=None):
        threads = threads or (1 if (conns == 1 or self.client_cpus) else 2)
        argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "5s",
                "-s", os.path.join(LUA, script + ".lua"), f"http://127.0.0.1:{port}", "--", str(keys)]
        if self.client_cpus:
            argv = ["taskset", "-c", self.client_cpus] + argv
        load_before = os.getloadavg()[0]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s or duration + 30)
        self.loads.append(load_before)
        for line in out.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                r = json.loads(line[len("BENCHJSON "):])
                r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
                r["socket_errors"] = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
                return r
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-500:]} {out.stderr[-500:]}")

    def preload(self, port, keys):
        """PUTs k0000000..k<keys-1>; bounded in time; returns how many keys were stored."""
        if keys <= 0:
            return 0
        # wrk always runs for its whole -d, even after the script stops its thread, so the
        # runner watches for the last key and then interrupts wrk (it still prints its summary).
        bound = max(10, int(keys / 2000) + 10)  # generous even at ~5k PUT/s on a busy machine
        argv = ["wrk", "-t1", "-c16", f"-d{bound}s", "--timeout", "5s", "-s", os.path.join(LUA, "preload.lua"),
                f"http://127.0.0.1:{port}", "--", str(keys)]
        if self.client_cpus:
            argv = ["taskset", "-c", self.client_cpus] + argv
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        PROCS.live.append(p)
        last = f"/kvs/k{keys - 1:07d}"
        deadline = time.time() + bound + 5
        while p.poll() is None and time.time() < deadline:
            time.sleep(0.1)
            if http_status(port, last) == 200 and http_status(port, "/kvs/k0000000") == 200:
                time.sleep(0.2)  # the last few PUTs still in flight on other connections
                p.send_signal(signal.SIGINT)
                break
        try:
            out, _ = p.communicate(timeout=15)
        finally:
            PROCS.stop(p)
        stored = 0
        for line in out.splitlines():
            if line.startswith("BENCHJSON "):
                stored = json.loads(line[len("BENCHJSON "):])["requests"]
        return min(keys, stored)

    # ------------------------------------------------------------ phases

    def is_forwarder(self, name):
        return name.endswith("-fwd") or name in self.extra

    def throughput(self, targets, cells, keyspaces, rounds, duration, fwd_cells=()):
        """results[(target, scenario, conns, keys)] = [per-round dict]; plus RSS samples.
        fwd_cells are run by the forwarders only (the quick run's 256-connection rows)."""
        results, rss = {}, {}
        for keys in keyspaces:
            for rnd in range(rounds):
                order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]  # rotate start
                for name in order:
                    t = time.time()
                    run = self.start(name)
                    try:
                        time.sleep(0.3)
                        idle = rss_kb(run.proc.pid)
                        stored = self.preload(run.backend_port, keys) if run.backend_port else keys
                        if stored < keys:
                            print(f"  ! {name}: only {stored}/{keys} keys preloaded in the time bound", flush=True)
                        self.wrk("get_hit", run.port, 32, 1, keys)  # warm-up (pools, tiering-free but caches)
                        for scenario, conns in cells + (list(fwd_cells) if self.is_forwarder(name) else []):
                            cpu_before = cpu_ms_tree(run.proc.pid)
                            r = self.wrk(scenario, run.port, conns, duration, keys)
                            # The target's own CPU per answer (a forwarder's, without its main): steadier than req/s on a shared machine.
                            r["cpu_us_per_req"] = (cpu_ms_tree(run.proc.pid) - cpu_before) * 1000 / max(1, r["requests"])
                            r["round"] = rnd
                            results.setdefault((name, scenario, conns, keys), []).append(r)
                        after = rss_kb(run.proc.pid)
                        rss.setdefault((name, keys), []).append((idle, after))
                    finally:
                        self.stop(run)
                    print(f"  keys={keys} round {rnd + 1}/{rounds} {name}: {time.time() - t:.1f}s", flush=True)
        return results, rss

    def start_times(self, names, n):
        """Spawn-to-first-answer (any HTTP status), alternating targets, n starts each."""
        times = {name: [] for name in names}
        cpu = {name: [] for name in names}
        backend = None
        try:
            if any(x.endswith("-fwd") for x in names):
                bport = free_port()
                backend = self._aot(self.aot, bport, name="start-backend")
                self._ready(bport, backend, "start-time backend")
            for i in range(n):
                for name in names:
                    port = free_port()
                    t0 = time.perf_counter()
                    if name == "aot-main":
                        p = self._aot(self.aot, port, name="start")
                    elif name == "aot-fwd":
                        p = self._aot(self.aot, port, forward_to=bport, name="start")
                    elif name == "go-main":
                        p = self._go(port)
                    elif name == "ceiling":
                        p = PROCS.start([self.ceiling], {"ASPNETCORE_URLS": f"http://127.0.0.1:{port}"}, self.server_cpus, self.log("start"))
                    else:
                        raise ValueError(name)
                    waited = first_answer(port, 10)
                    if waited is not None:
                        times[name].append((time.perf_counter() - t0) * 1000)
                        cpu[name].append(cpu_ms(p.pid))
                    PROCS.stop(p)
        finally:
            if backend:
                PROCS.stop(backend)
        return times, cpu

    def memory(self, names, keys, duration):
        """RSS idle, after preloading `keys`, and a GET-hit run at that key space."""
        out = {}
        for name in names:
            run = self.start(name)
            try:
                time.sleep(0.3)
                idle = rss_kb(run.proc.pid)
                t = time.time()
                stored = self.preload(run.backend_port, keys)
                took = time.time() - t
                time.sleep(0.5)
                loaded = rss_kb(run.proc.pid)
                hit = self.wrk("get_hit", run.port, 32, duration, stored)
                out[name] = {"idle_kb": idle, "loaded_kb": loaded, "stored": stored, "preload_s": took,
                             "get_hit_rps": hit["rps"], "get_hit": hit, "after_kb": rss_kb(run.proc.pid)}
                print(f"  memory {name}: {stored} keys in {took:.0f}s", flush=True)
            finally:
                self.stop(run)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few cells, 1k keys, ~3 minutes")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int, help="seconds per load cell")
    ap.add_argument("--starts", type=int, help="starts per target for start-to-first-answer")
    ap.add_argument("--mem-keys", type=int, default=1_000_000)
    ap.add_argument("--targets", help="comma-separated subset of targets")
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers and wrk to separate CPUs")
    ap.add_argument("--go-bin", default="/tmp/aotkvs-bench/go-peer", help="the built bench/go-peer")
    ap.add_argument("--extra-forwarder", action="append", default=[], metavar="NAME=BINARY[,KEY=VALUE...]",
                    help="another AotKvs-compatible binary to run as a forwarder (e.g. an experiment), with environment settings for it")
    ap.add_argument("--memory", action="store_true",
                    help="also the memory scenarios of bench/memory.py (~4 min; --quick always runs their ~2 min short form)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "latest.md"))
    args = ap.parse_args()

    if args.quick:
        args.rounds = args.rounds or 2
        args.duration = args.duration or 3
        args.starts = args.starts or 20
        cells = [("get_hit", 32), ("put_replace", 32)]
        fwd_cells = [("get_hit", 256), ("put_replace", 256)]  # forwarders under many clients
        keyspaces = [1000]
        mem_targets = ["aot-main"]
        args.memory = True  # the memory scenarios' short form: under 2 minutes
    else:
        args.rounds = args.rounds or 3
        args.duration = args.duration or 5
        args.starts = args.starts or 30
        cells = [(s, c) for s in SCENARIOS for c in (1, 32, 256)]
        fwd_cells = []
        keyspaces = [1000, 1_000_000]
        mem_targets = ["aot-main", "go-main"]

    targets = ["aot-main", "go-main", "ceiling", "aot-fwd", "aot-fwd-single", "go-fwd", "nginx-fwd"]
    b = Bench(args)
    targets += list(b.extra)
    if args.targets:
        targets = [t for t in args.targets.split(",") if t]
    if not args.no_pin:
        os.sched_setaffinity(0, {0})  # the runner's own polling stays off the server CPU

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    t0 = time.time()
    try:
        print(f"logs in {b.tmp}", flush=True)
        print("start-to-first-answer...", flush=True)
        start_names = [t for t in ("aot-main", "go-main", "ceiling", "aot-fwd") if t in targets]
        starts, start_cpu = b.start_times(start_names, args.starts)
        print("throughput...", flush=True)
        results, rss = b.throughput(targets, cells, keyspaces, args.rounds, args.duration, fwd_cells)
        cells = cells + fwd_cells
        print("memory per key...", flush=True)
        mem = b.memory([t for t in mem_targets if t in targets], args.mem_keys, args.duration)
        scenarios = memory.MemoryBench(b, PROCS, rss_kb, free_port, args.quick).all() if args.memory else None
    finally:
        PROCS.stop_all()

    report = write_report(b, args, results, rss, starts, start_cpu, mem, cells, keyspaces, time.time() - t0)
    if scenarios:
        memory_svg = os.path.splitext(args.out)[0] + "-memory.svg"
        report += "\n" + memory.markdown(scenarios, os.path.basename(memory_svg))
        memory.svg(memory_svg, scenarios)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(report)
    svg = os.path.splitext(args.out)[0] + ".svg"
    comparisons = [("Main role", "go-main", ["aot-main", "ceiling"]),
                   ("Forwarding role", "nginx-fwd", ["aot-fwd", "aot-fwd-single", "go-fwd"] + list(b.extra))]
    cells_by_key = [(s, c, k) for k in keyspaces for s, c in cells]
    svg_chart(svg, results, cells_by_key, comparisons, f"AotKvs vs baselines ({'quick' if args.quick else 'full'} run)")
    raw = os.path.splitext(args.out)[0] + ".json"
    with open(raw, "w") as f:
        json.dump({"results": {"|".join(map(str, k)): v for k, v in results.items()},
                   "rss": {"|".join(map(str, k)): v for k, v in rss.items()},
                   "starts_ms": starts, "start_cpu_ms": start_cpu, "memory": mem, "loadavg": b.loads}, f, indent=1)
    print(f"wrote {args.out}, {svg}, {raw} in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
