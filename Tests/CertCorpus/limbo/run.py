#!/usr/bin/env python3
"""Scores `netstack verify --strict` and `openssl verify` on x509-limbo (limbo.json.xz here).

    run.py NETSTACK [--json FILE] [--only ID...]

Each testcase becomes one command line of each tool, with the inputs limbo's own OpenSSL harness
gives OpenSSL: the trusted certificates as trust anchors (partial chains), the untrusted
intermediates, the CRLs (then checked for the whole chain), the validation time, the peer name
(DNS, IP or e-mail), the extended key usage asked for, the maximum chain depth and security level
2. The purpose is the TLS server one for a SERVER testcase that names no extended key usage (a
SERVER validation is a TLS server's certificate: limbo's webpki cases expect the CA/B Forum
profile), the client one for a CLIENT testcase. Testcases that need what neither tool
takes (several peer names at once, a signature-algorithm or key-usage list) are skipped and counted.

Prints a table per limbo namespace and every disagreement with limbo's expected result. Exit
status: 0 when every disagreement of netstack's is listed in expected-differences.txt and every
listed one still disagrees; 1 otherwise; 2 for setup errors.
"""
import collections
import datetime
import json
import lzma
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from differences import expected_differences  # noqa: E402


def load_cases():
    with lzma.open(os.path.join(HERE, "limbo.json.xz"), "rt") as f:
        return json.load(f)["testcases"]


def skip_reason(t):
    if len(t["expected_peer_names"]) > 1 or (t["expected_peer_names"] and t["expected_peer_name"]):
        return "several peer names"
    if t["signature_algorithms"] or t["key_usage"]:
        return "signature-algorithm or key-usage lists"
    if len(t["extended_key_usage"]) > 1:
        return "several extended key usages"
    if t["extended_key_usage"] and t["extended_key_usage"][0] not in ("serverAuth", "clientAuth", "anyExtendedKeyUsage"):
        return "extended key usage " + t["extended_key_usage"][0]
    return None


def purpose(t):
    eku = t["extended_key_usage"]
    if eku == ["clientAuth"] or (not eku and t["validation_kind"] == "CLIENT"):
        return "client"
    if eku == ["serverAuth"] or (not eku and t["validation_kind"] == "SERVER"):
        return "server"
    return "any"


def peer_name(t):
    """The one peer name: `expected_peer_name`, or a list of one in `expected_peer_names`."""
    return t["expected_peer_name"] or (t["expected_peer_names"][0] if t["expected_peer_names"] else None)


def write(directory, name, pems):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        for pem in pems:
            f.write(pem if pem.endswith("\n") else pem + "\n")
    return path


def unix_time(t):
    return int(datetime.datetime.fromisoformat(t["validation_time"]).timestamp()) if t["validation_time"] else None


def netstack_args(binary, t, d):
    args = [binary, "verify", "--json", "--strict", "--partial-chain", "--purpose", purpose(t), "--security-level", "2",
            "--ca", write(d, "trusted.pem", t["trusted_certs"])]
    if t["untrusted_intermediates"]:
        args += ["--untrusted", write(d, "untrusted.pem", t["untrusted_intermediates"])]
    if t["crls"]:
        args += ["--crl", write(d, "crls.pem", t["crls"])]
    at = unix_time(t)
    if at is not None:
        args += ["--at", str(at)]
    peer = peer_name(t)
    if peer:
        args += {"DNS": ["--hostname"], "IP": ["--ip"], "RFC822": ["--email"]}[peer["kind"]] + [peer["value"]]
    if t["max_chain_depth"] is not None:
        args += ["--max-depth", str(t["max_chain_depth"])]
    return args + [write(d, "peer.pem", [t["peer_certificate"]])]


def openssl_args(t, d):
    args = ["openssl", "verify", "-x509_strict", "-partial_chain", "-auth_level", "2",
            "-CAfile", write(d, "trusted.pem", t["trusted_certs"])]
    p = purpose(t)
    if p != "any":
        args += ["-purpose", "sslserver" if p == "server" else "sslclient"]
    if t["untrusted_intermediates"]:
        args += ["-untrusted", write(d, "untrusted.pem", t["untrusted_intermediates"])]
    if t["crls"]:
        args += ["-CRLfile", write(d, "crls.pem", t["crls"]), "-crl_check_all"]
    at = unix_time(t)
    args += ["-attime", str(at)] if at is not None else ["-no_check_time"]
    peer = peer_name(t)
    if peer:
        args += {"DNS": ["-verify_hostname"], "IP": ["-verify_ip"], "RFC822": ["-verify_email"]}[peer["kind"]] + [peer["value"]]
    if t["max_chain_depth"] is not None:
        args += ["-verify_depth", str(t["max_chain_depth"])]
    return args + [write(d, "peer.pem", [t["peer_certificate"]])]


