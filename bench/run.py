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
  (extra)     --extra-forwarder NAME=BINARY: any AotKvs-compatible binary as forwarder

Every forwarder sits in front of the same kind of backend (a fresh AotKvs main), so the
forwarding columns compare forwarders only. The machine is shared and noisy: targets are
alternated inside every round, rounds are repeated, and the report quotes medians of
per-round ratios (A and B measured minutes apart, not hours).

Scripts/bench.sh builds the binaries and calls this; run it directly for finer control.
"""
import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
LUA = os.path.join(BENCH_DIR, "lua")
PORTS = range(18100, 18200)

KEY_BYTES = 8      # "k%07d", see bench/lua/common.lua
VALUE_BYTES = 20   # '"v-0123456789abcdef"'

SCENARIOS = {
    "get_hit": "GET hit",
    "get_miss": "GET miss (404)",
    "put_replace": "PUT replace",
    "put_new_delete": "PUT new + DELETE",
    "mix_90_10": "90/10 GET/PUT",
}
# Scenarios whose every answer is a 404 by design.
ALL_404 = {"get_miss"}


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


def rss_kb(pid):
    """RSS of a process plus its children (nginx: master + worker), in KiB."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return total


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
        self.extra = dict(x.split("=", 1) for x in args.extra_forwarder)

    def log(self, name):
        return os.path.join(self.tmp, f"{name}.log")

    def _aot(self, binary, port, forward_to=None, name="aot"):
        env = {"ASPNETCORE_URLS": f"http://127.0.0.1:{port}", "FORWARDING_ADDRESS": ""}
        if forward_to:
            env["FORWARDING_ADDRESS"] = f"127.0.0.1:{forward_to}"
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
        elif name in self.extra:
            p = self._aot(self.extra[name], port, forward_to=main_port, name=name)
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

    def throughput(self, targets, cells, keyspaces, rounds, duration):
        """results[(target, scenario, conns, keys)] = [per-round dict]; plus RSS samples."""
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
                        for scenario, conns in cells:
                            r = self.wrk(scenario, run.port, conns, duration, keys)
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


# ---------------------------------------------------------------- statistics and report

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def ratio_stats(results, a, b, scenario, conns, keys, field, invert=False):
    """Median and range of per-round ratios a/b for one cell; None if either is missing."""
    ra = {r["round"]: r for r in results.get((a, scenario, conns, keys), [])}
    rb = {r["round"]: r for r in results.get((b, scenario, conns, keys), [])}
    rs = []
    for rnd in ra.keys() & rb.keys():
        x, y = ra[rnd][field], rb[rnd][field]
        if x > 0 and y > 0:
            rs.append(y / x if invert else x / y)
    if not rs:
        return None
    return med(rs), min(rs), max(rs)


def fmt_ratio(s):
    if s is None:
        return "–"
    m, lo, hi = s
    return f"{m:.2f}× ({lo:.2f}–{hi:.2f})" if hi - lo >= 0.005 else f"{m:.2f}×"


def fmt_num(x, unit=""):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if unit == "rps":
        return f"{x / 1000:.1f}k"
    if unit == "us":
        return f"{x / 1000:.2f}" if x < 100_000 else f"{x / 1000:.0f}"
    return f"{x}"


