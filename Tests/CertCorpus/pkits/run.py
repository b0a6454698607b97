#!/usr/bin/env python3
"""Scores `netstack verify` on NIST PKITS (pkits.json.xz and tests.tsv here).

    run.py NETSTACK [--json FILE] [--only ID...]

PKITS (the Public Key Interoperability Test Suite, NIST) checks RFC 5280 certification path
validation: signatures, validity, name chaining, CRLs (also indirect, partitioned and delta
CRLs), basic constraints, key usage, certificate policies and their constraints, and name
constraints. Each test is one path: its end-entity certificate, the intermediates and CRLs of its
signed message, and PKITS's trust anchor. Each becomes one `netstack verify` command line (default
mode, not --strict: PKITS tests RFC 5280 alone, not the CA/B Forum profile) with the trust anchor
as --ca, the intermediates as --untrusted, the CRLs as --crl (so every certificate of the path is
checked against them), security level 0 (the DSA tests use 1024-bit keys), a validation time
inside the test data's validity (2023-11-14), and the path-validation inputs tests.tsv gives
(--policy, --explicit-policy, --inhibit-policy-mapping, --inhibit-any-policy).

Prints a table per PKITS section and every disagreement with PKITS's expected result. Exit
status: 0 when every disagreement is listed in expected-differences.txt and every listed one
still disagrees; 1 otherwise; 2 for setup errors.
"""
import collections
import json
import lzma
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from differences import expected_differences  # noqa: E402
NIST_POLICY = "2.16.840.1.101.3.2.1.48."
VALIDATION_TIME = "1700000000"
SECTIONS = {
    "4.1": "signature verification", "4.2": "validity periods", "4.3": "name chaining",
    "4.4": "basic revocation", "4.5": "self-issued certificates", "4.6": "basic constraints",
    "4.7": "key usage", "4.8": "certificate policies", "4.9": "require explicit policy",
    "4.10": "policy mappings", "4.11": "inhibit policy mapping", "4.12": "inhibit anyPolicy",
    "4.13": "name constraints", "4.14": "distribution points", "4.15": "delta CRLs",
    "4.16": "private extensions",
}


def load_tests():
    tests = []
    with open(os.path.join(HERE, "tests.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            ident, title, expected = fields[0], fields[1], fields[2]
            settings = fields[3].split() if len(fields) > 3 else []
            tests.append((ident, title, expected, settings))
    return tests


def options_for(settings):
    args = []
    for word in settings:
        if word == "explicit":
            args.append("--explicit-policy")
        elif word == "inhibit-mapping":
            args.append("--inhibit-policy-mapping")
        elif word == "inhibit-any":
            args.append("--inhibit-any-policy")
        elif word.startswith("policy="):
            for n in word[len("policy="):].split(","):
                args += ["--policy", NIST_POLICY + n]
        else:
            raise ValueError("unknown setting " + word)
    return args


def run_case(netstack, folder, anchor, case, settings):
    def write(name, pems):
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write("".join(pems))
        return path

    cmd = [netstack, "verify", "--json", "--ca", anchor, "--security-level", "0", "--at", VALIDATION_TIME]
    if case["chain"]:
        cmd += ["--untrusted", write("chain.pem", case["chain"])]
    if case["crls"]:
        cmd += ["--crl", write("crls.pem", case["crls"])]
    cmd += options_for(settings) + [write("ee.pem", [case["ee"]])]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    try:
        result = json.loads(p.stdout)
    except ValueError:
        return None, "status %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()[:300])
    code = result.get("code")
    if (code == 0) != (p.returncode == 0):
        return None, "status %d does not match code %s" % (p.returncode, code)
    return code, result.get("reason") or result.get("meaning") or ""


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    netstack, rest = args[0], args[1:]
    json_out, only = None, None
    while rest:
        if rest[0] == "--json" and len(rest) > 1:
            json_out, rest = rest[1], rest[2:]
        elif rest[0] == "--only":
            only, rest = set(rest[1:]), []
        else:
            print("unknown argument " + rest[0], file=sys.stderr)
            return 2
    with lzma.open(os.path.join(HERE, "pkits.json.xz"), "rt") as f:
        data = json.load(f)
    tests = load_tests()
    known = expected_differences(HERE)
    rows = collections.OrderedDict()
    disagreements, outcomes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        anchor = os.path.join(tmp, "anchor.pem")
        with open(anchor, "w") as f:
            f.write(data["trustAnchor"])
        for ident, title, expected, settings in tests:
            if only and ident not in only:
                continue
            key = title.replace(" ", "").replace("-", "")
            if key not in data["cases"]:
                print("missing test data for %s %s" % (ident, title), file=sys.stderr)
                return 2
            folder = os.path.join(tmp, ident)
            os.mkdir(folder)
            code, reason = run_case(netstack, folder, anchor, data["cases"][key], settings)
            got = "error" if code is None else ("valid" if code == 0 else "invalid")
            agrees = got == expected
            section = ".".join(ident.split(".")[:2])
            row = rows.setdefault(section, [0, 0])
            row[0] += 1
            row[1] += agrees
            outcomes.append({"id": ident, "title": title, "settings": settings, "expected": expected,
                             "code": code, "reason": reason, "agrees": agrees})
            if not agrees:
                disagreements.append((ident, title, expected, code, reason))
    print("| PKITS section | tests | netstack verify agrees |")
    print("|---|---|---|")
    for section, (n, ok) in rows.items():
        print("| %s %s | %d | %d |" % (section, SECTIONS.get(section, ""), n, ok))
    total = sum(n for n, _ in rows.values())
    agreed = sum(ok for _, ok in rows.values())
    print("| **all** | **%d** | **%d** |" % (total, agreed))
    status = 0
    for ident, title, expected, code, reason in disagreements:
        listed = ident in known
        print("%s %s: expected %s, got %s (%s)%s" % (ident, title, expected, code, reason,
                                                    " [expected difference]" if listed else ""))
        if not listed:
            status = 1
    for ident in known:
        if (only is None or ident in only) and ident not in [d[0] for d in disagreements]:
            print("%s is listed in expected-differences.txt but agrees now" % ident)
            status = 1
    if json_out:
        with open(json_out, "w") as f:
            json.dump(outcomes, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
