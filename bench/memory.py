#!/usr/bin/env python3
"""Memory scenarios of the benchmark (python3 standard library only).

Resident memory (VmRSS from /proc, a process plus its children) sampled over time while:

  standard   5 s GET hit + 5 s PUT replace at 32 connections on 1,000 keys, then idle
  slow       N clients ask for a 15 MiB value and never read it (4 KiB receive buffers),
             then leave, then idle
  burst      3,000 connections x 5 GETs through a forwarder (and its AotKvs main), then 30 s idle

Targets: AotKvs, the Go peer (bench/go-peer) and, for the burst, nginx's proxy_pass. nginx is
not in the slow-reader scenario: it would serve a static file from the page cache, which is
not a key-value store's problem.

Two ways to run it:
  bench/run.py --memory           the scenarios, appended to bench/results/latest.md (+ SVG)
  bench/memory.py [--gc]          the scenarios alone into bench/results/memory.md (+ SVG);
                                  --gc instead compares GC settings under the standard load
"""
import argparse
import asyncio
import os
import socket
import statistics
import threading
import time

VALUE_MIB = 15
BURST_CONNECTIONS = 3000
BURST_REQUESTS = 5
MIB = 1024 * 1024

# GC settings tried under the standard load (environment variables of the runtime), named.
GC_VARIANTS = [
    ("default", {}),
    ("gen0 2 MiB", {"DOTNET_GCgen0size": "200000"}),
    ("gen0 4 MiB", {"DOTNET_GCgen0size": "400000"}),
    ("gen0 8 MiB", {"DOTNET_GCgen0size": "800000"}),
    ("gen0 max budget 4 MiB", {"DOTNET_GCGen0MaxBudget": "400000"}),
    ("conserve 5", {"DOTNET_GCConserveMemory": "5"}),
    ("gen0 4 MiB + conserve 5", {"DOTNET_GCgen0size": "400000", "DOTNET_GCConserveMemory": "5"}),
]


class Sampler:
    """Samples the RSS of named pids every `every` seconds in a thread; marks name phases."""

    def __init__(self, rss_kb, pids, every=0.25):
        self.rss_kb, self.pids, self.every = rss_kb, pids, every
        self.t0 = time.time()
        self.samples = []   # (seconds, {name: MiB})
        self.marks = []     # (seconds, label)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self):
        now = round(time.time() - self.t0, 2)
        point = {name: self.rss_kb(pid) / 1024 for name, pid in self.pids.items()}
        self.samples.append((now, point))
        return point

    def mark(self, label):
        self.marks.append((round(time.time() - self.t0, 2), label))
        return self.sample()

    def peak(self, name, since=0.0):
        return max((p[name] for t, p in self.samples if t >= since), default=0.0)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.sample()


# ---------------------------------------------------------------- clients

def put_value(port, key, value_json):
    body = b'{"value":' + value_json + b"}"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"PUT /kvs/{key} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        answer = s.recv(64)
    if not answer.startswith((b"HTTP/1.1 200", b"HTTP/1.1 201")):
        raise RuntimeError(f"PUT of a {len(body)} byte body: {answer!r}")


def open_slow_readers(port, n, key):
    """n connections that each ask for the value and read nothing (small receive buffers)."""
    readers = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET /kvs/{key} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
        readers.append(s)
    return readers