def svg_chart(path, results, cells_by_key, comparisons, title):
    """Grouped horizontal bars: throughput of each target relative to a panel's baseline."""
    panels = []
    for panel_title, baseline, members in comparisons:
        groups = []
        for (scenario, conns, keys) in cells_by_key:
            bars = []
            for m in members:
                s = ratio_stats(results, m, baseline, scenario, conns, keys, "rps")
                if s is not None:
                    bars.append((m, s[0]))
            if bars:
                groups.append((f"{SCENARIOS[scenario]}, {conns}c, {keys:,} keys", bars))
        if groups:
            panels.append((panel_title, baseline, groups))
    colors = {"aot-main": "#512bd4", "aot-fwd": "#512bd4", "go-main": "#00add8", "go-fwd": "#00add8",
              "ceiling": "#9e9e9e", "nginx-fwd": "#009639"}
    bar_h, gap, left, width = 14, 10, 250, 420
    y = 50
    parts = []
    vmax = max([v for _, _, gs in panels for _, bs in gs for _, v in bs] + [1.2])
    scale = width / (math.ceil(vmax * 4) / 4)
    for panel_title, baseline, groups in panels:
        parts.append(f'<text x="10" y="{y}" font-size="14" font-weight="bold">{esc(panel_title)} '
                     f'(throughput ÷ {esc(baseline)}, median of rounds)</text>')
        y += 12
        top = y
        for label, bars in groups:
            parts.append(f'<text x="{left - 8}" y="{y + bar_h * len(bars) / 2 + 4}" font-size="11" text-anchor="end">{esc(label)}</text>')
            for m, v in bars:
                w = v * scale
                c = colors.get(m, "#e67e22")
                parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{c}"/>')
                parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4}" font-size="10">{esc(m)} {v:.2f}×</text>')
                y += bar_h
            y += gap
        x1 = left + scale
        parts.append(f'<line x1="{x1:.1f}" y1="{top}" x2="{x1:.1f}" y2="{y - gap}" stroke="#333" stroke-dasharray="4,3"/>')
        parts.append(f'<text x="{x1 + 2:.1f}" y="{top - 1}" font-size="9" fill="#333">1.0×</text>')
        y += 28
    h = y
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 140}" height="{h}" '
           f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
           f'<text x="10" y="22" font-size="16" font-weight="bold">{esc(title)}</text>' + "".join(parts) + "</svg>\n")
    with open(path, "w") as f:
        f.write(svg)


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), kernel {os.uname().release}"


