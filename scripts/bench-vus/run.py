#!/usr/bin/env python3
"""scripts/bench vus: load-run workloads, netstack VUs side by side with Go goroutines
(gorilla/websocket), against the shared C server (../shared/bench). Medians of R rounds,
run interleaved. Prints markdown tables; every run's raw numbers go to OUT/runs.jsonl.

  run.py NETSTACK GORILLA_VUS SERVER WSBENCH_EXEC OUT [--rounds R] [--quick] [--only echo|conns|memory]...
  (--only: those parts alone; --memory is --only memory)
"""
import json, os, re, statistics, subprocess, sys, time

netstack, gorilla, server_bin, wsexec, out = sys.argv[1:6]
rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
quick = "--quick" in sys.argv
only = {sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--only" and i + 1 < len(sys.argv)}
if "--memory" in sys.argv: only.add("memory")
def wanted(part): return not only or part in only
os.makedirs(out, exist_ok=True)
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vus.lua")

def server():
    s = subprocess.Popen([server_bin, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.match(r"PORT (\d+)", s.stdout.readline()).group(1))
    return s, f"ws://127.0.0.1:{port}/echo"
srv, url = server()
# Idle VUs: two more servers (each process holds at most its open-file limit of connections),
# and the VUs spread over their ports (loopback has about 28,000 ports per destination).
idle_servers = [server() for _ in range(2)]
idle_urls = [u for _, u in idle_servers]
runs = open(os.path.join(out, "runs.jsonl"), "w")

def run(name, cmd, timeout=600):
    report = os.path.join(out, "report.txt")
    t0 = time.monotonic()
    p = subprocess.run([wsexec, report] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    rep = dict(kv.split("=") for kv in open(report).read().split())
    row = {"client": name, "cmd": cmd, "status": p.returncode, "wall_s": wall,
           "maxrss_kb": int(rep["maxrss_kb"]), "cpu_s": float(rep["cpu_s"])}
    if p.returncode != 0:
        row["stderr"] = p.stderr[-2000:]
        row["stdout"] = p.stdout[-4000:]  # a load run's summary says which connections failed
        print(f"bench vus: {name} failed ({p.returncode}): {p.stderr[-500:]}", file=sys.stderr)
    runs.write(json.dumps(row) + "\n"); runs.flush()
    return row

def ns(threads, mode, vus, n, extra=()):
    urls = idle_urls if mode == "idle" else []
    return [netstack, "run", script, "--url", url, "--threads", str(threads), "--quiet", *extra, "--", mode, str(vus), str(n), *urls]

def go(mode, vus, n, env=()):
    return ["env", *env, gorilla, mode, ",".join(idle_urls) if mode == "idle" else url, str(vus), str(n)]

scale = 10 if quick else 1
workloads = [
    ("echo", 100, 2000 // scale, "round trips/s", lambda r, v, n: v * n / r["wall_s"]),
    ("conns", 100, 100 // scale, "connections/s", lambda r, v, n: v * n / r["wall_s"]),
]
clients = [
    ("netstack --threads 1", lambda m, v, n: ns(1, m, v, n)),
    ("netstack --threads 2", lambda m, v, n: ns(2, m, v, n)),
    ("netstack --threads 2, no connection metrics", lambda m, v, n: ns(2, m, v, n, ["--no-connection-metrics"])),
    ("gorilla (Go, goroutines)", lambda m, v, n: go(m, v, n)),
    # gorilla-vus's close as it was until 2026-12-06: the close frame written, TCP closed at once,
    # the server's close not awaited (a round trip less per connection than the closing handshake)
    ("gorilla, close not awaited", lambda m, v, n: go(m, v, n, ["GORILLA_VUS_CLOSE=write-only"])),
]
print(f"# scripts/bench vus ({rounds} rounds, {'quick' if quick else 'full'}), server: shared C wsbench-server\n")
for mode, vus, n, unit, rate in [w for w in workloads if wanted(w[0])]:
    results = {name: [] for name, _ in clients}
    for _ in range(rounds):
        for name, cmd in clients:
            r = run(name, cmd(mode, vus, n))
            results[name].append(r)
    base = statistics.median(rate(r, vus, n) for r in results["gorilla (Go, goroutines)"])
    print(f"## {mode}: {vus} VUs x {n} ({unit}; wall time of the whole process)\n")
    print("| client | median | vs gorilla | CPU s | peak RSS MiB | failures |\n|---|---|---|---|---|---|")
    for name, _ in clients:
        rs = results[name]
        med = statistics.median(rate(r, vus, n) for r in rs)
        print(f"| {name} | {med:,.0f} | {med / base:.2f}x | {statistics.median(r['cpu_s'] for r in rs):.2f} | "
              f"{statistics.median(r['maxrss_kb'] for r in rs) / 1024:.1f} | {sum(r['status'] != 0 for r in rs)} |")
    print()

# Memory per idle VU: peak RSS at two VU counts, the difference per VU. The connection workloads
# above leave tens of thousands of sockets in TIME_WAIT on the first server's port; the idle
# VUs use the other two servers.
if not wanted("memory"):
    srv.terminate()
    for s, _ in idle_servers: s.terminate()
    sys.exit(0)
hold = 5 if quick else 10
lo, hi = (500, 2000) if quick else (1000, 18000)
print(f"## Memory per idle VU ({lo} and {hi} VUs, each one idle connection held {hold} s; peak RSS)\n")
print("| client | RSS at %d | RSS at %d | KiB per VU |\n|---|---|---|---|" % (lo, hi))
for name, cmd in [("netstack VU (VM + connection)", lambda v: ns(2, "idle", v, hold)),
                  ("netstack VU without a connection (VM only)", lambda v: ns(2, "vm", v, hold)),
                  ("gorilla goroutine + connection", lambda v: go("idle", v, hold))]:
    a = [run(name, cmd(lo)) for _ in range(max(1, rounds - 1))]
    b = [run(name, cmd(hi)) for _ in range(max(1, rounds - 1))]
    ra = statistics.median(r["maxrss_kb"] for r in a)
    rb = statistics.median(r["maxrss_kb"] for r in b)
    print(f"| {name} | {ra / 1024:.1f} MiB | {rb / 1024:.1f} MiB | {(rb - ra) / (hi - lo):.1f} |")
print()
srv.terminate()
for s, _ in idle_servers: s.terminate()
