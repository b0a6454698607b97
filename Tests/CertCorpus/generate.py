#!/usr/bin/env python3
"""Generates the certificate conformance corpus: path-validation cases, each with the verdict the
standard requires and the section it comes from.

    generate.py OUTDIR

writes OUTDIR/cases.json (a list of cases), OUTDIR/manifest.tsv (the same for the Lua and C runners)
and, per case, OUTDIR/NAME/{leaf,untrusted,roots,crls}.pem.
Every case is verified as of TIME (below), for the TLS server purpose, with the case's host name
(when it has one). Keys are made once per run and shared by cases; everything else is fresh.
Needs the `cryptography` package (PyPI)."""

import base64
import warnings
import datetime as dt
import ipaddress
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

warnings.simplefilter("ignore")

TIME = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
NB = TIME - dt.timedelta(days=30)
NA = TIME + dt.timedelta(days=90)
CA_NA = TIME + dt.timedelta(days=3650)
HOST = "www.example.com"

# ---- keys ----------------------------------------------------------------------------------

KEYS = {}


def key(name, kind="ec256"):
    k = KEYS.get((name, kind))
    if k is None:
        if kind.startswith("rsa"):
            k = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
        elif kind == "dsa2048":
            k = dsa.generate_private_key(key_size=2048)
        elif kind == "ed25519":
            k = ed25519.Ed25519PrivateKey.generate()
        else:
            curve = {"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1(), "ec521": ec.SECP521R1(), "k256": ec.SECP256K1()}[kind]
            k = ec.generate_private_key(curve)
        KEYS[(name, kind)] = k
    return k


# ---- certificates ----------------------------------------------------------------------------

SERIAL = [1000]


def next_serial():
    SERIAL[0] += 1
    return SERIAL[0]


def name(cn, **attrs):
    parts = []
    if "o" in attrs:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, attrs["o"]))
    if cn is not None:
        parts.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(parts)


class Cert:
    """A certificate with its key. `der` alone (no parsed `cert`) for what `cryptography` refuses
    to parse (the malformed cases)."""

    def __init__(self, cert, k, der=None):
        self.cert = cert
        self.key = k
        self.der = der if der is not None else cert.public_bytes(serialization.Encoding.DER)

    def pem(self):
        return pem(self.der, b"CERTIFICATE")


class CRL:
    def __init__(self, der):
        self.der = der

    def pem(self):
        return pem(self.der, b"X509 CRL")


def pem(der, label):
    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[n:n + 64] for n in range(0, len(b64), 64)]
    return b"-----BEGIN " + label + b"-----\n" + b"\n".join(lines) + b"\n-----END " + label + b"-----\n"


def make(subject, k, issuer=None, *, ca=False, pathlen=None, bc=True, bc_critical=True,
         ku="auto", ku_critical=True, eku="auto", san="auto", san_critical=False, nb=None, na=None,
         ski=True, aki=True, aki_critical=False, ski_critical=False, nc=None, nc_critical=True,
         extra=(), digest=hashes.SHA256(), serial=None, issuer_name=None, sign_key=None):
    """A certificate. `ku`/`eku`/`san` "auto" pick the usual profile for a CA or a TLS server leaf;
    None leaves the extension out."""
    subject = subject if isinstance(subject, x509.Name) else name(subject)
    issuer_cert = issuer.cert if issuer else None
    b = x509.CertificateBuilder()
    b = b.subject_name(subject)
    b = b.issuer_name(issuer_name if issuer_name is not None else (issuer_cert.subject if issuer_cert else subject))
    b = b.public_key(k.public_key())
    b = b.serial_number(serial or next_serial())
    b = b.not_valid_before(nb or NB)
    b = b.not_valid_after(na or (CA_NA if ca else NA))
    if bc:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=bc_critical)
    if ku == "auto":
        ku = "ca" if ca else ("rsa" if isinstance(k, rsa.RSAPrivateKey) else "ec")
    if ku is not None:
        bits = dict(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
        if isinstance(ku, str):
            ku = {"ca": ["key_cert_sign", "crl_sign", "digital_signature"], "rsa": ["digital_signature", "key_encipherment"],
                  "ec": ["digital_signature"], "none": []}[ku]
        for bit in ku:
            bits[bit] = True
        b = b.add_extension(x509.KeyUsage(**bits), critical=ku_critical)
    if eku == "auto":
        eku = None if ca else [ExtendedKeyUsageOID.SERVER_AUTH]
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san == "auto":
        san = None if ca else ([x509.DNSName(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)]
                               if subject.get_attributes_for_oid(NameOID.COMMON_NAME) else None)
    if san is not None:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=san_critical)
    if ski:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=ski_critical)
    if aki and issuer_cert is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=aki_critical)
    if nc is not None:
        b = b.add_extension(nc, critical=nc_critical)
    for ext, crit in extra:
        b = b.add_extension(ext, critical=crit)
    signer = sign_key or (issuer.key if issuer else k)
    if isinstance(digest, hashes.SHA1):
        # The builder refuses SHA-1: sign with SHA-256, then re-sign with SHA-1.
        c = Cert(b.sign(signer, hashes.SHA256()), k)
        return resign(c, signer, lambda ch: ch, digest=hashes.SHA1())
    return Cert(b.sign(signer, digest), k)


def root(cn="Corpus Root", kind="ec256", **kw):
    return make(cn, key("root-" + cn, kind), ca=True, aki=False, **kw)


def inter(cn, issuer, kind="ec256", **kw):
    return make(cn, key("inter-" + cn, kind), issuer, ca=True, **kw)


def leaf(issuer, cn=HOST, kind="ec256", **kw):
    # Without a CN the subject keeps an organisation (an empty subject needs a critical SAN).
    subject = name(None, o="Corpus Leaf") if cn is None else cn
    return make(subject, key("leaf", kind), issuer, **kw)


# ---- DER surgery for what the builder refuses to make -------------------------------------------

def tlv(data, i):
    """(tag, header length, content length) at i."""
    tag = data[i]
    n = data[i + 1]
    if n < 0x80:
        return tag, 2, n
    k = n & 0x7F
    return tag, 2 + k, int.from_bytes(data[i + 2:i + 2 + k], "big")


def children(data):
    out, i = [], 0
    while i < len(data):
        _, h, n = tlv(data, i)
        out.append(data[i:i + h + n])
        i += h + n
    return out


