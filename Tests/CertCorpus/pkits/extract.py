#!/usr/bin/env python3
"""Writes the certificates and CRLs of PKITS tests (pkits.json.xz here) as files.

    extract.py OUTDIR TEST...

TEST is a test's name as pkits.json.xz has it (its signed message's name without "Signed" and
".eml", such as InvalidRevokedEETest3). For each, OUTDIR/TEST/ gets cert-0.der (the end entity),
cert-1.der ... (the intermediates of the message, then the trust anchor, last) and crl-0.pem ...
(the CRLs of the message, in its order), and anchor.pem (the trust anchor). Exit status 2 when a test is not in the data.
"""
import base64
import json
import lzma
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def der(pem):
    body = re.sub(r"-----[A-Z0-9 ]+-----", "", pem)
    return base64.b64decode("".join(body.split()))


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    with lzma.open(os.path.join(HERE, "pkits.json.xz")) as f:
        data = json.load(f)
    for name in sys.argv[2:]:
        case = data["cases"].get(name)
        if case is None:
            sys.stderr.write("extract.py: no PKITS test named %s\n" % name)
            return 2
        folder = os.path.join(sys.argv[1], name)
        os.makedirs(folder, exist_ok=True)
        for i, pem in enumerate([case["ee"]] + list(case["chain"]) + [data["trustAnchor"]]):
            with open(os.path.join(folder, "cert-%d.der" % i), "wb") as f:
                f.write(der(pem))
        with open(os.path.join(folder, "anchor.pem"), "w") as f:
            f.write(data["trustAnchor"])
        for i, pem in enumerate(case["crls"]):
            with open(os.path.join(folder, "crl-%d.pem" % i), "w") as f:
                f.write(pem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
