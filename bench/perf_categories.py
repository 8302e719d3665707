#!/usr/bin/env python3
"""Buckets the samples of a `perf record -g` file of AotKvs into where the time goes
(thread pool, sockets, Kestrel, AotKvs's own code, GC...). Used by bench/profile.sh.
Usage: perf_categories.py perf.data"""
import sys, subprocess, collections
def cats(stack):
    s = " ".join(stack)
    top = stack[0] if stack else ""
    if "LowLevelSpinWaiter" in s or "sched_yield" in s: return "thread-pool spin (sched_yield)"
    if "LowLevelLifoSemaphore" in s or "futex" in s: return "thread-pool park/wake (futex)"
    if "SocketAsyncEngine__EventLoop" in s and "epoll_wait" in s: return "epoll wait"
    if "gc_heap" in s or "WKS" in s or "GCHeap" in s or "RhpNewFast" in top or "RhpGcAlloc" in s: return "GC / allocation"
    if "__send" in s or "sendto" in s or "SystemNative_Send" in s: return "socket send (kernel TCP incl. loopback delivery)"
    if "__libc_recv" in s or "SystemNative_Receive" in s or "recvfrom" in s: return "socket recv"
    if "System_Net_Http" in s: return "HttpClient (SocketsHttpHandler), forwarder only"
    if "AotKvs" in s:
        if "PutBody" in s or "Utf8JsonReader" in s or "Utf8__IsValid" in s: return "AotKvs: PUT body parse"
        if "ConcurrentDictionary" in s: return "AotKvs: store (ConcurrentDictionary)"
        if "KeyRules" in s: return "AotKvs: key decode"
        return "AotKvs: other handler code"
    if "Routing" in s: return "routing / endpoint dispatch"
    if "Kestrel_Core" in s: return "Kestrel HTTP/1.1 (parse, headers, write)"
    if "Kestrel_Transport" in s or "System_Net_Sockets" in s: return "socket transport (managed)"
    if "Hosting" in s or "HttpContext" in s: return "hosting / HttpContext"
    if top.startswith("[k]") or "kernel" in s: return "kernel other"
    return "other"
out = subprocess.run(["perf","script","-i",sys.argv[1],"-F","ip,sym"], capture_output=True, text=True).stdout
c = collections.Counter(); n = 0
for block in out.split("\n\n"):
    lines = [l.strip() for l in block.strip().splitlines() if l.strip()]
    if not lines: continue
    stack = [l.split(None,1)[1] if " " in l else l for l in lines]
    c[cats(stack)] += 1; n += 1
for k, v in c.most_common(): print(f"{100*v/n:5.1f}%  {k}")
print(n, "samples")
