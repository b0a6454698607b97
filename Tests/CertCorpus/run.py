#!/usr/bin/env python3
"""Runs the certificate corpus (generate.py) through `netstack verify --strict` and through
`openssl verify` at its strictest, and scores both against the verdict the standard requires.

    run.py NETSTACK CORPUS_DIR [--json FILE] [--cases NAME,...]

Prints a table per category and every case where a tool disagrees with the standard.
Exit status: 0 when netstack agrees with the standard on every case where openssl does;
1 otherwise (the cases are listed); 2 for usage errors."""

import concurrent.futures
import json
import os
import subprocess
import sys


def run_netstack(binary, d, c):
    cmd = [binary, "verify", "--strict", "--json", "--at", str(c["time"]), "--ca", os.path.join(d, "roots.pem")]
    if c["untrusted"]:
        cmd += ["--untrusted", os.path.join(d, "untrusted.pem")]
    if c["crls"]:
        cmd += ["--crl", os.path.join(d, "crls.pem")]
    if "hostname" in c:
        cmd += ["--hostname", c["hostname"]]
    if "ip" in c:
        cmd += ["--ip", c["ip"]]
    cmd.append(os.path.join(d, "leaf.pem"))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    try:
        out = json.loads(p.stdout)
        return ("valid" if out["ok"] else "invalid"), "%s %s" % (out["code"], out.get("reason", ""))
    except (ValueError, KeyError):
        return "error", "exit %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()[:200])


def run_openssl(d, c):
    cmd = ["openssl", "verify", "-x509_strict", "-policy_check", "-policy", "2.5.29.32.0", "-purpose", "sslserver", "-auth_level", "2", "-attime", str(c["time"]),
           "-CAfile", os.path.join(d, "roots.pem")]
    if c["untrusted"]:
        cmd += ["-untrusted", os.path.join(d, "untrusted.pem")]
    if c["crls"]:
        cmd += ["-crl_check_all", "-CRLfile", os.path.join(d, "crls.pem")]
    if "hostname" in c:
        cmd += ["-verify_hostname", c["hostname"]]
    if "ip" in c:
        cmd += ["-verify_ip", c["ip"]]
    cmd.append(os.path.join(d, "leaf.pem"))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    text = (p.stdout + p.stderr).strip().replace("\n", " | ")
    return ("valid" if p.returncode == 0 else "invalid"), text[:200]


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary, corpus = args[0], args[1]
    json_out = args[args.index("--json") + 1] if "--json" in args else None
    only = set(args[args.index("--cases") + 1].split(",")) if "--cases" in args else None
    cases = json.load(open(os.path.join(corpus, "cases.json")))
    if only:
        cases = [c for c in cases if c["name"] in only]

    def one(c):
        d = os.path.join(corpus, c["name"])
        ns, ns_detail = run_netstack(binary, d, c)
        os_, os_detail = run_openssl(d, c)
        return dict(c, netstack=ns, netstack_detail=ns_detail, openssl=os_, openssl_detail=os_detail)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, cases))

    categories = []
    for r in results:
        if r["category"] not in categories:
            categories.append(r["category"])
    print("| category | cases | netstack --strict agrees | openssl verify agrees | only netstack right | only openssl right |")
    print("|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0, 0]
    for cat in categories + ["all"]:
        rs = [r for r in results if cat == "all" or r["category"] == cat]
        ns = sum(r["netstack"] == r["expect"] for r in rs)
        os_ = sum(r["openssl"] == r["expect"] for r in rs)
        only_ns = sum(r["netstack"] == r["expect"] and r["openssl"] != r["expect"] for r in rs)
        only_os = sum(r["openssl"] == r["expect"] and r["netstack"] != r["expect"] for r in rs)
        label = "**all**" if cat == "all" else cat
        print("| %s | %d | %d | %d | %d | %d |" % (label, len(rs), ns, os_, only_ns, only_os))
    print()
    regressions = [r for r in results if r["openssl"] == r["expect"] and r["netstack"] != r["expect"]]
    both_wrong = [r for r in results if r["openssl"] != r["expect"] and r["netstack"] != r["expect"]]
    improved = [r for r in results if r["openssl"] != r["expect"] and r["netstack"] == r["expect"]]
    for title, rows in (("netstack wrong where openssl is right", regressions), ("both wrong", both_wrong),
                        ("netstack right where openssl is wrong", improved)):
        if rows:
            print("%s (%d):" % (title, len(rows)))
            for r in rows:
                print("  %s [%s] expect %s (%s): netstack %s (%s); openssl %s (%s)" % (
                    r["name"], r["category"], r["expect"], r["cite"], r["netstack"], r["netstack_detail"], r["openssl"], r["openssl_detail"]))
    if json_out:
        with open(json_out, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
