"""The benchmark report: per-round ratios and their medians, and bench/results/latest.md."""

import math
import os
import statistics
import subprocess
from datetime import datetime, timezone

from workload import ALL_404, KEY_BYTES, SCENARIOS, VALUE_BYTES


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


def cpu_section(w, results, cells, keyspaces, fwds):
    """The forwarders' own CPU time per answer (without their main), next to nginx's: CPU
    spent is far less disturbed by other work on the machine than requests per second."""
    names = [n for n in fwds + ["go-fwd"] if any(k[0] == n for k in results)]
    if "nginx-fwd" not in {k[0] for k in results} or not names:
        return
    w("## Forwarder CPU per request")
    w("")
    w("The forwarding process's own CPU time (all threads; nginx: master + worker) during each load cell, "
      "divided by the answers in that cell; its main is not counted. Ratio to nginx: lower is better.")
    w("")
    w("| scenario | conns | keys | nginx-fwd µs | " + " | ".join(f"{n} µs (÷ nginx)" for n in names) + " |")
    w("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in names) + " |")
    for keys in keyspaces:
        for scenario, conns in cells:
            base = results.get(("nginx-fwd", scenario, conns, keys))
            if not base or "cpu_us_per_req" not in base[0]:
                continue
            row = [f"{med([r['cpu_us_per_req'] for r in base]):.1f}"]
            for n in names:
                rs = results.get((n, scenario, conns, keys), [])
                t = ratio_stats(results, n, "nginx-fwd", scenario, conns, keys, "cpu_us_per_req")
                row.append(f"{med([r['cpu_us_per_req'] for r in rs]):.1f} ({fmt_ratio(t)})" if rs and t else "–")
            w(f"| {SCENARIOS[scenario]} | {conns} | {keys:,} | " + " | ".join(row) + " |")
    w("")


def write_report(b, args, results, rss, starts, start_cpu, mem, cells, keyspaces, wall):
    lines = []
    w = lines.append
    mode = "quick" if args.quick else "full"
    fwds = ["aot-fwd", "aot-fwd-single"] + list(b.extra)
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
    w("Every forwarder (aot-fwd, aot-fwd-single, go-fwd, nginx-fwd" + "".join(f", {x}" for x in b.extra) +
      ") is started together with its own fresh AotKvs main on the same CPU, so forwarding columns compare the forwarders only.")
    w(f"Tools: {', '.join(f'{k} `{v}`' for k, v in tool_versions().items())}.")
    w("")
    w("Ratios: throughput = A ÷ B (higher is better for A); latency = A ÷ B (lower is better for A). "
      "Each cell is the median of per-round ratios, with the range over rounds in parentheses.")
    w("")

    # ---- ratio table
    comps = [("aot-main", "go-main"), ("aot-main", "ceiling"), ("aot-fwd", "nginx-fwd"), ("aot-fwd", "go-fwd"),
             ("aot-fwd", "aot-fwd-single"), ("aot-fwd-single", "nginx-fwd")]
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

    cpu_section(w, results, cells, keyspaces, fwds)

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
    sizes += [(f"{k} (--extra-forwarder)", binary) for k, (binary, _) in b.extra.items()]
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