def run_netstack(binary, t, d):
    try:
        p = subprocess.run(netstack_args(binary, t, d), capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "error", "timed out"
    if p.returncode not in (0, 1):
        return "error", "exit %d: %s" % (p.returncode, p.stderr.strip()[:200])
    try:
        result = json.loads(p.stdout)
    except ValueError:
        return "error", "not JSON: " + p.stdout[:200]
    return ("valid" if result["code"] == 0 else "invalid"), "%s %s" % (result["code"], result.get("reason") or result.get("meaning", ""))


def run_openssl(t, d):
    p = subprocess.run(openssl_args(t, d), capture_output=True, text=True, timeout=60)
    return ("valid" if p.returncode == 0 else "invalid"), " | ".join((p.stdout + p.stderr).strip().splitlines())[:200]


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    binary, report, only = args[0], None, None
    rest = args[1:]
    while rest:
        if rest[0] == "--json" and len(rest) > 1:
            report, rest = rest[1], rest[2:]
        elif rest[0] == "--only":
            only, rest = set(rest[1:]), []
        else:
            print("run.py: unknown argument " + rest[0], file=sys.stderr)
            return 2
    cases = [t for t in load_cases() if only is None or t["id"] in only]
    listed = expected_differences(HERE)
    outcomes, skipped = [], collections.Counter()
    with tempfile.TemporaryDirectory() as d:
        for t in cases:
            why = skip_reason(t)
            if why:
                skipped[why] += 1
                continue
            expect = "valid" if t["expected_result"] == "SUCCESS" else "invalid"
            ours, detail = run_netstack(binary, t, d)
            theirs, theirs_detail = run_openssl(t, d)
            outcomes.append({"id": t["id"], "namespace": t["id"].split("::")[0], "expect": expect, "netstack": ours,
                             "netstack_detail": detail, "openssl": theirs, "openssl_detail": theirs_detail,
                             "features": t["features"], "conflicts_with": t["conflicts_with"]})
    table = collections.OrderedDict()
    for o in outcomes:
        row = table.setdefault(o["namespace"], collections.Counter())
        row["cases"] += 1
        row["netstack"] += o["netstack"] == o["expect"]
        row["openssl"] += o["openssl"] == o["expect"]
        row["only netstack"] += o["netstack"] == o["expect"] != o["openssl"]
        row["only openssl"] += o["openssl"] == o["expect"] != o["netstack"]
    total = sum(table.values(), collections.Counter())
    print("| limbo namespace | cases | netstack verify --strict agrees | openssl verify agrees | only netstack right | only openssl right |")
    print("|---|---|---|---|---|---|")
    for name, row in list(table.items()) + [("**all**", total)]:
        print("| %s | %d | %d | %d | %d | %d |" % (name, row["cases"], row["netstack"], row["openssl"], row["only netstack"], row["only openssl"]))
    if skipped:
        print("\nskipped (neither tool takes the input): " + ", ".join("%s %d" % kv for kv in sorted(skipped.items())))
    wrong = [o for o in outcomes if o["netstack"] != o["expect"]]
    unlisted = [o for o in wrong if o["id"] not in listed]
    stale = sorted((set(listed) & {o["id"] for o in outcomes}) - {o["id"] for o in wrong})
    print("\nnetstack disagrees with limbo (%d):" % len(wrong))
    for o in wrong:
        mark = "" if o["id"] in listed else "  [NOT LISTED]"
        print("  %s expect %s: netstack %s (%s); openssl %s%s" % (o["id"], o["expect"], o["netstack"], o["netstack_detail"], o["openssl"], mark))
    for ident in stale:
        print("  %s is listed in expected-differences.txt but netstack now agrees with limbo [STALE]" % ident)
    if report:
        with open(report, "w") as f:
            json.dump(outcomes, f, indent=1)
    return 1 if unlisted or stale or any(o["netstack"] == "error" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
