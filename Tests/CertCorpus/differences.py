"""The expected-differences.txt of a certificate corpus (limbo/, pkits/): one line per case where
netstack's verdict differs from the corpus's, `ID REASON`; `#` starts a comment."""
import os


def expected_differences(folder):
    out = {}
    with open(os.path.join(folder, "expected-differences.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                ident, _, why = line.partition(" ")
                out[ident] = why.strip()
    return out