async def _burst_client(port, requests, keys, done, bound):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), bound)
    try:
        for i in range(requests):
            writer.write(f"GET /kvs/k{i % keys:07d} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), bound)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await asyncio.wait_for(reader.readexactly(length), bound)
            done[head[9:12].decode()] = done.get(head[9:12].decode(), 0) + 1
    finally:
        writer.close()


async def _burst(port, connections, requests, keys, bound):
    done = {}
    results = await asyncio.gather(*(_burst_client(port, requests, keys, done, bound) for _ in range(connections)),
                                   return_exceptions=True)
    failed = sum(1 for r in results if isinstance(r, BaseException))
    return done, failed


def burst(port, connections=BURST_CONNECTIONS, requests=BURST_REQUESTS, keys=1000, bound=20.0):
    """connections at once, each sending `requests` keep-alive GETs; answers by status, failed connections."""
    return asyncio.run(_burst(port, connections, requests, keys, bound))


# ---------------------------------------------------------------- scenarios

class MemoryBench:
    """The scenarios, on top of run.py's Bench (targets, wrk, preload) and its process list."""

    def __init__(self, bench, procs, rss_kb, free_port, quick=False):
        self.b, self.procs, self.rss_kb, self.free_port = bench, procs, rss_kb, free_port
        self.quick = quick

    def start_aot(self, env=None, forward_to=None, name="aot-mem"):
        port = self.free_port()
        full = {"ASPNETCORE_URLS": f"http://127.0.0.1:{port}", "FORWARDING_ADDRESS": ""}
        if forward_to:
            full["FORWARDING_ADDRESS"] = f"127.0.0.1:{forward_to}"
        full.update(env or {})
        binary = full.pop("_binary", self.b.aot)  # a variant may be another build (server GC)
        p = self.procs.start([binary], full, self.b.server_cpus, self.b.log(name))
        self.b._ready(port, p, name)
        return port, p

    def start_main(self, target, env=None):
        if target == "aot-main":
            return self.start_aot(env)
        port = self.free_port()
        p = self.b._go(port)
        self.b._ready(port, p, target)
        return port, p

    def standard(self, target, env=None, settle=12.0):
        """RSS over 5 s GET + 5 s PUT at 32 connections on 1,000 keys, then `settle` s idle."""
        port, p = self.start_main(target, env)
        try:
            time.sleep(0.3)
            s = Sampler(self.rss_kb, {"main": p.pid})
            idle = s.mark("start")["main"]
            self.b.preload(port, 1000)
            s.mark("GET")
            get = self.b.wrk("get_hit", port, 32, 5, 1000)
            s.mark("PUT")
            put = self.b.wrk("put_replace", port, 32, 5, 1000)
            after = s.mark("idle")["main"]
            time.sleep(settle)
            s.stop()
            return {"target": target, "idle": idle, "after": after, "peak": s.peak("main"),
                    "settled": s.samples[-1][1]["main"], "get_rps": get["rps"], "put_rps": put["rps"],
                    "errors": get["socket_errors"] + put["socket_errors"] + get["err_status"] + put["err_status"],
                    "samples": s.samples, "marks": s.marks}
        finally:
            self.procs.stop(p)

    def slow_readers(self, target, readers):
        """RSS while `readers` clients ask for a 15 MiB value and never read; then they leave."""
        port, p = self.start_main(target)
        try:
            put_value(port, "big", b'"' + b"s" * (VALUE_MIB * MIB - 2) + b'"')
            time.sleep(0.5)
            s = Sampler(self.rss_kb, {"main": p.pid})
            before = s.mark("start")["main"]
            conns = open_slow_readers(port, readers, "big")
            s.mark(f"{readers} readers")
            time.sleep(3)
            held = s.sample()["main"]
            for c in conns:
                c.close()
            s.mark("gone")
            time.sleep(2 if self.quick else 12)
            s.stop()
            return {"target": target, "readers": readers, "before": before, "held": held,
                    "peak": s.peak("main"), "settled": s.samples[-1][1]["main"],
                    "samples": s.samples, "marks": s.marks}
        finally:
            self.procs.stop(p)

    def burst_then_idle(self, target, idle_s=30.0):
        """RSS of a forwarder and its main through a 3,000-connection burst and `idle_s` of idle."""
        main_port, main = self.start_aot(name=f"{target}-backend")
        procs = [main]
        try:
            self.b.preload(main_port, 1000)
            port = self.free_port()
            if target == "aot-fwd":
                port, fwd = self.start_aot(forward_to=main_port, name=target)
            elif target == "go-fwd":
                fwd = self.b._go(port, forward_to=main_port)
            else:
                fwd = self.b._nginx(port, main_port)
            procs.insert(0, fwd)
            self.b._ready(port, fwd, target)
            time.sleep(0.3)
            s = Sampler(self.rss_kb, {"forwarder": fwd.pid, "main": main.pid}, every=0.5)
            before = s.mark("start")
            answers, failed = burst(port)
            after_burst = s.mark("idle")
            time.sleep(idle_s)
            end = s.stop()
            return {"target": target, "before": before, "after_burst": after_burst,
                    "peak_fwd": s.peak("forwarder"), "peak_main": s.peak("main"), "end": end,
                    "answers": answers, "failed": failed, "samples": s.samples, "marks": s.marks}
        finally:
            for p in procs:
                self.procs.stop(p)

    def all(self):
        """Every scenario, targets alternated; returns the results for markdown()/svg()."""
        out = {"standard": [], "slow": [], "burst": []}
        for target in ("aot-main", "go-main"):
            print(f"  memory: standard load, {target}", flush=True)
            out["standard"].append(self.standard(target))
        for readers in ((50,) if self.quick else (50, 500)):
            for target in ("aot-main", "go-main"):
                print(f"  memory: {readers} slow readers, {target}", flush=True)
                out["slow"].append(self.slow_readers(target, readers))
        for target in ("aot-fwd", "go-fwd", "nginx-fwd"):
            print(f"  memory: burst then idle, {target}", flush=True)
            out["burst"].append(self.burst_then_idle(target, 12.0 if self.quick else 30.0))
        return out

    def gc_interleaved(self, rounds, slices=5):
        """Every GC variant and the Go peer running at once; the 5 s GET + 5 s PUT of each are
        cut into 1 s slices taken in turn, so that a change in the machine's load falls on all
        of them alike. Per round: RSS after the load and throughput ratios to the Go peer."""
        rows = {name: [] for name, _ in GC_VARIANTS}
        rows["go-main"] = []
        for rnd in range(rounds):
            running = [(name, *self.start_main("aot-main", env)) for name, env in GC_VARIANTS]
            running.append(("go-main", *self.start_main("go-main")))
            try:
                for _, port, _ in running:
                    self.b.preload(port, 1000)
                idle = {name: self.rss_kb(p.pid) / 1024 for name, _, p in running}
                done = {name: {"get_hit": 0, "put_replace": 0, "get_s": 0.0, "put_s": 0.0} for name, _, _ in running}
                for scenario in ("get_hit", "put_replace"):
                    for k in range(slices):
                        order = running[k % len(running):] + running[:k % len(running)]
                        for name, port, _ in order:
                            r = self.b.wrk(scenario, port, 32, 1, 1000)
                            done[name][scenario] += r["requests"]
                            done[name]["get_s" if scenario == "get_hit" else "put_s"] += r["duration_us"] / 1e6
                time.sleep(0.5)
                for name, _, p in running:
                    row = {"target": name, "idle": idle[name], "after": self.rss_kb(p.pid) / 1024,
                           "get_rps": done[name]["get_hit"] / done[name]["get_s"],
                           "put_rps": done[name]["put_replace"] / done[name]["put_s"]}
                    row["peak"] = row["after"]
                    rows[name].append(row)
                time.sleep(11)  # the idle trimmer's two intervals
                for name, _, p in running:
                    rows[name][-1]["settled"] = self.rss_kb(p.pid) / 1024
                go = rows["go-main"][-1]
                for name, _ in GC_VARIANTS:
                    r = rows[name][-1]
                    print(f"  gc round {rnd + 1}: {name}: after {r['after']:.1f} MiB, settled {r['settled']:.1f}, "
                          f"GET {r['get_rps'] / go['get_rps']:.2f}x Go, PUT {r['put_rps'] / go['put_rps']:.2f}x Go", flush=True)
            finally:
                for _, _, p in running:
                    self.procs.stop(p)
        return rows

    def gc_variants(self, rounds):
        """The standard load under each GC variant and the Go peer, alternated, `rounds` times."""
        rows = {name: [] for name, _ in GC_VARIANTS}
        rows["go-main"] = []
        for rnd in range(rounds):
            for name, env in GC_VARIANTS:
                r = self.standard("aot-main", env, settle=11.0)
                rows[name].append(r)
                print(f"  gc round {rnd + 1}: {name}: after {r['after']:.1f} MiB, settled {r['settled']:.1f}, "
                      f"GET {r['get_rps']:.0f}/s PUT {r['put_rps']:.0f}/s", flush=True)
                go = self.standard("go-main", settle=0.5)  # each AotKvs run has a Go run beside it
                rows["go-main"].append(go)
        return rows


# ---------------------------------------------------------------- report

def _med(values):
    return statistics.median(values) if values else float("nan")


def markdown(out, chart):
    lines = ["## Memory", "",
             "Resident memory (VmRSS from `/proc`, MiB) sampled every 0.25–0.5 s; each target started fresh.",
             f"RSS over time, per scenario: [{chart}]({chart}).", ""]
    if out.get("standard"):
        lines += ["### Standard load: 5 s GET hit + 5 s PUT replace, 32 connections, 1,000 keys", "",
                  "| target | idle | after load | peak | 12 s later | GET/s | PUT/s |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in out["standard"]:
            lines.append(f"| {r['target']} | {r['idle']:.1f} | {r['after']:.1f} | {r['peak']:.1f} | {r['settled']:.1f} "
                         f"| {r['get_rps']:,.0f} | {r['put_rps']:,.0f} |")
        lines.append("")
    if out.get("slow"):
        lines += [f"### Slow readers of a {VALUE_MIB} MiB value (4 KiB receive buffers, never read)", "",
                  "| target | readers | before | held (3 s) | peak | growth | after they leave |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in out["slow"]:
            lines.append(f"| {r['target']} | {r['readers']} | {r['before']:.1f} | {r['held']:.1f} | {r['peak']:.1f} "
                         f"| +{r['peak'] - r['before']:.1f} | {r['settled']:.1f} |")
        lines.append("")
    if out.get("burst"):
        lines += [f"### Burst: {BURST_CONNECTIONS:,} connections × {BURST_REQUESTS} GETs through a forwarder, then idle", "",
                  "| forwarder | fwd before | fwd peak | fwd at end | main before | main peak | main at end | answers | failed connections |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
        for r in out["burst"]:
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(r["answers"].items()))
            lines.append(f"| {r['target']} | {r['before']['forwarder']:.1f} | {r['peak_fwd']:.1f} | {r['end']['forwarder']:.1f} "
                         f"| {r['before']['main']:.1f} | {r['peak_main']:.1f} | {r['end']['main']:.1f} | {answers} | {r['failed']} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def gc_markdown(rows):
    go = rows["go-main"]
    lines = ["| GC setting | after load (median) | 11 s later | peak | GET/s | PUT/s | GET ÷ Go | PUT ÷ Go |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, _ in GC_VARIANTS:
        rs = rows[name]
        gets = [r["get_rps"] / g["get_rps"] for r, g in zip(rs, _paired(rows, name))]
        puts = [r["put_rps"] / g["put_rps"] for r, g in zip(rs, _paired(rows, name))]
        lines.append(f"| {name} | {_med([r['after'] for r in rs]):.1f} | {_med([r['settled'] for r in rs]):.1f} "
                     f"| {_med([r['peak'] for r in rs]):.1f} | {_med([r['get_rps'] for r in rs]):,.0f} "
                     f"| {_med([r['put_rps'] for r in rs]):,.0f} | {_med(gets):.2f} | {_med(puts):.2f} |")
    lines.append(f"| Go peer | {_med([g['after'] for g in go]):.1f} | | {_med([g['peak'] for g in go]):.1f} "
                 f"| {_med([g['get_rps'] for g in go]):,.0f} | {_med([g['put_rps'] for g in go]):,.0f} | | |")
    return "\n".join(lines) + "\n"


def _paired(rows, name):
    """The Go runs made beside each run of `name`: one per round (gc_interleaved), or one
    right after each run (gc_variants, which alternates them)."""
    go = rows["go-main"]
    if len(go) == len(rows[name]):
        return go
    names = [n for n, _ in GC_VARIANTS]
    i, n = names.index(name), len(names)
    return [g for k, g in enumerate(go) if k % n == i]


def svg(path, out):
    """RSS over time, one panel per scenario run, one line per process (no external packages)."""
    runs = []
    for r in out.get("standard", []):
        runs.append((f"Standard load: {r['target']}", r, ["main"]))
    for r in out.get("slow", []):
        runs.append((f"{r['readers']} slow readers of {VALUE_MIB} MiB: {r['target']}", r, ["main"]))
    for r in out.get("burst", []):
        runs.append((f"Burst then idle: {r['target']} (and its AotKvs main)", r, ["forwarder", "main"]))
    colors = {"main": "#512bd4", "forwarder": "#e67e22"}
    pw, ph, left, top_pad = 520, 110, 60, 40
    parts, y = [], 40
    for title, r, names in runs:
        samples = r["samples"]
        tmax = max(t for t, _ in samples) or 1
        vmax = max(max(p.get(n, 0) for n in names) for _, p in samples) * 1.1 or 1
        parts.append(f'<text x="10" y="{y}" font-size="13" font-weight="bold">{esc(title)}</text>')
        y0 = y + 10
        parts.append(f'<rect x="{left}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        parts.append(f'<text x="{left - 4}" y="{y0 + 8}" font-size="9" text-anchor="end">{vmax:.0f} MiB</text>')
        parts.append(f'<text x="{left - 4}" y="{y0 + ph}" font-size="9" text-anchor="end">0</text>')
        parts.append(f'<text x="{left + pw}" y="{y0 + ph + 11}" font-size="9" text-anchor="end">{tmax:.0f} s</text>')
        for t, label in r["marks"]:
            x = left + t / tmax * pw
            parts.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + ph}" stroke="#ccc" stroke-dasharray="3,3"/>')
            parts.append(f'<text x="{x + 2:.1f}" y="{y0 + 9}" font-size="8" fill="#666">{esc(label)}</text>')
        for k, n in enumerate(names):
            pts = " ".join(f"{left + t / tmax * pw:.1f},{y0 + ph - p.get(n, 0) / vmax * ph:.1f}" for t, p in samples)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{colors[n]}" stroke-width="1.5"/>')
            parts.append(f'<text x="{left + pw + 6}" y="{y0 + 12 + 12 * k}" font-size="10" fill="{colors[n]}">{n}</text>')
        y = y0 + ph + top_pad
    doc = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + pw + 90}" height="{y}" font-family="sans-serif">'
           f'<rect width="100%" height="100%" fill="white"/>'
           f'<text x="10" y="22" font-size="16" font-weight="bold">Resident memory over time (MiB)</text>'
           + "".join(parts) + "</svg>\n")
    with open(path, "w") as f:
        f.write(doc)


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- alone

def main():
    import signal
    import run  # run.py's targets and process list; this file is the entry point here

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50 slow readers only, shorter idle phases")
    ap.add_argument("--gc", action="store_true", help="compare GC settings under the standard load instead")
    ap.add_argument("--interleaved", action="store_true", help="with --gc: all variants at once, load in 1 s slices taken in turn")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the GC comparison")
    ap.add_argument("--variants", help="comma-separated names of GC_VARIANTS to try (default: all)")
    ap.add_argument("--server-gc-binary", help="AotKvs published with -p:ServerGarbageCollection=true: adds server GC with DATAS to --gc")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--go-bin", default="/tmp/aotkvs-bench/go-peer")
    ap.add_argument("--out", default=os.path.join(run.BENCH_DIR, "results", "memory.md"))
    args = ap.parse_args()
    args.extra_forwarder = []
    if args.server_gc_binary:
        GC_VARIANTS.append(("server GC, DATAS", {"_binary": args.server_gc_binary, "DOTNET_GCDynamicAdaptationMode": "1"}))
    if args.variants:
        GC_VARIANTS[:] = [v for v in GC_VARIANTS if v[0] in args.variants.split(",")]
    b = run.Bench(args)
    if not args.no_pin:
        os.sched_setaffinity(0, {0})
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    m = MemoryBench(b, run.PROCS, run.rss_kb, run.free_port, args.quick)
    try:
        if args.gc:
            rows = m.gc_interleaved(args.rounds) if args.interleaved else m.gc_variants(args.rounds)
            text = "# GC settings under the standard load\n\n" + gc_markdown(rows)
        else:
            out = m.all()
            chart = os.path.splitext(args.out)[0] + ".svg"
            text = markdown(out, os.path.basename(chart))
            svg(chart, out)
    finally:
        run.PROCS.stop_all()
    text += f"\nLoad average during the run: {', '.join(f'{x:.1f}' for x in b.loads)}.\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