def tool_versions():
    def v(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except Exception:
            return "?"
    return {"wrk": v(["wrk", "--version"]), "nginx": v(["nginx", "-v"]), "go": v(["go", "version"]),
            "dotnet": v(["dotnet", "--version"])}


def goal(ok):
    return "✅ met" if ok else "❌ not met"


def write_report(b, args, results, rss, starts, start_cpu, mem, cells, keyspaces, wall):
    lines = []
    w = lines.append
    mode = "quick" if args.quick else "full"
    fwds = ["aot-fwd"] + list(b.extra)
    w("# AotKvs benchmark results")
    w("")
    w(f"Mode **{mode}**, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {wall / 60:.1f} min wall time, "
      f"{args.rounds} round(s) of {args.duration} s per cell. Machine: {machine_info()}.")
    loads = b.loads
    w(f"Load average (1 min) sampled before each wrk run: min {min(loads):.1f}, median {med(loads):.1f}, "
      f"max {max(loads):.1f} on {os.cpu_count()} CPUs — **the machine was shared**; other work ran on the same cores, "
      "so absolute numbers drift; read the ratios (A and B measured in the same round, minutes apart).")
    pin = ("servers (target and any backend main) pinned to CPU 1, wrk and this runner to CPU 0 (`taskset`)"
           if not args.no_pin else "no CPU pinning")
    w(f"Pinning: {pin}. wrk: closed loop, `-t1` when pinned, `--timeout 5s`; latency = wrk's per-request latency.")
    w("Every forwarder (aot-fwd, go-fwd, nginx-fwd" + "".join(f", {x}" for x in b.extra) +
      ") is started together with its own fresh AotKvs main on the same CPU, so forwarding columns compare the forwarders only.")
    w(f"Tools: {', '.join(f'{k} `{v}`' for k, v in tool_versions().items())}.")
    w("")
    w("Ratios: throughput = A ÷ B (higher is better for A); latency = A ÷ B (lower is better for A). "
      "Each cell is the median of per-round ratios, with the range over rounds in parentheses.")
    w("")

    # ---- ratio table
    comps = [("aot-main", "go-main"), ("aot-main", "ceiling"), ("aot-fwd", "nginx-fwd"), ("aot-fwd", "go-fwd")]
    for x in b.extra:
        comps += [(x, "aot-fwd"), (x, "nginx-fwd")]
    w("## Ratios")
    w("")
    for a_, b_ in comps:
        if not any(k[0] == a_ for k in results) or not any(k[0] == b_ for k in results):
            continue
        w(f"### {a_} vs {b_}")
        w("")
        w("| scenario | conns | keys | throughput | p50 latency | p99 latency |")
        w("| --- | ---: | ---: | ---: | ---: | ---: |")
        for keys in keyspaces:
            for scenario, conns in cells:
                t = ratio_stats(results, a_, b_, scenario, conns, keys, "rps")
                if t is None:
                    continue
                p50 = ratio_stats(results, a_, b_, scenario, conns, keys, "p50_us")
                p99 = ratio_stats(results, a_, b_, scenario, conns, keys, "p99_us")
                w(f"| {SCENARIOS[scenario]} | {conns} | {keys:,} | {fmt_ratio(t)} | {fmt_ratio(p50)} | {fmt_ratio(p99)} |")
        w("")

    # ---- goals
    def cell_ratio(a_, b_, scenario, field="rps"):
        vals = [ratio_stats(results, a_, b_, scenario, c, k, field) for k in keyspaces for s, c in cells if s == scenario]
        vals = [v[0] for v in vals if v]
        return (min(vals), med(vals)) if vals else None

    def rq(x):
        return "–" if x is None else f"worst {x[0]:.2f}×, median {x[1]:.2f}×"

    w("## Goals")
    w("")
    w("| goal | measured | verdict |")
    w("| --- | --- | --- |")
    g = cell_ratio("aot-main", "go-main", "get_hit")
    if g:
        w(f"| main GET ≥ 1.0× Go peer (GET hit cells) | {rq(g)} | {goal(g[1] >= 1.0)} |")
    g = cell_ratio("aot-main", "ceiling", "get_hit")
    if g:
        w(f"| main GET ≥ 0.9× Kestrel ceiling | {rq(g)} | {goal(g[1] >= 0.9)} |")
    g = cell_ratio("aot-main", "go-main", "put_replace")
    if g:
        w(f"| main PUT ≥ 1.1× Go peer (PUT replace cells) | {rq(g)} | {goal(g[1] >= 1.1)} |")
    for scenario, label in (("get_hit", "GET"), ("put_replace", "PUT")):
        g = cell_ratio("aot-fwd", "nginx-fwd", scenario)
        if g:
            w(f"| forwarder {label} ≥ 1.0× nginx → same main | {rq(g)} | {goal(g[1] >= 1.0)} |")
    if starts.get("aot-main"):
        m = med(starts["aot-main"])
        rel = f", {m / med(starts['go-main']):.2f}× Go peer" if starts.get("go-main") else ""
        w(f"| start-to-first-answer ≤ 20 ms (median, main) | {m:.1f} ms{rel} | {goal(m <= 20)} |")
    if ("aot-main", keyspaces[0]) in rss:
        idle = med([i for i, _ in rss[("aot-main", keyspaces[0])]]) / 1024
        after = med([a for _, a in rss[("aot-main", keyspaces[0])]]) / 1024
        w(f"| RSS idle ≤ 16 MB (main) | {idle:.1f} MiB | {goal(idle <= 16)} |")
        w(f"| RSS after load ≤ 32 MB (main, {keyspaces[0]:,} keys) | {after:.1f} MiB | {goal(after <= 32)} |")
    if ("aot-fwd", keyspaces[0]) in rss:
        idle = med([i for i, _ in rss[("aot-fwd", keyspaces[0])]]) / 1024
        after = med([a for _, a in rss[("aot-fwd", keyspaces[0])]]) / 1024
        w(f"| RSS idle ≤ 16 MB (forwarder) | {idle:.1f} MiB | {goal(idle <= 16)} |")
        w(f"| RSS after load ≤ 32 MB (forwarder) | {after:.1f} MiB | {goal(after <= 32)} |")
    if len(keyspaces) > 1:
        vals = []
        for scenario, conns in cells:
            lo = results.get(("aot-main", scenario, conns, keyspaces[0]), [])
            hi = results.get(("aot-main", scenario, conns, keyspaces[-1]), [])
            if lo and hi:
                vals.append(med([r["rps"] for r in hi]) / med([r["rps"] for r in lo]))
        if vals:
            w(f"| throughput flat from {keyspaces[0]:,} to {keyspaces[-1]:,} keys (main, all cells) | "
              f"{keyspaces[-1]:,}÷{keyspaces[0]:,}: worst {min(vals):.2f}×, median {med(vals):.2f}× | {goal(min(vals) >= 0.9)} |")
    elif mem.get("aot-main") and results.get(("aot-main", "get_hit", 32, keyspaces[0])):
        v = mem["aot-main"]["get_hit_rps"] / med([r["rps"] for r in results[("aot-main", "get_hit", 32, keyspaces[0])]])
        w(f"| throughput flat from {keyspaces[0]:,} to {mem['aot-main']['stored']:,} keys (main, GET hit 32c; "
          f"quick mode: different minutes, indicative only) | {v:.2f}× | {goal(v >= 0.9)} |")
    if mem.get("aot-main"):
        m = mem["aot-main"]
        per = (m["loaded_kb"] - m["idle_kb"]) * 1024 / max(1, m["stored"])
        over = per - KEY_BYTES - VALUE_BYTES
        w(f"| ≤ 100 B overhead per key beyond key+value bytes | {per:.0f} B/key RSS growth − {KEY_BYTES + VALUE_BYTES} B = "
          f"{over:.0f} B | {goal(over <= 100)} |")
    w("")

    # ---- memory, start, size
    w("## Start, memory, size")
    w("")
    if starts:
        w(f"Spawn to first HTTP answer (any status), {args.starts} starts per target, alternating; the forwarder's "
          "first answer includes its round trip to an already-running main. Wall time suffers most from a busy "
          "machine; *CPU to first answer* (all threads' run time from /proc/<pid>/task/*/schedstat) is the "
          "noise-resistant companion.")
        w("")
        w("| target | median | p90 | min | ratio to aot-main | CPU to first answer (median) |")
        w("| --- | ---: | ---: | ---: | ---: | ---: |")
        base = med(starts.get("aot-main", [])) if starts.get("aot-main") else None
        for name, ts in starts.items():
            if not ts:
                continue
            ts = sorted(ts)
            p90 = ts[min(len(ts) - 1, int(0.9 * len(ts)))]
            c = f"{med(start_cpu[name]):.1f} ms" if start_cpu.get(name) else "–"
            w(f"| {name} | {med(ts):.1f} ms | {p90:.1f} ms | {ts[0]:.1f} ms | {med(ts) / base:.2f}× | {c} |" if base else
              f"| {name} | {med(ts):.1f} ms | {p90:.1f} ms | {ts[0]:.1f} ms | – | {c} |")
        w("")
    w(f"RSS of the target process (nginx: master + worker), median over rounds, at {keyspaces[0]:,} keys: "
      "idle = just started; after = after its load cells.")
    w("")
    w("| target | idle | after load | idle ratio to aot-main |")
    w("| --- | ---: | ---: | ---: |")
    base = rss.get(("aot-main", keyspaces[0]))
    for (name, keys), xs in rss.items():
        if keys != keyspaces[0]:
            continue
        idle = med([i for i, _ in xs]) / 1024
        after = med([a for _, a in xs]) / 1024
        ratio = f"{idle / (med([i for i, _ in base]) / 1024):.2f}×" if base else "–"
        w(f"| {name} | {idle:.1f} MiB | {after:.1f} MiB | {ratio} |")
    w("")
    if mem:
        w(f"Memory per key: fresh instance, RSS idle, then keys `k0000000`… ({KEY_BYTES} B) with a {VALUE_BYTES}-byte JSON "
          "value PUT through HTTP, RSS again (RSS growth includes GC headroom, i.e. what a user pays).")
        w("")
        w("| target | keys stored | RSS idle | RSS loaded | bytes/key | overhead beyond key+value | GET hit 32c at that size ÷ at "
          f"{keyspaces[0]:,} |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, m in mem.items():
            per = (m["loaded_kb"] - m["idle_kb"]) * 1024 / max(1, m["stored"])
            base_hit = results.get((name, "get_hit", 32, keyspaces[0]))
            flat = f"{m['get_hit_rps'] / med([r['rps'] for r in base_hit]):.2f}×" if base_hit else "–"
            w(f"| {name} | {m['stored']:,} | {m['idle_kb'] / 1024:.1f} MiB | {m['loaded_kb'] / 1024:.1f} MiB | {per:.0f} B | "
              f"{per - KEY_BYTES - VALUE_BYTES:.0f} B | {flat} |")
        if "aot-main" in mem and "go-main" in mem:
            a_ = (mem["aot-main"]["loaded_kb"] - mem["aot-main"]["idle_kb"]) / max(1, mem["aot-main"]["stored"])
            g_ = (mem["go-main"]["loaded_kb"] - mem["go-main"]["idle_kb"]) / max(1, mem["go-main"]["stored"])
            w("")
            w(f"aot-main uses {a_ / g_:.2f}× the Go peer's memory per key.")
        w("")
    w("Binary size (stripped, self-contained where applicable):")
    w("")
    w("| binary | size | ratio to AotKvs |")
    w("| --- | ---: | ---: |")
    sizes = [("AotKvs", b.aot), ("Ceiling (bench/ceiling)", b.ceiling), ("go-peer (bench/go-peer)", b.go)]
    sizes += [(f"{k} (--extra-forwarder)", v) for k, v in b.extra.items()]
    sizes += [("nginx (dynamically linked, for scale only)", "/usr/sbin/nginx")]
    base = os.path.getsize(b.aot)
    for label, p in sizes:
        if os.path.exists(p):
            s = os.path.getsize(p)
            w(f"| {label} | {s / 1e6:.1f} MB | {s / base:.2f}× |")
    w("")

    # ---- raw medians (always next to their ratios above)
    w("## Medians per target (context for the ratios; absolute values drift with the machine's load)")
    w("")
    w("| target | scenario | conns | keys | req/s | p50 ms | p99 ms | unexpected non-2xx | socket errors |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (name, scenario, conns, keys), rs in sorted(results.items(), key=lambda kv: (kv[0][3], kv[0][1], kv[0][2], kv[0][0])):
        total = sum(r["requests"] for r in rs)
        bad = sum((r["requests"] - r["err_status"]) if scenario in ALL_404 else r["err_status"] for r in rs)
        sock = sum(r["socket_errors"] for r in rs)
        w(f"| {name} | {SCENARIOS[scenario]} | {conns} | {keys:,} | {fmt_num(med([r['rps'] for r in rs]), 'rps')} | "
          f"{fmt_num(med([r['p50_us'] for r in rs]), 'us')} | {fmt_num(med([r['p99_us'] for r in rs]), 'us')} | "
          f"{bad} of {total} | {sock} |")
    w("")
    w("`unexpected non-2xx`: for GET miss, answers that were *not* 404; elsewhere, non-2xx answers "
      "(PUT new + DELETE may see a rare 404 when a DELETE overtakes its own PUT on another connection).")
    w("")
    w("![throughput ratios](latest.svg)")
    w("")
    return "\n".join(lines)


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
    ap.add_argument("--extra-forwarder", action="append", default=[], metavar="NAME=BINARY",
                    help="another AotKvs-compatible binary to run as a forwarder (e.g. an experiment)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "latest.md"))
    args = ap.parse_args()

    if args.quick:
        args.rounds = args.rounds or 2
        args.duration = args.duration or 3
        args.starts = args.starts or 20
        cells = [("get_hit", 32), ("put_replace", 32)]
        keyspaces = [1000]
        mem_targets = ["aot-main"]
    else:
        args.rounds = args.rounds or 3
        args.duration = args.duration or 5
        args.starts = args.starts or 30
        cells = [(s, c) for s in SCENARIOS for c in (1, 32, 256)]
        keyspaces = [1000, 1_000_000]
        mem_targets = ["aot-main", "go-main"]

    targets = ["aot-main", "go-main", "ceiling", "aot-fwd", "go-fwd", "nginx-fwd"]
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
        results, rss = b.throughput(targets, cells, keyspaces, args.rounds, args.duration)
        print("memory per key...", flush=True)
        mem = b.memory([t for t in mem_targets if t in targets], args.mem_keys, args.duration)
    finally:
        PROCS.stop_all()

    report = write_report(b, args, results, rss, starts, start_cpu, mem, cells, keyspaces, time.time() - t0)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(report)
    svg = os.path.splitext(args.out)[0] + ".svg"
    comparisons = [("Main role", "go-main", ["aot-main", "ceiling"]),
                   ("Forwarding role", "nginx-fwd", ["aot-fwd", "go-fwd"] + list(b.extra))]
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
