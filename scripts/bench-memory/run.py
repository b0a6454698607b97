#!/usr/bin/env python3
"""scripts/bench memory: memory per connection of our clients against the shared C server
(../shared/bench), two ways, medians of R rounds (run interleaved):

- the kit's peak RSS: peak RSS of `conns` at CONNS and at CONNS/10 connections (wsbench-exec),
  the difference / (CONNS - CONNS/10), for the engine (netstack-wsbench) and the Lua host
  (netstack run scripts/bench.lua), and for any --client NAME=COMMAND given (an older build);
- idle, inside the process: `netstack-wsbench idle` (heap malloc holds and RSS per idle connection,
  see Sources/netstack-wsbench/IdleMemory.swift), engine only.

  run.py WSBENCH NETSTACK BENCH_LUA SERVER WSBENCH_EXEC [--conns N] [--rounds R] [--client NAME=CMD]...
"""
import re, shlex, statistics, subprocess, sys

wsbench, netstack, bench_lua, server_bin, wsexec = sys.argv[1:6]
args = sys.argv[6:]
def option(name, default):
    return int(args[args.index(name) + 1]) if name in args else default
conns = option("--conns", 10000)
rounds = option("--rounds", 3)
clients = [("netstack", [wsbench]), ("netstack-lua", [netstack, "run", bench_lua, "--"])]
for i, a in enumerate(args):
    if a == "--client" and i + 1 < len(args):
        name, cmd = args[i + 1].split("=", 1)
        clients.append((name, shlex.split(cmd)))

srv = subprocess.Popen([server_bin, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(re.match(r"PORT (\d+)", srv.stdout.readline()).group(1))
url = f"ws://127.0.0.1:{port}/echo"
small = max(conns // 10, 1)

def peak(cmd, n):
    report = "/tmp/netstack-bench-memory-report.txt"
    p = subprocess.run([wsexec, report] + cmd + ["conns", url, str(n), "32", str(n)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if p.returncode != 0:
        sys.exit(f"bench memory: {' '.join(cmd)} failed: {p.stderr[-500:]}")
    return int(re.search(r"maxrss_kb=(\d+)", open(report).read()).group(1))

def idle():
    p = subprocess.run([wsbench, "idle", url, "1", "32", str(conns)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    m = re.search(r"heap_per_conn=(\d+) rss_per_conn=(\d+)", p.stdout)
    if p.returncode != 0 or not m:
        sys.exit(f"bench memory: idle failed: {p.stderr[-500:]}")
    return int(m.group(1)), int(m.group(2))

results = {name: [] for name, _ in clients}
idles = []
try:
    for _ in range(rounds):
        for name, cmd in clients:
            results[name].append((peak(cmd, conns) - peak(cmd, small)) / (conns - small))
        idles.append(idle())
finally:
    srv.kill()

print(f"# scripts/bench memory ({rounds} rounds, {conns:,} connections, medians)\n")
print(f"| client | peak RSS per connection (KiB; {conns:,} vs {small:,}) | rounds |")
print("|---|---|---|")
for name, _ in clients:
    v = results[name]
    print(f"| {name} | {statistics.median(v):.2f} | {', '.join(f'{x:.2f}' for x in v)} |")
heap = statistics.median(h for h, _ in idles)
rss = statistics.median(r for _, r in idles)
print(f"\nnetstack idle ({conns - small:,} connections added to {small:,}): heap {heap:,.0f} B "
      f"({heap / 1024:.2f} KiB) and RSS {rss:,.0f} B ({rss / 1024:.2f} KiB) per idle connection")