def encode(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


def content(element):
    _, h, n = tlv(element, 0)
    return element[h:h + n]


SIGNATURE_ALGORITHMS = {
    ("ec", "sha1"): bytes.fromhex("300906072a8648ce3d0401"),
    ("ec", "sha256"): bytes.fromhex("300a06082a8648ce3d040302"),
    ("rsa", "sha1"): bytes.fromhex("300d06092a864886f70d0101050500"),
    ("rsa", "sha256"): bytes.fromhex("300d06092a864886f70d01010b0500"),
}


def resign_der(der, signer, edit, digest, inner_index):
    """Signs the TBS of `der` after edit(TBS children); with `digest` SHA-1 both algorithm
    identifiers are rewritten."""
    outer = children(content(der))
    tbs_children = edit(children(content(outer[0])))
    alg = outer[1]
    if isinstance(digest, hashes.SHA1):
        alg = SIGNATURE_ALGORITHMS[("rsa" if isinstance(signer, rsa.RSAPrivateKey) else "ec", "sha1")]
        tbs_children[inner_index] = alg
    tbs = encode(0x30, b"".join(tbs_children))
    if isinstance(signer, rsa.RSAPrivateKey):
        sig = signer.sign(tbs, padding.PKCS1v15(), digest)
    else:
        sig = signer.sign(tbs, ec.ECDSA(digest))
    return encode(0x30, tbs + alg + encode(0x03, b"\x00" + sig))


def resign(c, issuer_key, edit, digest=hashes.SHA256()):
    """Re-signs `c` after edit(list of TBS children) -> list of TBS children."""
    new = resign_der(c.der, issuer_key, edit, digest, 2)
    try:
        parsed = x509.load_der_x509_certificate(new)
    except Exception:
        parsed = c.cert   # malformed on purpose: keep the original's parsed fields for names
    return Cert(parsed, c.key, der=new)


def with_serial(raw):
    return lambda ch: [ch[0], encode(0x02, raw)] + ch[2:]


def with_validity(nb_tlv, na_tlv):
    return lambda ch: ch[:4] + [encode(0x30, nb_tlv + na_tlv)] + ch[5:]


def utc(s):
    return encode(0x17, s.encode())


def gen(s):
    return encode(0x18, s.encode())


def duplicate_extension(index):
    """Appends a copy of extension `index` (of the [3] extensions)."""
    def edit(ch):
        exts = children(content(content(ch[-1])))
        exts.append(exts[index])
        return ch[:-1] + [encode(0xA3, encode(0x30, b"".join(exts)))]
    return edit


def as_version(v):
    def edit(ch):
        if v == 1:
            return ch[1:]                       # v1: the [0] version field is absent
        return [encode(0xA0, encode(0x02, bytes([v - 1])))] + ch[1:]
    return edit


def with_inner_algorithm(alg_der):
    return lambda ch: ch[:2] + [alg_der] + ch[3:]


def ext_index(c, oid):
    for i, e in enumerate(c.cert.extensions):
        if e.oid == oid:
            return i
    raise KeyError(oid)


# ---- CRLs ----------------------------------------------------------------------------------

def crl(issuer, revoked=(), last=None, next_=None, digest=hashes.SHA256(), sign_key=None, extensions=(), entry_extensions=(),
        aki=True, crl_number=True):
    b = x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
    b = b.last_update(last or TIME - dt.timedelta(days=1)).next_update(next_ or TIME + dt.timedelta(days=7))
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    if crl_number:
        b = b.add_extension(x509.CRLNumber(1), critical=False)
    for ext, crit in extensions:
        b = b.add_extension(ext, critical=crit)
    for c in revoked:
        r = x509.RevokedCertificateBuilder().serial_number(c.cert.serial_number).revocation_date(TIME - dt.timedelta(days=2))
        for ext, crit in entry_extensions:
            r = r.add_extension(ext, critical=crit)
        b = b.add_revoked_certificate(r.build())
    signer = sign_key or issuer.key
    if isinstance(digest, hashes.SHA1):
        der = b.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return CRL(resign_der(der, signer, lambda ch: ch, digest, 1))
    return CRL(b.sign(signer, digest).public_bytes(serialization.Encoding.DER))


# ---- cases -----------------------------------------------------------------------------------

CASES = []


def case(name_, category, expect, cite, leaf_, untrusted=(), roots=(), crls=(), host=HOST, note=""):
    CASES.append(dict(name=name_, category=category, expect=expect, cite=cite, leaf=leaf_, untrusted=list(untrusted),
                      roots=list(roots), crls=list(crls), host=host, note=note))


def chain(**leaf_kw):
    r = root()
    i = inter("Corpus Intermediate", r)
    return r, i, leaf(i, **leaf_kw)


def build():
    ok, bad = "valid", "invalid"

    # -- RFC 5280 6.1: path building and signatures ---------------------------------------------
    cat = "path"
    r, i, l = chain()
    case("good-chain", cat, ok, "RFC 5280 6.1", l, [i], [r])
    case("good-direct", cat, ok, "RFC 5280 6.1", leaf(r), [], [r])
    r2 = root("Other Root")
    case("untrusted-root", cat, bad, "RFC 5280 6.1 (path must end at a trust anchor)", l, [i, r], [r2])
    case("missing-intermediate", cat, bad, "RFC 5280 6.1 (no path to the anchor)", l, [], [r])
    case("bad-leaf-signature", cat, bad, "RFC 5280 6.1.3 (a)(1)", make(HOST, key("leaf"), i, sign_key=key("evil")), [i], [r])
    case("bad-intermediate-signature", cat, bad, "RFC 5280 6.1.3 (a)(1)",
         leaf(inter("Corpus Intermediate", r, sign_key=key("evil"))), [inter("Corpus Intermediate", r, sign_key=key("evil"))], [r])
    ib = inter("Corpus Intermediate", r, sign_key=key("evil"))
    case("bad-intermediate-signature-2", cat, bad, "RFC 5280 6.1.3 (a)(1)", leaf(ib), [ib], [r])
    case("issuer-name-mismatch", cat, bad, "RFC 5280 6.1.3 (a)(4)",
         make(HOST, key("leaf"), i, issuer_name=name("Someone Else")), [i], [r])
    selfsigned = make(HOST, key("leaf"), None, aki=False)
    case("self-signed-leaf-untrusted", cat, bad, "RFC 5280 6.1 (no trust anchor)", selfsigned, [], [r])
    i2 = inter("Corpus Intermediate 2", i)
    i3 = inter("Corpus Intermediate 3", i2)
    case("three-intermediates", cat, ok, "RFC 5280 6.1", leaf(i3), [i, i2, i3], [r])
    case("three-intermediates-shuffled", cat, ok, "RFC 5280 6.1 (order of untrusted certificates is free)", leaf(i3), [i3, i, i2], [r])
    case("three-intermediates-one-missing", cat, bad, "RFC 5280 6.1", leaf(i3), [i, i3], [r])
    case("extra-unrelated-intermediates", cat, ok, "RFC 5280 6.1", l, [inter("Unrelated", r2), i, inter("Unrelated 2", r2)], [r])
    case("duplicate-intermediate", cat, ok, "RFC 5280 6.1", l, [i, i], [r])
    case("two-roots-one-right", cat, ok, "RFC 5280 6.1", l, [i], [r2, r])
    # A loop of two cross-signed CAs that reaches no anchor.
    ka, kb = key("loop-a"), key("loop-b")
    la = make("Loop A", ka, None, ca=True, aki=False)
    lb = make("Loop B", kb, la, ca=True)
    la2 = make("Loop A", ka, lb, ca=True)
    case("path-loop", cat, bad, "RFC 5280 6.1 (no path to the anchor)", leaf(la2), [lb, la2], [r])
    # Cross-signed intermediate: two paths, one to the anchor.
    cross = make("Corpus Intermediate", key("inter-Corpus Intermediate"), r2, ca=True)
    case("cross-signed-one-path-trusted", cat, ok, "RFC 5280 6.1 (any valid path)", l, [cross, i], [r])
    case("cross-signed-only-untrusted-path", cat, bad, "RFC 5280 6.1", l, [cross], [r])
    rx = root("Expired Root", nb=TIME - dt.timedelta(days=4000), na=TIME - dt.timedelta(days=1))
    ix = inter("Corpus Intermediate", rx)
    case("expired-trust-anchor", cat, ok, "RFC 5280 6.1.1 (d) (trust anchor information has no validity period)", leaf(ix), [ix], [rx],
         note="OpenSSL checks the anchor's validity; so does netstack (a store's expired root is not trusted)")
    case("anchor-is-intermediate-no-partial", cat, bad, "RFC 5280 6.1 (anchor given: the root; intermediate untrusted)", l, [], [i])

    # -- validity (RFC 5280 4.1.2.5, 6.1.3 (a)(2)) ---------------------------------------------
    cat = "validity"
    r = root()
    i = inter("Corpus Intermediate", r)
    case("at-notBefore", cat, ok, "RFC 5280 4.1.2.5 (notBefore through notAfter, inclusive)", leaf(i, nb=TIME, na=TIME + dt.timedelta(days=90)), [i], [r])
    case("one-second-before-notBefore", cat, bad, "RFC 5280 6.1.3 (a)(2)", leaf(i, nb=TIME + dt.timedelta(seconds=1)), [i], [r])
    case("at-notAfter", cat, ok, "RFC 5280 4.1.2.5 (notBefore through notAfter, inclusive)", leaf(i, na=TIME), [i], [r])
    case("one-second-after-notAfter", cat, bad, "RFC 5280 6.1.3 (a)(2)", leaf(i, na=TIME - dt.timedelta(seconds=1)), [i], [r])
    case("expired-leaf", cat, bad, "RFC 5280 6.1.3 (a)(2)", leaf(i, nb=TIME - dt.timedelta(days=200), na=TIME - dt.timedelta(days=10)), [i], [r])
    case("not-yet-valid-leaf", cat, bad, "RFC 5280 6.1.3 (a)(2)", leaf(i, nb=TIME + dt.timedelta(days=1), na=TIME + dt.timedelta(days=60)), [i], [r])
    ie = inter("Corpus Intermediate", r, nb=TIME - dt.timedelta(days=400), na=TIME - dt.timedelta(days=1))
    case("expired-intermediate", cat, bad, "RFC 5280 6.1.3 (a)(2)", leaf(ie), [ie], [r])
    iy = inter("Corpus Intermediate", r, nb=TIME + dt.timedelta(days=1))
    case("not-yet-valid-intermediate", cat, bad, "RFC 5280 6.1.3 (a)(2)", leaf(iy), [iy], [r])
    case("intermediate-at-notAfter", cat, ok, "RFC 5280 4.1.2.5 (inclusive)", leaf(inter("Corpus Intermediate", r, na=TIME), na=TIME), [inter("Corpus Intermediate", r, na=TIME)], [r])
    ia = inter("Corpus Intermediate", r, na=TIME)
    case("intermediate-at-notAfter-2", cat, ok, "RFC 5280 4.1.2.5 (inclusive)", leaf(ia, na=TIME), [ia], [r])
    base = leaf(i)
    case("generalized-time-before-2050", cat, bad, "RFC 5280 4.1.2.5 (UTCTime through 2049)",
         resign(base, i.key, with_validity(gen("20260501000000Z"), utc("260830000000Z"))), [i], [r])
    case("utctime-without-seconds", cat, bad, "RFC 5280 4.1.2.5.1 (seconds MUST be present)",
         resign(base, i.key, with_validity(utc("2605010000Z"), utc("260830000000Z"))), [i], [r])
    case("utctime-with-offset", cat, bad, "RFC 5280 4.1.2.5.1 (MUST be Zulu)",
         resign(base, i.key, with_validity(utc("260501000000+0000"), utc("260830000000Z"))), [i], [r])
    case("generalized-time-fraction", cat, bad, "RFC 5280 4.1.2.5.2 (MUST NOT include fractional seconds)",
         resign(base, i.key, with_validity(utc("260501000000Z"), gen("20500101000000.5Z"))), [i], [r])
    case("utctime-proper", cat, ok, "RFC 5280 4.1.2.5.1",
         resign(base, i.key, with_validity(utc("260501000000Z"), utc("260830000000Z"))), [i], [r])
    case("utctime-year-50-is-1950", cat, bad, "RFC 5280 4.1.2.5.1 (YY >= 50 is 19YY): expired in 1950",
         resign(base, i.key, with_validity(utc("260501000000Z"), utc("500101000000Z"))), [i], [r])
    case("notBefore-after-notAfter", cat, bad, "RFC 5280 4.1.2.5",
         resign(base, i.key, with_validity(utc("260501000000Z"), utc("260401000000Z"))), [i], [r])
    i99 = inter("Corpus Intermediate", r, na=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc))
    case("intermediate-no-well-defined-expiry", cat, ok, "RFC 5280 4.1.2.5 (99991231235959Z)", leaf(i99), [i99], [r])
    case("leaf-398-days", cat, ok, "BR 6.3.2 (at most 398 days)",
         leaf(i, nb=TIME - dt.timedelta(days=10), na=TIME - dt.timedelta(days=10) + dt.timedelta(days=398) - dt.timedelta(seconds=1)), [i], [r])
    case("leaf-399-days", cat, bad, "BR 6.3.2 (at most 398 days)",
         leaf(i, nb=TIME - dt.timedelta(days=10), na=TIME - dt.timedelta(days=10) + dt.timedelta(days=399)), [i], [r])
    case("leaf-five-years", cat, bad, "BR 6.3.2", leaf(i, nb=TIME - dt.timedelta(days=10), na=TIME + dt.timedelta(days=1800)), [i], [r])

    # -- basic constraints (RFC 5280 4.2.1.9, 6.1.4 (k)(l)(m)) ------------------------------------
    cat = "basic-constraints"
    r = root()
    inb = inter("Corpus Intermediate", r, bc=False)
    case("intermediate-without-bc", cat, bad, "RFC 5280 6.1.4 (k)", leaf(inb), [inb], [r])
    inf = inter("Corpus Intermediate", r, ca=False, ku="ca") if False else make("Corpus Intermediate", key("inter-Corpus Intermediate"), r, ca=False, ku="ca", eku=None, san=None)
    case("intermediate-ca-false", cat, bad, "RFC 5280 6.1.4 (k)", leaf(inf), [inf], [r])
    inc = inter("Corpus Intermediate", r, bc_critical=False)
    case("intermediate-bc-not-critical", cat, bad, "RFC 5280 4.2.1.9 (MUST be critical in CA certificates)", leaf(inc), [inc], [r])
    i = inter("Corpus Intermediate", r)
    case("leaf-ca-true", cat, bad, "BR 7.1.2.7.8; RFC 5280 4.2.1.9", leaf(i, ca=True, ku="ec"), [i], [r])
    case("leaf-ca-false-critical", cat, ok, "RFC 5280 4.2.1.9", leaf(i), [i], [r])
    case("leaf-without-bc", cat, ok, "RFC 5280 4.2.1.9 (MAY appear in end entities)", leaf(i, bc=False), [i], [r])
    i0 = inter("Corpus Intermediate", r, pathlen=0)
    case("pathlen-0-signs-leaf", cat, ok, "RFC 5280 4.2.1.9", leaf(i0), [i0], [r])
    i0b = inter("Corpus Intermediate 2", i0)
    case("pathlen-0-signs-ca", cat, bad, "RFC 5280 6.1.4 (l)", leaf(i0b), [i0, i0b], [r])
    i1 = inter("Corpus Intermediate", r, pathlen=1)
    i1b = inter("Corpus Intermediate 2", i1)
    case("pathlen-1-two-levels", cat, ok, "RFC 5280 6.1.4 (l)", leaf(i1b), [i1, i1b], [r])
    i1c = inter("Corpus Intermediate 3", i1b)
    case("pathlen-1-three-levels", cat, bad, "RFC 5280 6.1.4 (l)", leaf(i1c), [i1, i1b, i1c], [r])
    case("pathlen-in-leaf", cat, bad, "RFC 5280 4.2.1.9 (pathLenConstraint only with cA)",
         make(HOST, key("leaf"), i, ca=False, pathlen=None, bc=False,
              extra=[(x509.UnrecognizedExtension(x509.oid.ExtensionOID.BASIC_CONSTRAINTS, bytes.fromhex("3003020100")), True)]), [i], [r])
    ipk = inter("Corpus Intermediate", r, pathlen=0, ku=["digital_signature", "crl_sign"])
    case("pathlen-without-keycertsign", cat, bad, "RFC 5280 4.2.1.9 and 4.2.1.3", leaf(ipk), [ipk], [r])
    ipz = inter("Corpus Intermediate", r, pathlen=0)
    case("pathlen-0-intermediate-then-leaf", cat, ok, "RFC 5280 6.1.4 (l)", leaf(ipz, cn="a.example.com", san=[x509.DNSName("a.example.com")]), [ipz], [r], host="a.example.com")

    # -- key usage (RFC 5280 4.2.1.3, BR 7.1.2.7.11) ---------------------------------------------
    cat = "key-usage"
    r = root()
    ik = inter("Corpus Intermediate", r, ku=["digital_signature", "crl_sign"])
    case("intermediate-without-keycertsign", cat, bad, "RFC 5280 6.1.4 (n)", leaf(ik), [ik], [r])
    inu = inter("Corpus Intermediate", r, ku=None)
    case("intermediate-without-ku", cat, bad, "RFC 5280 4.2.1.3 (MUST be present in CA certificates)", leaf(inu), [inu], [r])
    i = inter("Corpus Intermediate", r)
    case("leaf-keycertsign", cat, bad, "RFC 5280 4.2.1.3 (keyCertSign only with cA)", leaf(i, ku=["digital_signature", "key_cert_sign"]), [i], [r])
    case("leaf-crlsign", cat, bad, "BR 7.1.2.7.11", leaf(i, ku=["digital_signature", "crl_sign"]), [i], [r])
    case("leaf-ku-empty", cat, bad, "RFC 5280 4.2.1.3 (at least one bit MUST be set)", leaf(i, ku="none"), [i], [r])
    case("ec-leaf-keyencipherment", cat, bad, "BR 7.1.2.7.11 (EC: no keyEncipherment)", leaf(i, ku=["digital_signature", "key_encipherment"]), [i], [r])
    case("ec-leaf-digitalsignature", cat, ok, "BR 7.1.2.7.11", leaf(i), [i], [r])
    case("ec-leaf-keyagreement", cat, ok, "BR 7.1.2.7.11 (keyAgreement MAY)", leaf(i, ku=["digital_signature", "key_agreement"]), [i], [r])
    case("rsa-leaf-ds-ke", cat, ok, "BR 7.1.2.7.11", leaf(i, kind="rsa2048", ku="rsa"), [i], [r])
    case("rsa-leaf-ke-only", cat, ok, "BR 7.1.2.7.11", leaf(i, kind="rsa2048", ku=["key_encipherment"]), [i], [r])
    case("rsa-leaf-data-encipherment-only", cat, bad, "BR 7.1.2.7.11", leaf(i, kind="rsa2048", ku=["data_encipherment"]), [i], [r])
    case("leaf-without-ku", cat, ok, "RFC 5280 4.2.1.3 (optional in end entities)", leaf(i, ku=None), [i], [r])
    case("leaf-ku-not-critical", cat, ok, "RFC 5280 4.2.1.3 (SHOULD be critical)", leaf(i, ku_critical=False), [i], [r])
    ikn = inter("Corpus Intermediate", r, ku_critical=False)
    case("intermediate-ku-not-critical", cat, ok, "RFC 5280 4.2.1.3 (SHOULD be critical)", leaf(ikn), [ikn], [r])

    # -- extended key usage (RFC 5280 4.2.1.12, BR 7.1.2.7.10) -----------------------------------
    cat = "extended-key-usage"
    case("eku-serverauth", cat, ok, "BR 7.1.2.7.10", leaf(i), [i], [r])
    case("eku-server-and-client", cat, ok, "BR 7.1.2.7.10", leaf(i, eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), [i], [r])
    case("eku-clientauth-only", cat, bad, "RFC 5280 4.2.1.12", leaf(i, eku=[ExtendedKeyUsageOID.CLIENT_AUTH]), [i], [r])
    case("eku-codesigning", cat, bad, "RFC 5280 4.2.1.12", leaf(i, eku=[ExtendedKeyUsageOID.CODE_SIGNING]), [i], [r])
    case("eku-absent", cat, bad, "BR 7.1.2.7.10 (extKeyUsage MUST be present)", leaf(i, eku=None), [i], [r])
    case("eku-any-and-server", cat, bad, "BR 7.1.2.7.10 (anyExtendedKeyUsage MUST NOT)", leaf(i, eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]), [i], [r])
    case("eku-any-only", cat, bad, "BR 7.1.2.7.10", leaf(i, eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]), [i], [r])
    iec = inter("Corpus Intermediate", r, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    case("intermediate-eku-client-only", cat, bad, "BR 7.1.2.10.6 (a CA's EKU restricts what it issues)", leaf(iec), [iec], [r])
    ies = inter("Corpus Intermediate", r, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    case("intermediate-eku-server", cat, ok, "BR 7.1.2.10.6", leaf(ies), [ies], [r])
    re_ = root("EKU Root", eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    case("root-with-eku", cat, bad, "BR 7.1.2.1.2 (extKeyUsage MUST NOT be present in a root)", leaf(i5 := inter("Corpus Intermediate", re_)), [i5], [re_])
    case("eku-critical", cat, bad, "BR 7.1.2.7.6 (extKeyUsage in a subscriber certificate MUST NOT be critical)",
         leaf(i, eku=None, extra=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), True)]), [i], [r])
    case("eku-email-protection-only", cat, bad, "RFC 5280 4.2.1.12", leaf(i, eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION]), [i], [r])

    # -- subject alternative names and host names (RFC 6125 6.4, RFC 5280 4.2.1.6, BR 7.1.4) -------
    cat = "names"
    case("host-in-san", cat, ok, "RFC 6125 6.4.1", leaf(i), [i], [r])
    case("host-case-insensitive", cat, ok, "RFC 6125 6.4.1 (case-insensitive)", leaf(i), [i], [r], host="WWW.Example.COM")
    wl = leaf(i, cn="*.example.com", san=[x509.DNSName("*.example.com")])
    case("wildcard-matches-one-label", cat, ok, "RFC 6125 6.4.3", wl, [i], [r], host="a.example.com")
    case("wildcard-not-two-labels", cat, bad, "RFC 6125 6.4.3", wl, [i], [r], host="b.a.example.com")
    case("wildcard-not-bare-domain", cat, bad, "RFC 6125 6.4.3", wl, [i], [r], host="example.com")
    case("partial-wildcard", cat, bad, "BR 7.1.2.7.12 (wildcard only as the whole leftmost label)",
         leaf(i, cn=None, san=[x509.DNSName("w*.example.com")]), [i], [r], host="www.example.com")
    case("wildcard-not-leftmost", cat, bad, "RFC 6125 6.4.3", leaf(i, cn=None, san=[x509.DNSName("www.*.com")]), [i], [r], host="www.example.com")
    case("host-only-in-cn-with-dns-san", cat, bad, "RFC 6125 6.4.4 (no CN once a DNS-ID exists)",
         leaf(i, cn="www.example.com", san=[x509.DNSName("other.example.com")]), [i], [r])
    case("host-only-in-cn-with-ip-san", cat, bad, "RFC 6125 6.4.4 (no CN once a SAN exists)",
         leaf(i, cn="www.example.com", san=[x509.IPAddress(ipaddress.ip_address("192.0.2.1"))]), [i], [r])
    case("host-only-in-cn-no-san", cat, bad, "BR 7.1.2.7.12 (subjectAltName MUST be present)", leaf(i, san=None), [i], [r])
    case("cn-not-in-san", cat, bad, "BR 7.1.4.3 (CN MUST be one of the SAN values)",
         leaf(i, cn="other.example.com", san=[x509.DNSName("www.example.com")]), [i], [r])
    cite = "BR 7.1.4.3 (a CN is a character-for-character copy of a SAN; IPv4 per RFC 3986 3.2.2, IPv6 per RFC 5952 4)"
    case("cn-differs-from-san-in-case", cat, bad, cite, leaf(i, cn="WWW.example.com", san=[x509.DNSName("www.example.com")]), [i], [r])
    case("cn-ipv4-copy-of-ip-san", cat, ok, cite,
         leaf(i, cn="192.0.2.7", san=[x509.IPAddress(ipaddress.ip_address("192.0.2.7"))]), [i], [r], host="ip:192.0.2.7")
    case("cn-ipv4-with-leading-zeros", cat, bad, cite,
         leaf(i, cn="192.0.2.007", san=[x509.IPAddress(ipaddress.ip_address("192.0.2.7"))]), [i], [r], host="ip:192.0.2.7")
    for label, text, expect_ in [("rfc5952", "2001:db8::7", ok), ("uppercase", "2001:DB8::7", bad),
                                 ("uncompressed", "2001:db8:0:0:0:0:0:7", bad), ("leading-zeros", "2001:0db8::7", bad),
                                 ("shorter-run-compressed", "2001:db8::1:0:0:0:7", bad), ("single-zero-group-compressed", "2001:db8::1:1:1:1:7", bad)]:
        address = "2001:db8:0:1:0:0:0:7" if "run" in label else "2001:db8:0:1:1:1:1:7" if "single" in label else "2001:db8::7"
        case("cn-ipv6-" + label, cat, expect_, cite,
             leaf(i, cn=text, san=[x509.IPAddress(ipaddress.ip_address(address))]), [i], [r], host="ip:" + address)
    case("no-cn-san-only", cat, ok, "BR 7.1.4.3 (CN optional)", leaf(i, cn=None, san=[x509.DNSName(HOST)]), [i], [r])
    case("ip-in-ip-san", cat, ok, "RFC 6125; RFC 5280 4.2.1.6",
         leaf(i, cn=None, san=[x509.IPAddress(ipaddress.ip_address("192.0.2.7"))]), [i], [r], host="ip:192.0.2.7")
    case("ip-as-dns-san", cat, bad, "RFC 6125 (an IP address is matched against iPAddress only)",
         leaf(i, cn=None, san=[x509.DNSName("192.0.2.7")]), [i], [r], host="ip:192.0.2.7")
    case("ipv6-in-ip-san", cat, ok, "RFC 5280 4.2.1.6",
         leaf(i, cn=None, san=[x509.IPAddress(ipaddress.ip_address("2001:db8::7"))]), [i], [r], host="ip:2001:db8::7")
    case("ip-mismatch", cat, bad, "RFC 5280 4.2.1.6",
         leaf(i, cn=None, san=[x509.IPAddress(ipaddress.ip_address("192.0.2.7"))]), [i], [r], host="ip:192.0.2.8")
    case("many-sans-match-last", cat, ok, "RFC 6125 6.4.1",
         leaf(i, cn=None, san=[x509.DNSName("h%d.example.com" % n) for n in range(50)] + [x509.DNSName(HOST)]), [i], [r])
    case("empty-subject-san-critical", cat, ok, "RFC 5280 4.2.1.6 (empty subject: SAN critical)",
         make(x509.Name([]), key("leaf"), i, san=[x509.DNSName(HOST)], san_critical=True), [i], [r])
    case("empty-subject-san-not-critical", cat, bad, "RFC 5280 4.2.1.6 (empty subject: SAN MUST be critical)",
         make(x509.Name([]), key("leaf"), i, san=[x509.DNSName(HOST)], san_critical=False), [i], [r])
    case("host-mismatch", cat, bad, "RFC 6125 6.4.1", leaf(i), [i], [r], host="other.example.org")
    cite = "RFC 5280 4.2.1.6 (an rfc822Name is an RFC 5321 4.1.2 Mailbox)"
    for label, mailbox, expect_ in [("plain", "user@example.com", ok), ("dots-and-plus", "first.last+tag@mail.example.com", ok),
                                    ("quoted-local-part", '"odd person"@example.com', ok), ("address-literal", "user@[192.0.2.7]", ok),
                                    ("two-at-signs", "invalid@address@example.com", bad), ("no-local-part", "@example.com", bad),
                                    ("double-dot", "first..last@example.com", bad), ("no-domain", "user@", bad),
                                    ("space", "user name@example.com", bad), ("bad-domain", "user@exa_mple.com", bad)]:
        # Built by hand: the library refuses malformed mailboxes.
        san_der = encode(0x30, encode(0x82, HOST.encode()) + encode(0x81, mailbox.encode()))
        case("email-san-" + label, cat, expect_, cite,
             leaf(i, san=None, extra=[(x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, san_der), False)]), [i], [r])

    # -- name constraints (RFC 5280 4.2.1.10, 6.1.4 (g)) ------------------------------------------
    cat = "name-constraints"
    def nci(permitted=None, excluded=None, critical=True, cn="Constrained Intermediate", issuer=None):
        return inter(cn, issuer or r, nc=x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded), nc_critical=critical)
    ip_ = nci([x509.DNSName("example.com")])
    case("nc-permitted-dns-inside", cat, ok, "RFC 5280 4.2.1.10", leaf(ip_), [ip_], [r])
    case("nc-permitted-dns-outside", cat, bad, "RFC 5280 6.1.3 (b)",
         leaf(ip_, cn="www.evil.org", san=[x509.DNSName("www.evil.org")]), [ip_], [r], host="www.evil.org")
    case("nc-permitted-dns-second-san-outside", cat, bad, "RFC 5280 6.1.3 (b) (every name)",
         leaf(ip_, cn=None, san=[x509.DNSName(HOST), x509.DNSName("www.evil.org")]), [ip_], [r])
    case("nc-permitted-dns-exact-domain", cat, ok, "RFC 5280 4.2.1.10 (the domain itself)",
         leaf(ip_, cn="example.com", san=[x509.DNSName("example.com")]), [ip_], [r], host="example.com")
    case("nc-permitted-dns-suffix-not-label", cat, bad, "RFC 5280 4.2.1.10 (label boundaries)",
         leaf(ip_, cn="www.badexample.com", san=[x509.DNSName("www.badexample.com")]), [ip_], [r], host="www.badexample.com")
    ie_ = nci(None, [x509.DNSName("evil.example.com")])
    case("nc-excluded-dns-hit", cat, bad, "RFC 5280 6.1.3 (b)",
         leaf(ie_, cn="www.evil.example.com", san=[x509.DNSName("www.evil.example.com")]), [ie_], [r], host="www.evil.example.com")
    case("nc-excluded-dns-miss", cat, ok, "RFC 5280 6.1.3 (b)", leaf(ie_), [ie_], [r])
    case("nc-cn-outside-no-san", cat, bad, "RFC 5280 6.1.3 (b); a CN used as a host name is a DNS name",
         leaf(ip_, cn="www.evil.org", san=None), [ip_], [r], host="www.evil.org")
    case("nc-cn-outside-san-inside", cat, bad, "BR 7.1.4.3 (the CN names a host outside the constraints)",
         leaf(ip_, cn="www.evil.org", san=[x509.DNSName(HOST)]), [ip_], [r])
    iip = nci([x509.IPAddress(ipaddress.ip_network("192.0.2.0/24"))])
    case("nc-permitted-ip-inside", cat, ok, "RFC 5280 4.2.1.10",
         leaf(iip, cn=None, san=[x509.IPAddress(ipaddress.ip_address("192.0.2.9"))]), [iip], [r], host="ip:192.0.2.9")
    case("nc-permitted-ip-outside", cat, bad, "RFC 5280 6.1.3 (b)",
         leaf(iip, cn=None, san=[x509.IPAddress(ipaddress.ip_address("198.51.100.9"))]), [iip], [r], host="ip:198.51.100.9")
    idn = nci([x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Good")]))])
    case("nc-directory-name-inside", cat, ok, "RFC 5280 4.2.1.10",
         make(name(HOST, o="Good"), key("leaf"), idn, san=[x509.DNSName(HOST)]), [idn], [r])
    case("nc-directory-name-outside", cat, bad, "RFC 5280 6.1.3 (b)",
         make(name(HOST, o="Evil"), key("leaf"), idn, san=[x509.DNSName(HOST)]), [idn], [r])
    inc_ = nci([x509.DNSName("example.com")], critical=False)
    case("nc-not-critical", cat, bad, "RFC 5280 4.2.1.10 (MUST be critical)", leaf(inc_), [inc_], [r])
    case("nc-in-leaf", cat, bad, "RFC 5280 4.2.1.10 (only in CA certificates); BR 7.1.2.7.6",
         leaf(i, nc=x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None)), [i], [r])
    inner = nci([x509.DNSName("www.example.com")], cn="Inner Constrained", issuer=ip_)
    case("nc-nested-inside-both", cat, ok, "RFC 5280 6.1.4 (g)", leaf(inner), [ip_, inner], [r])
    case("nc-nested-outside-inner", cat, bad, "RFC 5280 6.1.4 (g)",
         leaf(inner, cn="mail.example.com", san=[x509.DNSName("mail.example.com")]), [ip_, inner], [r], host="mail.example.com")
    iem = nci([x509.RFC822Name("example.com")])
    case("nc-email-outside", cat, bad, "RFC 5280 6.1.3 (b)",
         leaf(iem, cn=None, san=[x509.DNSName(HOST), x509.RFC822Name("user@evil.org")]), [iem], [r])
    # Excluded subtree on the subordinate CA's own subject (directoryName).
    iex = nci(None, [x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evil")]))])
    sub = make(name("Sub CA", o="Evil"), key("inter-sub"), iex, ca=True)
    case("nc-excluded-directory-on-subordinate", cat, bad, "RFC 5280 6.1.3 (b) (applies to later CA subjects too)", leaf(sub), [iex, sub], [r])
    # Pathological: many constraints times many names.
    big_nc = nci([x509.DNSName("n%d.example.com" % n) for n in range(1100)], cn="Many Constraints")
    many = leaf(big_nc, cn=None, san=[x509.DNSName("h%d.n%d.example.com" % (n, n)) for n in range(1000)] + [x509.DNSName(HOST)])
    case("nc-explosion", cat, bad, "documented budget: 2^20 name x constraint comparisons per certificate", many, [big_nc], [r])

    # -- key identifiers (RFC 5280 4.2.1.1, 4.2.1.2) ---------------------------------------------
    cat = "key-identifiers"
    iski = inter("Corpus Intermediate", r, ski=False)
    case("intermediate-without-ski", cat, bad, "RFC 5280 4.2.1.2 (MUST appear in CA certificates)", leaf(iski), [iski], [r])
    case("leaf-without-aki", cat, bad, "RFC 5280 4.2.1.1 (MUST be included)", leaf(i, aki=False), [i], [r])
    case("leaf-aki-critical", cat, bad, "RFC 5280 4.2.1.1 (MUST be non-critical)", leaf(i, aki_critical=True), [i], [r])
    case("leaf-ski-critical", cat, bad, "RFC 5280 4.2.1.2 (MUST be non-critical)", leaf(i, ski_critical=True), [i], [r])
    case("leaf-without-ski", cat, ok, "RFC 5280 4.2.1.2 (SHOULD in end entities)", leaf(i, ski=False), [i], [r])
    wrong_aki = x509.AuthorityKeyIdentifier(key_identifier=b"\x01" * 20, authority_cert_issuer=None, authority_cert_serial_number=None)
    case("leaf-aki-mismatch", cat, bad, "RFC 5280 4.2.1.1 (identifies the issuer's key)", leaf(i, aki=False, extra=[(wrong_aki, False)]), [i], [r])
    iaki = inter("Corpus Intermediate", r, aki=False)
    case("intermediate-without-aki", cat, bad, "RFC 5280 4.2.1.1", leaf(iaki), [iaki], [r])
    def full_aki(of):
        """An authority key identifier naming `of` three ways: its key, its issuer and its serial."""
        return x509.AuthorityKeyIdentifier(
            key_identifier=x509.SubjectKeyIdentifier.from_public_key(of.key.public_key()).digest,
            authority_cert_issuer=[x509.DirectoryName(of.cert.issuer)], authority_cert_serial_number=of.cert.serial_number)
    cite = "BR 7.1.2.11.1 (authorityCertIssuer and authorityCertSerialNumber MUST NOT be present)"
    case("leaf-aki-with-issuer-and-serial", cat, bad, cite, leaf(i, aki=False, extra=[(full_aki(i), False)]), [i], [r])
    ifa = inter("Corpus Intermediate", r, aki=False, extra=[(full_aki(r), False)])
    case("intermediate-aki-with-issuer-and-serial", cat, bad, cite, leaf(ifa), [ifa], [r])
    case("root-names-other-issuer-in-aki", cat, bad, "RFC 5280 4.2.1.1: a root whose AKI names another key is not self-issued (OpenSSL: issuer not found)",
         leaf(inter("Corpus Intermediate", ra := make("Odd Root", key("odd-root"), None, ca=True, aki=False, extra=[(wrong_aki, False)]))),
         [inter("Corpus Intermediate", ra)], [ra])

    # -- certificate structure (RFC 5280 4.1, 4.2) -------------------------------------------------
    cat = "structure"
    base = leaf(i)
    case("serial-zero", cat, bad, "RFC 5280 4.1.2.2 (positive)", resign(base, i.key, with_serial(b"\x00")), [i], [r])
    case("serial-negative", cat, bad, "RFC 5280 4.1.2.2 (positive)", resign(base, i.key, with_serial(b"\xff\x01")), [i], [r])
    case("serial-20-octets", cat, ok, "RFC 5280 4.1.2.2 (at most 20 octets)", resign(base, i.key, with_serial(b"\x7f" + b"\x11" * 19)), [i], [r])
    case("serial-21-octets", cat, bad, "RFC 5280 4.1.2.2 (at most 20 octets)", resign(base, i.key, with_serial(b"\x00\x80" + b"\x11" * 19)), [i], [r])
    case("serial-21-octets-positive", cat, bad, "RFC 5280 4.1.2.2", resign(base, i.key, with_serial(b"\x11" * 21)), [i], [r])
    unk = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    ud = leaf(i, extra=[(unk, False)])
    case("duplicate-unknown-extension", cat, bad, "RFC 5280 4.2 (one instance per extension)",
         resign(ud, i.key, duplicate_extension(ext_index(ud, unk.oid))), [i], [r])
    case("duplicate-san", cat, bad, "RFC 5280 4.2", resign(base, i.key, duplicate_extension(ext_index(base, x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME))), [i], [r])
    case("duplicate-bc", cat, bad, "RFC 5280 4.2", resign(base, i.key, duplicate_extension(ext_index(base, x509.oid.ExtensionOID.BASIC_CONSTRAINTS))), [i], [r])
    case("unknown-critical-extension", cat, bad, "RFC 5280 4.2 (unrecognised critical: reject)", leaf(i, extra=[(unk, True)]), [i], [r])
    case("unknown-non-critical-extension", cat, ok, "RFC 5280 4.2 (unrecognised non-critical: ignore)", ud, [i], [r])
    case("v1-leaf-with-extensions", cat, bad, "RFC 5280 4.1.2.1 (extensions need v3)", resign(base, i.key, as_version(1)), [i], [r])
    case("v2-leaf-with-extensions", cat, bad, "RFC 5280 4.1.2.1 (extensions need v3)", resign(base, i.key, as_version(2)), [i], [r])
    sha384_ecdsa = bytes.fromhex("300a06082a8648ce3d040303")
    case("inner-outer-algorithm-mismatch", cat, bad, "RFC 5280 4.1.1.2 (signatureAlgorithm MUST equal TBS signature)",
         resign(base, i.key, with_inner_algorithm(sha384_ecdsa)), [i], [r])
    case("empty-issuer", cat, bad, "RFC 5280 4.1.2.4 (issuer MUST be non-empty)",
         make(HOST, key("leaf"), i, issuer_name=x509.Name([])), [i], [r])
    iv1 = resign(inter("Corpus Intermediate", r), r.key, lambda ch: as_version(1)(ch)[:-1])
    case("v1-intermediate", cat, bad, "RFC 5280 6.1.4 (k) (a v1 certificate cannot be a CA)", leaf(iv1), [iv1], [r])
    case("ca-unknown-critical-extension", cat, bad, "RFC 5280 4.2", leaf(iu := inter("Corpus Intermediate", r, extra=[(unk, True)])), [iu], [r])

    # -- extension contents (RFC 5280 4.2.1) -------------------------------------------------------------
    cat = "extension-content"
    E = x509.oid.ExtensionOID
    def raw(oid, der, critical=False):
        return (x509.UnrecognizedExtension(oid, der), critical)
    cite = "RFC 5280 4.2.2.1 (AuthorityInfoAccessSyntax SIZE (1..MAX)); BR 7.1.2.7.7"
    case("empty-aia", cat, bad, cite, leaf(i, extra=[raw(E.AUTHORITY_INFORMATION_ACCESS, b"\x30\x00")]), [i], [r])
    aia = (x509.AuthorityInformationAccess([x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                                                    x509.UniformResourceIdentifier("http://ca.example.com/i.der"))]), False)
    case("aia-ca-issuers", cat, ok, "RFC 5280 4.2.2.1", leaf(i, extra=[aia]), [i], [r])
    cite = "RFC 5280 4.2.1.10 (permittedSubtrees or excludedSubtrees MUST be present; GeneralSubtrees SIZE (1..MAX))"
    ine = inter("Corpus Intermediate", r, extra=[raw(E.NAME_CONSTRAINTS, b"\x30\x00", True)])
    case("nc-empty-sequence", cat, bad, cite, leaf(ine), [ine], [r])
    inp = inter("Corpus Intermediate", r, extra=[raw(E.NAME_CONSTRAINTS, b"\x30\x02\xa0\x00", True)])
    case("nc-empty-permitted-subtrees", cat, bad, cite, leaf(inp), [inp], [r])
    inn = inter("Corpus Intermediate", r, extra=[raw(E.NAME_CONSTRAINTS, b"\x30\x04\x05\x00\x05\x00", True)])
    case("nc-nulls", cat, bad, cite + "; it does not decode", leaf(inn), [inn], [r])
    case("empty-san-list", cat, bad, "RFC 5280 4.2.1.6 (GeneralNames SIZE (1..MAX))",
         leaf(i, cn=None, san=None, extra=[raw(E.SUBJECT_ALTERNATIVE_NAME, b"\x30\x00")]), [i], [r])
    case("undecodable-certificate-policies", cat, bad, "RFC 5280 4.2.1.4 (certificatePolicies is a SEQUENCE of PolicyInformation)",
         leaf(i, extra=[raw(E.CERTIFICATE_POLICIES, b"\x04\x00")]), [i], [r])
    cite = "RFC 5280 4.2.1.1 (keyIdentifier MUST be included)"
    by_name = x509.AuthorityKeyIdentifier(key_identifier=None, authority_cert_issuer=[x509.DirectoryName(r.cert.subject)],
                                          authority_cert_serial_number=r.cert.serial_number)
    ian = inter("Corpus Intermediate", r, aki=False, extra=[(by_name, False)])
    case("intermediate-aki-without-key-id", cat, bad, cite, leaf(ian), [ian], [r])
    self_aki = x509.AuthorityKeyIdentifier(key_identifier=None, authority_cert_issuer=[x509.DirectoryName(name("AKI Root"))],
                                           authority_cert_serial_number=12345)
    rak = make("AKI Root", key("aki-root"), None, ca=True, aki=False, serial=12345, extra=[(self_aki, False)])
    iak = inter("Corpus Intermediate", rak)
    case("root-aki-without-key-id", cat, bad, cite + " (checked in the trust anchor too)", leaf(iak), [iak], [rak])
    cite = "RFC 5280 4.2.1.11 and 4.2.1.14 (MUST be critical)"
    # (Without certificatePolicies beside: OpenSSL 3.0's own policy check would leak the decoded
    # policyConstraints; scripts/sanitize runs these cases.)
    ipn = inter("Policy Intermediate", r, extra=[(x509.PolicyConstraints(require_explicit_policy=None, inhibit_policy_mapping=0), False)])
    case("policy-constraints-non-critical", cat, bad, cite, leaf(ipn), [ipn], [r])
    ipc = inter("Policy Intermediate", r, extra=[(x509.PolicyConstraints(require_explicit_policy=None, inhibit_policy_mapping=0), True)])
    case("policy-constraints-critical", cat, ok, "RFC 5280 4.2.1.11", leaf(ipc), [ipc], [r])
    iin = inter("Policy Intermediate", r, extra=[(x509.InhibitAnyPolicy(1), False)])
    case("inhibit-any-policy-non-critical", cat, bad, cite, leaf(iin), [iin], [r])

    # -- algorithms and key strength (BR 6.1.5, 7.1.3; security level 2) --------------------------
    cat = "algorithms"
    case("rsa2048-leaf", cat, ok, "BR 6.1.5", leaf(i, kind="rsa2048", ku="rsa"), [i], [r])
    case("rsa3072-leaf", cat, ok, "BR 6.1.5", leaf(i, kind="rsa3072", ku="rsa"), [i], [r])
    case("rsa1024-leaf", cat, bad, "BR 6.1.5 (RSA at least 2048 bits)", leaf(i, kind="rsa1024", ku="rsa"), [i], [r])
    case("rsa1536-leaf", cat, bad, "BR 6.1.5", leaf(i, kind="rsa1536", ku="rsa"), [i], [r])
    ir1 = inter("Corpus Intermediate", r, kind="rsa1024")
    case("rsa1024-intermediate", cat, bad, "BR 6.1.5", leaf(ir1), [ir1], [r])
    ir2 = inter("Corpus Intermediate", r, kind="rsa2048")
    case("rsa2048-intermediate", cat, ok, "BR 6.1.5", leaf(ir2), [ir2], [r])
    case("ec384-leaf", cat, ok, "BR 6.1.5", leaf(i, kind="ec384"), [i], [r])
    case("ec521-leaf", cat, ok, "BR 6.1.5 (P-521 allowed)", leaf(i, kind="ec521"), [i], [r])
    cite = "BR 6.1.5, 7.1.3.1 (RSA of at least 2048 bits, a multiple of 8, or ECDSA P-256/P-384/P-521)"
    case("rsa2052-leaf", cat, bad, cite, leaf(i, kind="rsa2052", ku="rsa"), [i], [r])
    ir3 = inter("Corpus Intermediate", r, kind="rsa2052")
    case("rsa2052-intermediate", cat, bad, cite, leaf(ir3), [ir3], [r])
    case("secp256k1-leaf", cat, bad, cite, leaf(i, kind="k256"), [i], [r])
    r3 = root("RSA 2052 Root", kind="rsa2052")
    case("rsa2052-root", cat, bad, cite + " (the trust anchor too)", leaf(i3 := inter("Corpus Intermediate", r3)), [i3], [r3])
    rd = root("DSA Root", kind="dsa2048")
    case("dsa-root", cat, bad, cite + " (the trust anchor too)", leaf(i4 := inter("Corpus Intermediate", rd)), [i4], [rd])
    case("dsa-leaf", cat, bad, cite, leaf(i, kind="dsa2048", ku="ec"), [i], [r])
    case("ed25519-leaf", cat, bad, cite, leaf(i, kind="ed25519", ku="ec"), [i], [r])
    case("sha1-signed-leaf", cat, bad, "BR 7.1.3.2 (no SHA-1)", leaf(i, digest=hashes.SHA1()), [i], [r])
    case("sha1-signed-intermediate", cat, bad, "BR 7.1.3.2", leaf(is1 := inter("Corpus Intermediate", r, digest=hashes.SHA1())), [is1], [r])
    case("sha384-signed-leaf", cat, ok, "BR 7.1.3.2", leaf(i, digest=hashes.SHA384()), [i], [r])
    case("sha512-signed-leaf", cat, ok, "BR 7.1.3.2 (ECDSA with SHA-512 is not in the BR list for P-256, but is RFC 5758)", leaf(i, digest=hashes.SHA512()), [i], [r],
         note="BR 7.1.3.2 lists ecdsa-with-SHA256/384/512; valid")
    r1 = root("SHA1 Root", digest=hashes.SHA1())
    i_r1 = inter("Corpus Intermediate", r1)
    case("sha1-self-signed-root", cat, ok, "RFC 5280 6.1 (a trust anchor's own signature is not checked)", leaf(i_r1), [i_r1], [r1])
    rr = root("RSA Root", kind="rsa2048")
    case("rsa-root-ec-leaf-direct", cat, ok, "BR 6.1.5", leaf(rr), [], [rr])
    case("sha1-signed-rsa-leaf", cat, bad, "BR 7.1.3.2", leaf(rr, kind="rsa2048", ku="rsa", digest=hashes.SHA1()), [], [rr])

    # -- CRLs (RFC 5280 5, 6.3) ------------------------------------------------------------------
    cat = "crl"
    r = root()
    i = inter("Corpus Intermediate", r)
    l = leaf(i)
    good_i = crl(i)
    good_r = crl(r)
    case("crl-not-revoked", cat, ok, "RFC 5280 6.3", l, [i], [r], [good_i, good_r])
    case("crl-leaf-revoked", cat, bad, "RFC 5280 6.3.3 (i)", l, [i], [r], [crl(i, [l]), good_r])
    case("crl-intermediate-revoked", cat, bad, "RFC 5280 6.3.3 (i)", l, [i], [r], [good_i, crl(r, [i])])
    case("crl-expired", cat, bad, "RFC 5280 6.3.3 (a)(2)", l, [i], [r],
         [crl(i, last=TIME - dt.timedelta(days=20), next_=TIME - dt.timedelta(days=1)), good_r])
    case("crl-not-yet-valid", cat, bad, "RFC 5280 6.3.3 (thisUpdate in the future)", l, [i], [r],
         [crl(i, last=TIME + dt.timedelta(days=1), next_=TIME + dt.timedelta(days=8)), good_r])
    case("crl-bad-signature", cat, bad, "RFC 5280 6.3.3 (g)", l, [i], [r], [crl(i, sign_key=key("evil")), good_r])
    case("crl-missing-for-leaf", cat, bad, "RFC 5280 6.3.3 (no CRL: status undetermined)", l, [i], [r], [good_r])
    case("crl-missing-for-intermediate", cat, bad, "RFC 5280 6.3.3 (status undetermined)", l, [i], [r], [good_i])
    ikc = inter("Corpus Intermediate", r, ku=["key_cert_sign", "digital_signature"])
    lkc = leaf(ikc)
    case("crl-issuer-without-crlsign", cat, bad, "RFC 5280 6.3.3 (f) (cRLSign)", lkc, [ikc], [r], [crl(ikc), good_r])
    unk_ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.2"), b"\x05\x00")
    case("crl-unknown-critical-extension", cat, bad, "RFC 5280 5.2 (unrecognised critical CRL extension)", l, [i], [r],
         [crl(i, extensions=[(unk_ext, True)]), good_r])
    case("crl-unknown-noncritical-extension", cat, ok, "RFC 5280 5.2", l, [i], [r], [crl(i, extensions=[(unk_ext, False)]), good_r])
    case("crl-revoked-other-serial", cat, ok, "RFC 5280 6.3.3", l, [i], [r], [crl(i, [leaf(i, cn="other.example.com")]), good_r])
    case("crl-sha1-signed", cat, bad, "BR 7.1.3.2 (SHA-1 signatures)", l, [i], [r], [crl(i, digest=hashes.SHA1()), good_r])
    case("crl-without-crl-number", cat, bad, "RFC 5280 5.2.3 (cRLNumber MUST be included)", l, [i], [r],
         [crl(i, crl_number=False), good_r])
    case("crl-without-aki", cat, bad, "RFC 5280 5.2.1 (authorityKeyIdentifier MUST be included)", l, [i], [r],
         [crl(i, aki=False), good_r])
    case("crl-unknown-critical-entry-extension", cat, bad, "RFC 5280 5.3", l, [i], [r],
         [crl(i, [leaf(i, cn="x.example.com")], entry_extensions=[(unk_ext, True)]), good_r])

    # -- certificate policies (RFC 5280 4.2.1.4, 4.2.1.11, 4.2.1.14, 6.1.5) ----------------------------
    cat = "policies"
    pol = x509.ObjectIdentifier("2.23.140.1.2.1")           # CA/B Forum domain-validated
    other_pol = x509.ObjectIdentifier("1.3.6.1.4.1.55555.9")
    any_pol = x509.ObjectIdentifier("2.5.29.32.0")
    def policies(*oids):
        return (x509.CertificatePolicies([x509.PolicyInformation(o, None) for o in oids]), False)
    require = (x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None), True)
    ipr = inter("Policy Intermediate", r, extra=[require, policies(pol)])
    case("explicit-policy-leaf-without-policies", cat, bad, "RFC 5280 6.1.5 (g) (explicit_policy 0, empty policy tree)", leaf(ipr), [ipr], [r])
    case("explicit-policy-leaf-with-policy", cat, ok, "RFC 5280 6.1.5", leaf(ipr, extra=[policies(pol)]), [ipr], [r])
    case("explicit-policy-leaf-other-policy", cat, bad, "RFC 5280 6.1.3 (d) (policy not in the intermediate's set)", leaf(ipr, extra=[policies(other_pol)]), [ipr], [r])
    inh = inter("Policy Intermediate", r, extra=[require, policies(any_pol), (x509.InhibitAnyPolicy(0), True)])
    case("inhibit-any-policy-leaf-any", cat, bad, "RFC 5280 4.2.1.14 and 6.1.4 (j) (anyPolicy inhibited)", leaf(inh, extra=[policies(any_pol)]), [inh], [r])
    ifree = inter("Policy Intermediate", r, extra=[policies(pol)])
    case("policies-without-constraints", cat, ok, "RFC 5280 6.1 (no explicit policy required)", leaf(ifree, extra=[policies(other_pol)]), [ifree], [r])
    case("duplicate-policy-oid", cat, bad, "RFC 5280 4.2.1.4 (a policy OID MUST NOT appear more than once)",
         leaf(i, extra=[(x509.CertificatePolicies([x509.PolicyInformation(pol, None), x509.PolicyInformation(pol, None)]), False)]), [i], [r])
    # An intermediate with policyConstraints and no certificatePolicies: the policy tree is empty
    # below it, so only the explicit_policy count decides (and OpenSSL 3.0's own check leaks).
    def constraints(require):
        return (x509.PolicyConstraints(require_explicit_policy=require, inhibit_policy_mapping=None), True)
    ip0 = inter("Policy Intermediate", r, extra=[constraints(0)])
    case("explicit-policy-intermediate-without-policies", cat, bad, "RFC 5280 6.1.4 (i) and 6.1.5 (g) (explicit_policy 0, empty policy tree)",
         leaf(ip0, extra=[policies(pol)]), [ip0], [r])
    ip1 = inter("Policy Intermediate", r, extra=[constraints(1)])
    case("explicit-policy-after-one-without-policies", cat, bad, "RFC 5280 6.1.4 (i) (requireExplicitPolicy 1: the leaf needs a policy the path allows)",
         leaf(ip1, extra=[policies(pol)]), [ip1], [r])
    ip2 = inter("Policy Intermediate", r, extra=[constraints(2)])
    case("explicit-policy-after-two-without-policies", cat, ok, "RFC 5280 6.1.4 (i) (requireExplicitPolicy 2 is beyond a two-certificate path)",
         leaf(ip2), [ip2], [r])
    idp = inter("Policy Intermediate", r, extra=[constraints(5), (x509.CertificatePolicies([x509.PolicyInformation(pol, None), x509.PolicyInformation(pol, None)]), False)])
    case("duplicate-policy-oid-beside-policy-constraints", cat, bad, "RFC 5280 4.2.1.4 (a policy OID MUST NOT appear more than once)",
         leaf(idp), [idp], [r])

    # -- DNS name syntax (RFC 5280 4.2.1.6 preferred name syntax; BR 7.1.2.7.12) ----------------------
    cat = "name-syntax"
    case("underscore-in-dns-san", cat, bad, "BR 7.1.2.7.12 (preferred name syntax; no underscores since ballot SC12)",
         leaf(i, cn=None, san=[x509.DNSName("bad_name.example.com")]), [i], [r], host="bad_name.example.com")
    case("space-in-dns-san", cat, bad, "RFC 5280 4.2.1.6 (preferred name syntax)",
         leaf(i, cn=None, san=[x509.DNSName("bad name.example.com"), x509.DNSName(HOST)]), [i], [r])
    case("double-wildcard", cat, bad, "BR 7.1.2.7.12 (one wildcard, whole leftmost label)",
         leaf(i, cn=None, san=[x509.DNSName("*.*.example.com")]), [i], [r], host="a.b.example.com")
    case("wildcard-on-public-suffix", cat, bad, "BR 3.2.2.6 (no wildcard directly under a public suffix)",
         leaf(i, cn=None, san=[x509.DNSName("*.com")]), [i], [r], host="example.com")
    case("trailing-dot-dns-san", cat, bad, "RFC 5280 4.2.1.6 (preferred name syntax, no trailing dot)",
         leaf(i, cn=None, san=[x509.DNSName("www.example.com.")]), [i], [r], host="www.example.com.")
    case("wildcard-on-two-label-public-suffix", cat, bad, "BR 3.2.2.6 (*.co.uk is a wildcard on a public suffix)",
         leaf(i, cn=None, san=[x509.DNSName("*.co.uk")]), [i], [r], host="example.co.uk",
         note="needs the Public Suffix List, which neither tool consults")
    case("idn-a-label-san", cat, ok, "RFC 5280 7.2 (IDNs as A-labels)",
         leaf(i, cn=None, san=[x509.DNSName("xn--bcher-kva.example")]), [i], [r], host="xn--bcher-kva.example")

    # -- pathological inputs (documented budgets) ---------------------------------------------------
    cat = "pathological"
    cur, chain_ = r, []
    for n in range(12):
        cur = inter("Deep %d" % n, cur)
        chain_.append(cur)
    case("depth-12", cat, ok, "RFC 5280 6.1 (no depth limit below 100)", leaf(cur), chain_, [r])
    cur, chain_ = r, []
    for n in range(102):
        cur = inter("Deeper %d" % n, cur)
        chain_.append(cur)
    case("depth-102", cat, bad, "documented budget: at most 100 intermediates", leaf(cur), chain_, [r])
    decoys = [inter("Corpus Intermediate", r, sign_key=key("decoy%d" % (n % 4))) for n in range(260)]
    case("decoy-flood", cat, bad, "documented budget: at most 256 untrusted certificates", l, decoys + [i], [r])
    case("decoys-within-budget", cat, ok, "RFC 5280 6.1 (path building tries candidates)", l, decoys[:40] + [i], [r])
    case("leaf-2000-sans", cat, ok, "RFC 5280 4.2.1.6 (no limit on names)",
         leaf(i, cn=None, san=[x509.DNSName("s%d.example.com" % n) for n in range(2000)] + [x509.DNSName(HOST)]), [i], [r])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "cert-corpus"
    os.makedirs(out, exist_ok=True)
    build()
    manifest = []
    seen = set()
    for c in CASES:
        assert c["name"] not in seen, c["name"]
        seen.add(c["name"])
        d = os.path.join(out, c["name"])
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "leaf.pem"), "wb") as f:
            f.write(c["leaf"].pem())
        with open(os.path.join(d, "untrusted.pem"), "wb") as f:
            f.write(b"".join(x.pem() for x in c["untrusted"]))
        with open(os.path.join(d, "roots.pem"), "wb") as f:
            f.write(b"".join(x.pem() for x in c["roots"]))
        with open(os.path.join(d, "crls.pem"), "wb") as f:
            f.write(b"".join(x.pem() for x in c["crls"]))
        host = c["host"]
        entry = dict(name=c["name"], category=c["category"], expect=c["expect"], cite=c["cite"], time=int(TIME.timestamp()),
                     purpose="server", untrusted=bool(c["untrusted"]), crls=bool(c["crls"]))
        if host and host.startswith("ip:"):
            entry["ip"] = host[3:]
        elif host:
            entry["hostname"] = host
        if c["note"]:
            entry["note"] = c["note"]
        manifest.append(entry)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    # The same for the Lua and C runners (verify_corpus.lua, verify_corpus.c): one case per line,
    # name, time, hostname, ip ("-" for none), untrusted and crls (0 or 1), tab-separated.
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        for e in manifest:
            f.write("\t".join([e["name"], str(e["time"]), e.get("hostname", "-"), e.get("ip", "-"),
                               "1" if e["untrusted"] else "0", "1" if e["crls"] else "0"]) + "\n")
    print("%d cases in %s" % (len(manifest), out))


if __name__ == "__main__":
    main()
