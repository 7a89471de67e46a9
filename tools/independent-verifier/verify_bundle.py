#!/usr/bin/env python3
"""Independent verifier of Yibao Ledger export bundles.

Written from schema/SPEC.md alone (no Rust source was read), to show that the specification
is complete and exact. Every check cites the section of SPEC.md it implements; every place
where SPEC.md had to be interpreted is marked "SPEC-GAP" and listed in README.md.

    python3 verify_bundle.py BUNDLE --vkey VKEY [--vkey VKEY ...] [--witness WVKEY ...]
    python3 verify_bundle.py BUNDLE --trust-bundle        # no pinned key (knowingly)
    python3 verify_bundle.py --self-test [--repo DIR]

Dependencies (PyPI): cbor2, blake3, pynacl.  Exit 0 when everything verifies, 1 otherwise.

Signatures: libsodium (pynacl) is the fast path; it is cofactorless and requires S < L, which
SPEC §5 says is never more lenient than the rule for keys passing §5 (2)-(3), which this file
checks itself in pure Python once per key.  When libsodium refuses, the exact cofactored §5
equation decides (pure Python), so the verdict is exactly the §5 rule.
"""

import argparse
import base64
import datetime
import glob
import hashlib
import json
import os
import re
import sys
import time
import unicodedata

try:
    import blake3
    import cbor2
    import nacl.exceptions
    import nacl.signing
except ImportError as exc:  # pragma: no cover
    sys.stderr.write("verify_bundle.py needs cbor2, blake3 and pynacl: "
                     "pip install cbor2 blake3 pynacl (%s)\n" % exc)
    sys.exit(1)


def H(data):
    return blake3.blake3(data).digest()


# ---------------------------------------------------------------------------------------
# §1 Canonical CBOR
# ---------------------------------------------------------------------------------------

U64 = 2 ** 64 - 1
U32 = 2 ** 32 - 1
MAX_DEPTH = 64


class CborError(Exception):
    pass


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 2 ** 8:
        return bytes([major << 5 | 24, n])
    if n < 2 ** 16:
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    if n < 2 ** 32:
        return bytes([major << 5 | 26]) + n.to_bytes(4, "big")
    return bytes([major << 5 | 27]) + n.to_bytes(8, "big")


def cenc(v):
    """Our own §1 encoder, used to check that cbor2's canonical mode is exactly §1."""
    if v is False:
        return b"\xf4"
    if v is True:
        return b"\xf5"
    if v is None:
        return b"\xf6"
    if type(v) is int:
        if 0 <= v <= U64:
            return _head(0, v)
        if -(2 ** 64) <= v < 0:
            return _head(1, -1 - v)
        raise CborError("integer out of range")
    if type(v) is bytes:
        return _head(2, len(v)) + v
    if type(v) is str:
        b = v.encode("utf-8")
        return _head(3, len(b)) + b
    if type(v) in (list, tuple):
        return _head(4, len(v)) + b"".join(cenc(x) for x in v)
    if type(v) is dict:
        items = []
        for k, x in v.items():
            if type(k) is not str:
                raise CborError("map key is not text")
            items.append((cenc(k), cenc(x)))
        items.sort(key=lambda kv: kv[0])  # bytewise order of the encoded keys (§1)
        return _head(5, len(items)) + b"".join(k + x for k, x in items)
    raise CborError("type not allowed by §1: %s" % type(v).__name__)


def _walk(v, depth):
    t = type(v)
    if t is bool or v is None or t is bytes or t is str:
        return
    if t is int:
        if not -(2 ** 64) <= v <= U64:
            raise CborError("integer outside major types 0/1 (a bignum tag)")
        return
    if t is list:
        if depth >= MAX_DEPTH:
            raise CborError("more than 64 levels of nested arrays and maps")
        for x in v:
            _walk(x, depth + 1)
        return
    if t is dict:
        if depth >= MAX_DEPTH:
            raise CborError("more than 64 levels of nested arrays and maps")
        for k, x in v.items():
            if type(k) is not str:
                raise CborError("a map key is not a text string")
            _walk(x, depth + 1)
        return
    raise CborError("a data item §1 forbids (%s: float, tag, undefined or other simple value)"
                    % t.__name__)


def canonical_decode(data, what="item"):
    """Decode `data` and refuse it unless it is exactly the §1 canonical form."""
    if type(data) is not bytes:
        raise CborError("%s is not a byte string" % what)
    try:
        v = cbor2.loads(data)
    except Exception as exc:  # any decoding error of cbor2
        raise CborError("%s is not well-formed CBOR (%s)" % (what, exc))
    _walk(v, 0)
    try:
        again = cbor2.dumps(v, canonical=True)
    except Exception as exc:
        raise CborError("%s cannot be re-encoded (%s)" % (what, exc))
    if again != data:
        raise CborError("%s is not in canonical form (re-encoding differs: non-shortest head, "
                        "indefinite length, unsorted or duplicate keys, or trailing bytes)" % what)
    return v


def check_cbor2_matches_spec():
    """cbor2's canonical mode must order map keys exactly as §1 (bytewise on encodings)."""
    sample = {"": 0, "b": 1, "a": 2, "aa": 3, "z": 4, "é": 5, "zz": 6, "x" * 23: 7, "a" * 24: 8,
              "b" * 23: 9, "c" * 255: 10, "d" * 256: 11, "中": [1, -1, -(2 ** 64), U64, b"\x00",
                                                             {"k": None, "j": True}, False],
              "inner": {"event": 1, "roles": 2, "key": 3, "officer_id": 4, "surname": 5}}
    if cbor2.dumps(sample, canonical=True) != cenc(sample):
        raise SystemExit("cbor2's canonical encoding does not follow SPEC §1 key order: refusing to run")


# ---------------------------------------------------------------------------------------
# §5 Ed25519 (pure-Python point arithmetic for the key checks and the exact rule)
# ---------------------------------------------------------------------------------------

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
ED_D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENT = (0, 1, 1, 0)


def _padd(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * 2 * ED_D * t2 % P
    d = z1 * 2 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _pmul(s, pt):
    q = IDENT
    while s > 0:
        if s & 1:
            q = _padd(q, pt)
        pt = _padd(pt, pt)
        s >>= 1
    return q


def _pneg(pt):
    x, y, z, t = pt
    return ((-x) % P, y, z, (-t) % P)


def _peq(p1, p2):
    return (p1[0] * p2[2] - p2[0] * p1[2]) % P == 0 and (p1[1] * p2[2] - p2[1] * p1[2]) % P == 0


def decompress(enc):
    """§5 (2): canonical encoding (y < p, no negative zero) that decompresses; else None."""
    if len(enc) != 32:
        return None
    n = int.from_bytes(enc, "little")
    sign = n >> 255
    y = n & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        if sign:
            return None  # negative zero (y = 1 or y = p - 1)
        x = 0
    else:
        x = pow(x2, (P + 3) // 8, P)
        if (x * x - x2) % P:
            x = x * SQRT_M1 % P
        if (x * x - x2) % P:
            return None
        if (x & 1) != sign:
            x = P - x
    return (x, y, 1, x * y % P)


_BY = 4 * pow(5, P - 2, P) % P
BASE = decompress(_BY.to_bytes(32, "little"))
_KEY_CACHE = {}


def key_problem(pk):
    """§5 (2) and (3) for a public key: None when it passes, else the reason."""
    if pk in _KEY_CACHE:
        return _KEY_CACHE[pk]
    a = decompress(pk) if type(pk) is bytes else None
    if a is None:
        why = "not a canonical point encoding that decompresses (§5 (2))"
    elif _peq(_pmul(8, a), IDENT):
        why = "a point of small order (§5 (3))"
    elif not _peq(_pmul(L, a), IDENT):
        why = "not torsion-free (§5 (3))"
    else:
        why = None
    _KEY_CACHE[pk] = why
    return why


def verify_exact(pk, msg, sig):
    """The §5 rule itself, cofactored, in pure Python (slow; used when libsodium refuses)."""
    if len(sig) != 64 or key_problem(pk):
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    r = decompress(sig[:32])
    a = decompress(pk)
    if r is None or a is None:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + pk + msg).digest(), "little") % L
    lhs = _pmul(8, _pmul(s, BASE))
    rhs = _pmul(8, _padd(r, _pmul(k, a)))
    return _peq(lhs, rhs)


def verify_sig(pk, msg, sig):
    """(ok, reason).  Fast path: libsodium (cofactorless, S < L, which SPEC §5 says is never
    more lenient for keys that pass (2) and (3), which we check ourselves); when libsodium
    refuses, the exact cofactored rule decides, so the result is exactly §5."""
    if type(pk) is not bytes or len(pk) != 32:
        return False, "public key is not 32 bytes"
    if type(sig) is not bytes or len(sig) != 64:
        return False, "signature is not 64 bytes"
    why = key_problem(pk)
    if why:
        return False, "key " + why
    try:
        nacl.signing.VerifyKey(pk).verify(msg, sig)
        return True, None
    except Exception:
        pass
    if verify_exact(pk, msg, sig):
        return True, None
    return False, "Ed25519 signature does not verify (§5)"


# ---------------------------------------------------------------------------------------
# §4 Merkle tree
# ---------------------------------------------------------------------------------------

def leaf_hash(data, h=H):
    return h(b"\x00" + data)


def node_hash(left, right, h=H):
    return h(b"\x01" + left + right)


def mth(leaves, h=H):
    """RFC 9162 §2.1.1 MTH over leaf *inputs*."""
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return leaf_hash(leaves[0], h)
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k], h), mth(leaves[k:], h), h)


class CompactTree:
    """Incremental root: the perfect subtrees of the RFC 6962 tree, left to right."""

    def __init__(self):
        self.stack = []  # (size, hash)
        self.size = 0

    def append(self, lh):
        self.stack.append((1, lh))
        self.size += 1
        while len(self.stack) >= 2 and self.stack[-1][0] == self.stack[-2][0]:
            (s2, h2), (s1, h1) = self.stack.pop(), self.stack.pop()
            self.stack.append((s1 + s2, node_hash(h1, h2)))

    def root(self):
        if not self.stack:
            return H(b"")
        r = self.stack[-1][1]
        for _, hh in reversed(self.stack[:-1]):
            r = node_hash(hh, r)
        return r


def verify_inclusion(index, size, lh, proof, root, h=H):
    """RFC 9162 §2.1.3.2."""
    if index >= size or any(len(p) != 32 for p in proof) or len(lh) != 32:
        return False
    fn, sn, r = index, size - 1, lh
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r, h)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p, h)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof, h=H):
    """RFC 9162 §2.1.4.2 plus the two conventions of SPEC §4."""
    if size1 > size2 or any(len(p) != 32 for p in proof):
        return False
    if size1 == size2:
        # SPEC-GAP (§4): for 0 -> 0 both conventions apply (roots equal, and equal to H("")).
        return not proof and root1 == root2 and (size1 > 0 or root1 == h(b""))
    if size1 == 0:
        return not proof and root1 == h(b"")
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path = [root1] + path
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr, h)
            sr = node_hash(c, sr, h)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c, h)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


# ---------------------------------------------------------------------------------------
# §6, §7 signed notes, checkpoints, vkeys, cosignatures
# ---------------------------------------------------------------------------------------

EM = "\u2014 "  # "— " starts every signature line


def b64_strict(s):
    """Standard alphabet, padded, canonical (re-encoding must give the same text)."""
    if type(s) is not str or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s) or len(s) % 4:
        return None
    try:
        raw = base64.b64decode(s, validate=True)
    except Exception:
        return None
    if base64.b64encode(raw).decode() != s:
        return None
    return raw


def key_id(name, type_byte, pk):
    return hashlib.sha256(name.encode() + b"\n" + bytes([type_byte]) + pk).digest()[:4]


def make_vkey(name, pk, type_byte=1):
    return "%s+%s+%s" % (name, key_id(name, type_byte, pk).hex(),
                         base64.b64encode(bytes([type_byte]) + pk).decode())


def parse_vkey(s, type_byte=1):
    """(name, key id, public key) or raise ValueError."""
    if type(s) is not str or s.count("+") < 2:
        raise ValueError("not <name>+<key id>+<base64 key>")
    name, rest = s.split("+", 1)
    kid, b64 = rest.split("+", 1)
    if not name or any(c.isspace() for c in name):
        raise ValueError("bad key name")
    if not re.fullmatch(r"[0-9a-f]{8}", kid):
        raise ValueError("key ID is not 8 lowercase hex digits")
    raw = b64_strict(b64)
    if raw is None or len(raw) != 33 or raw[0] != type_byte:
        raise ValueError("key data is not base64(0x%02x || 32-byte key)" % type_byte)
    pk = raw[1:]
    if key_id(name, type_byte, pk).hex() != kid:
        raise ValueError("key ID does not match the name and key")
    return name, bytes.fromhex(kid), pk


def parse_sig_line(line, payload_len):
    """'— <name> <base64>' → (name, raw bytes) or raise ValueError."""
    if not line.startswith(EM):
        raise ValueError("signature line does not start with '— '")
    parts = line[len(EM):].split(" ")
    if len(parts) != 2 or not parts[0]:
        raise ValueError("signature line is not '— <name> <base64>'")
    raw = b64_strict(parts[1])
    if raw is None or (payload_len is not None and len(raw) != payload_len) or len(raw) < 5:
        raise ValueError("signature is not base64 of %s bytes" % (payload_len or "key ID and signature"))
    return parts[0], raw


def parse_checkpoint(text):
    """§6: returns (body, origin, size, root, [(name, keyid, sig)]) or raise ValueError."""
    if type(text) is not str or not text.endswith("\n"):
        raise ValueError("note does not end in a newline")
    lines = text.split("\n")[:-1]
    if len(lines) < 5:
        raise ValueError("not a three-line checkpoint body, a blank line and a signature line")
    if lines[3] != "":
        # SPEC-GAP (§6): "a verifier MUST accept none and refuse unknown [extension lines]".
        raise ValueError("extension lines after the root (refused in version 1)")
    origin, size_s, root_s = lines[0:3]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_s) or int(size_s) > U64:
        raise ValueError("tree size is not decimal without leading zeros")
    root = b64_strict(root_s)
    if root is None or len(root) != 32:
        raise ValueError("root is not padded standard base64 of 32 bytes")
    sigs = []
    for line in lines[4:]:
        # C2SP signed-note: every line is '— <name> <base64(key ID ‖ signature)>'; lines of
        # other keys (e.g. witness cosignatures) are ignored by the caller, not refused.
        name, raw = parse_sig_line(line, None)
        sigs.append((name, raw[:4], raw[4:]))
    body = "\n".join(lines[0:3]) + "\n"
    return body, origin, int(size_s), root, sigs


def parse_cosignature(line):
    """§7: '— <witness name> base64(key ID ‖ 8-byte timestamp ‖ 64-byte signature)'."""
    if type(line) is not str:
        raise ValueError("not text")
    # SPEC-GAP (§7/§11): whether a bundle's cosignature line ends in '\n' is not said.
    if line.endswith("\n"):
        line = line[:-1]
    if "\n" in line:
        raise ValueError("more than one line")
    name, raw = parse_sig_line(line, 76)
    return name, raw[:4], int.from_bytes(raw[4:12], "big"), raw[12:]


def cosignature_message(ts, body):
    return ("cosignature/v1\ntime %d\n" % ts).encode() + body.encode()


# ---------------------------------------------------------------------------------------
# §2, §8 value types and record structures
# ---------------------------------------------------------------------------------------

PROVINCES = set("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
                "61 62 63 64 65 71 81 82".split())
WHITE_SPACE = set([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029,
                   0x202F, 0x205F, 0x3000] + list(range(0x2000, 0x200B)))
KINDS = ["key_event", "institution_registered", "institution_updated", "inspection_opened",
         "finding", "decision", "rectification_item", "rectification_update", "grade_set",
         "grade_revision", "exposure_notice", "correction"]
ROLES = ("inspector", "adjudicator", "publisher", "administrator")
INST_KINDS = ("public_hospital", "private_hospital", "clinic", "township_health_centre",
              "village_clinic", "retail_pharmacy_single", "retail_pharmacy_chain")
INSP_TYPES = ("daily", "special", "flight", "cross_county", "city_direct", "random",
              "smart_monitoring")
PATTERNS = ("split_hospitalisation", "phantom_beds", "stacked_beds", "admission_below_standard",
            "diagnosis_upgrading", "cost_shifting", "restricted_drugs", "out_of_scope_business",
            "chaotic_billing", "unlicensed_staff", "inventory_mismatch", "non_standard_records",
            "illegal_markups", "over_treatment", "overbilling", "substitution",
            "non_covered_billing", "fictitious_services", "fake_patients_conditions_receipts",
            "forged_records", "card_misuse", "management_failure")
GRADES = ("A", "B", "C", "D")


class EncodingErr(Exception):
    pass


# General category Cc is exactly U+0000-U+001F and U+007F-U+009F (a stable Unicode set).
CC_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
BAD_TEXT_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
BAD_MULTILINE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def is_cc(ch):
    return unicodedata.category(ch) == "Cc"


def is_ws(ch):
    return ord(ch) in WHITE_SPACE


def _enum(*names):
    return ("enum", tuple(names))


def _struct(*fields):
    return ("struct", tuple(fields))


INSTREF = _struct(("code", "inst", "req"), ("name", "text", "req"), ("division", "division", "req"))
PENALTY = _struct(("basis", "fen", "req"), ("amount", "fen", "req"), ("multiple", "multiple", "opt"))
HANDLING = ("variant", ("order_to_correct", "summons", "agreement_termination"), {
    "suspension": _struct(("scope", _enum("department", "networked_settlement"), "req"),
                          ("months", "u8", "req")),
    "staff_points": _struct(("points", "u8", "req"),),
    "referral": _struct(("to", _enum("police", "health_commission", "discipline_inspection"), "req"),),
})

KEY_EVENTS = {
    "log_created": _struct(("name", "text", "req"), ("event", "text", "req"),
                           ("division", "division", "req"), ("bureau_key", "bytes32", "req")),
    "officer_added": _struct(("key", "bytes32", "req"), ("event", "text", "req"),
                             ("roles", ("list", _enum(*ROLES)), "req"), ("surname", "text", "req"),
                             ("officer_id", "id", "req")),
    "officer_revoked": _struct(("key", "bytes32", "req"), ("event", "text", "req"),
                               ("reason", "text", "req")),
    "bureau_key_rotated": _struct(("event", "text", "req"), ("new_key", "bytes32", "req")),
}

RECORDS = {
    "institution_registered": _struct(
        ("code", "inst", "req"), ("name", "text", "req"), ("level", "text", "opt"),
        ("address", "text", "req"), ("division", "division", "req"),
        ("institution_kind", _enum(*INST_KINDS), "req")),
    "institution_updated": _struct(
        ("code", "inst", "req"), ("reason", "text", "req"),
        ("changes", _struct(("name", "text", "opt"), ("level", "text", "opt"),
                            ("status", _enum("active", "suspended", "terminated"), "opt"),
                            ("address", "text", "opt"),
                            ("institution_kind", _enum(*INST_KINDS), "opt")), "req")),
    "inspection_opened": _struct(
        ("basis", "text", "opt"), ("case_id", "id", "req"), ("opened_on", "date", "req"),
        ("institution", INSTREF, "req"), ("period_covered", "text", "opt"),
        ("inspecting_body", "text", "req"), ("inspection_type", _enum(*INSP_TYPES), "req")),
    "finding": _struct(
        ("facts", "text", "req"), ("case_id", "id", "req"),
        ("pattern", ("variant", PATTERNS, {"other": "text"}), "req"),
        ("evidence", ("list", "bytes32"), "req"), ("finding_id", "id", "req"),
        ("legal_basis", _struct(("item", "u8", "opt"), ("article", "u8", "req")), "req"),
        ("amount_involved", "fen", "req")),
    "decision": _struct(
        ("items", ("list", _struct(("fine", PENALTY, "opt"), ("damages", PENALTY, "opt"),
                                   ("recovered", "fen", "req"), ("finding_id", "id", "req"))), "req"),
        ("totals", _struct(("fines", "fen", "req"), ("total", "fen", "req"),
                           ("damages", "fen", "req"), ("recovered", "fen", "req")), "req"),
        ("case_id", "id", "req"), ("decided_on", "date", "req"), ("decision_id", "id", "req"),
        ("other_handling", ("list", HANDLING), "req"), ("settlement_month", "month", "opt")),
    "rectification_item": _struct(
        ("case_id", "id", "opt"), ("item_id", "id", "req"), ("problem", "text", "req"),
        ("deadline", "date", "req"), ("institution", "inst", "req")),
    "rectification_update": _struct(
        ("on", "date", "req"), ("note", "text", "req"),
        ("status", _enum("rectifying", "verified", "closed_out"), "req"), ("item_id", "id", "req")),
    "grade_set": _struct(
        ("grades", ("list", _struct(("grade", _enum(*GRADES), "req"), ("score", "u32", "req"),
                                    ("reason", "text", "opt"), ("institution", "inst", "req"))), "req"),
        ("period", "period", "req"), ("division", "division", "req")),
    "grade_revision": _struct(
        ("grade", _enum(*GRADES), "req"), ("score", "u32", "req"), ("period", "period", "req"),
        ("reason", "text", "req"), ("division", "division", "req"), ("institution", "inst", "req"),
        ("reason_kind", _enum("appeal", "credit_repair"), "req")),
    "exposure_notice": _struct(
        ("facts", "text", "req"), ("title", "text", "req"), ("case_id", "id", "req"),
        ("persons", ("list", "text"), "req"), ("handling", "text", "req"),
        ("location", "text", "req"), ("notice_id", "id", "req"),
        ("categories", ("list", "text"), "req"), ("decision_id", "id", "req"),
        ("institution", INSTREF, "req"), ("legal_basis", "text", "req"),
        ("published_on", "date", "req"), ("amount_involved", "fen", "req"),
        ("fully_recovered", "bool", "req"), ("inspecting_body", "text", "req"),
        ("inspection_period", "text", "req")),
    "correction": _struct(
        ("reason", "text", "req"), ("target_seq", "u64", "req"), ("replacement", "bytes", "opt"),
        ("target_kind", _enum(*KINDS), "req")),
}

UINT_MAX = {"fen": U64, "multiple": U32, "u8": 255, "u32": U32, "u64": U64}


def valid_date(s):
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", s)
    if not m:
        return False
    y, mo, d = (int(g) for g in m.groups())
    if not 1900 <= y <= 9999:
        return False
    try:
        datetime.date(y, mo, d)
    except ValueError:
        return False
    return True


def check_scalar(t, v, path):
    def bad(msg):
        raise EncodingErr("%s: %s" % (path or "payload", msg))

    if t in UINT_MAX:
        if type(v) is not int or v < 0:
            bad("not an unsigned integer")
        if v > UINT_MAX[t]:
            bad("%d above the %s range" % (v, t))
        return
    if t == "bool":
        if type(v) is not bool:
            bad("not a bool")
        return
    if t == "bytes32":
        if type(v) is not bytes or len(v) != 32:
            bad("not a 32-byte byte string")
        return
    if t == "bytes":
        if type(v) is not bytes:
            bad("not a byte string")
        return
    if type(v) is not str:
        bad("not a text string")
    if t == "text":
        return
    if t == "id":
        if not 1 <= len(v) <= 64 or CC_RE.search(v) or is_ws(v[0]) or is_ws(v[-1]):
            bad("not an id (1-64 scalar values, no Cc, no White_Space at either end)")
    elif t == "division":
        if not re.fullmatch(r"[0-9]{6}", v) or v[:2] not in PROVINCES:
            bad("not a division code")
    elif t == "inst":
        if not re.fullmatch(r"[HP][0-9]{11}", v):
            bad("not an institution code")
    elif t == "date":
        if not valid_date(v):
            bad("not a date YYYY-MM-DD (1900-9999, a real day)")
    elif t == "month":
        m = re.fullmatch(r"([0-9]{4})-([0-9]{2})", v)
        if not m or not 1900 <= int(m.group(1)) <= 9999 or not 1 <= int(m.group(2)) <= 12:
            bad("not a month YYYY-MM")
    elif t == "period":
        m = re.fullmatch(r"([0-9]{4})(-(H1|H2|Q1|Q2|Q3|Q4))?", v)
        if not m or not 1900 <= int(m.group(1)) <= 9999:
            bad("not a period")
    else:  # pragma: no cover
        raise AssertionError(t)


def check_value(t, v, path):
    if type(t) is str:
        return check_scalar(t, v, path)
    if t[0] == "enum":
        if type(v) is not str or v not in t[1]:
            raise EncodingErr("%s: %r is not one of %s" % (path, v, "/".join(t[1])))
    elif t[0] == "list":
        if type(v) is not list:
            raise EncodingErr("%s: not an array" % path)
        for i, x in enumerate(v):
            check_value(t[1], x, "%s[%d]" % (path, i))
    elif t[0] == "struct":
        check_struct(t, v, path)
    elif t[0] == "variant":
        units, datas = t[1], t[2]
        if type(v) is str:
            if v not in units:
                raise EncodingErr("%s: %r is not a unit variant" % (path, v))
        elif type(v) is dict:
            if len(v) != 1:
                raise EncodingErr("%s: a data variant is a map of exactly one entry" % path)
            (name, inner), = v.items()
            if name not in datas:
                raise EncodingErr("%s: %r is not a data variant" % (path, name))
            check_value(datas[name], inner, "%s.%s" % (path, name))
        else:
            raise EncodingErr("%s: neither a unit nor a data variant" % path)
    else:  # pragma: no cover
        raise AssertionError(t)


def check_struct(t, v, path):
    if type(v) is not dict:
        raise EncodingErr("%s: not a map" % (path or "payload"))
    names = set()
    for name, ft, presence in t[1]:
        names.add(name)
        fp = name if not path else path + "." + name
        if name not in v:
            if presence == "req":
                raise EncodingErr("%s: missing" % fp)
            continue
        check_value(ft, v[name], fp)
    extra = sorted(set(v) - names)
    if extra:
        raise EncodingErr("%s: unknown field %s" % (path or "payload", extra[0]))


def decode_record(kind, payload, path=""):
    """§8: returns the record (dict); a correction's decoded replacement is under '__rep'."""
    try:
        v = canonical_decode(payload, "payload")
    except CborError as exc:
        raise EncodingErr(str(exc))
    if kind == "key_event":
        if type(v) is not dict or type(v.get("event")) is not str or v["event"] not in KEY_EVENTS:
            raise EncodingErr("%s: key_event without a known 'event'" % (path or "payload"))
        check_struct(KEY_EVENTS[v["event"]], v, path)
        return v
    if kind not in RECORDS:
        raise EncodingErr("unknown kind %r" % kind)
    check_struct(RECORDS[kind], v, path)
    if kind == "correction" and "replacement" in v:
        if v["target_kind"] in ("key_event", "correction"):
            raise EncodingErr("replacement: a %s may not be replaced (corrections never nest)"
                              % v["target_kind"])
        rep = decode_record(v["target_kind"], v["replacement"],
                            (path + "." if path else "") + "replacement")
        v = dict(v)
        v["__rep"] = rep
    return v


# ---------------------------------------------------------------------------------------
# §10 rules
# ---------------------------------------------------------------------------------------

class Breach(Exception):
    def __init__(self, rule, msg):
        Exception.__init__(self, "%s: %s" % (rule, msg))
        self.rule = rule
        self.msg = msg


def need(cond, rule, msg):
    if not cond:
        raise Breach(rule, msg)


POLICY = {
    "grade_ratio": (3, 4, 2, 1),
    "max_grade_score": 1000,
    # article: (item count, "multiple" or "flat", low, high)
    "articles": {38: (7, "multiple", 1000, 2000), 39: (7, "flat", 1_000_000, 5_000_000),
                 40: (4, "multiple", 2000, 5000), 41: (4, "multiple", 2000, 5000)},
    "damages": (1000, 5000),
    "suspension_months": (6, 12),
    "max_staff_points": 12,
    "max_exposure_persons": 10,
    "max_amount": 10 ** 12,
}
CROSSING_TYPES = ("cross_county", "city_direct", "flight")
NEXT_STEP = {"open": "rectifying", "rectifying": "verified", "verified": "closed_out"}
PREV_STEP = {"rectifying": "open", "verified": "rectifying", "closed_out": "verified"}
ROLES_FOR = {
    "institution_registered": ("administrator",), "institution_updated": ("administrator",),
    "inspection_opened": ("inspector",), "finding": ("inspector",),
    "rectification_item": ("inspector",), "rectification_update": ("inspector", "adjudicator"),
    "decision": ("adjudicator",), "grade_set": ("adjudicator",), "grade_revision": ("adjudicator",),
    "exposure_notice": ("publisher",),
}

# §10.4 text classes: (most characters, multi-line)
NAME, TITLE, ADDRESS, SHORT = (200, False), (200, False), (500, False), (200, False)
REASON, FACTS, HANDLING_T = (2000, True), (20000, True), (5000, True)
DIRECTION_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def text_rule(s, cls, path):
    most, multi = cls
    m = (BAD_MULTILINE_RE if multi else BAD_TEXT_RE).search(s)
    if m:
        o = ord(m.group())
        raise Breach("text", "%s holds %s U+%04X" % (
            path, "direction control" if o in DIRECTION_CONTROLS else "control character", o))
    # SPEC-GAP (§10.4): the length limit is applied to the text as stored (not trimmed).
    if all(is_ws(ch) for ch in s):
        raise Breach("text", "%s is empty" % path)
    if len(s) > most:
        raise Breach("text", "%s has %d characters, more than %d" % (path, len(s), most))


def is_han(ch):
    o = ord(ch)
    return (0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0x20000 <= o <= 0x3134F)


def round_penalty(basis, multiple):
    return (basis * multiple + 500) // 1000


def apportion(n, w=POLICY["grade_ratio"]):
    """§10.8 largest remainder (Hamilton), ties to the better grade."""
    total = sum(w)
    base = [n * wi // total for wi in w]
    rem = [n * wi % total for wi in w]
    left = n - sum(base)
    for i in sorted(range(len(w)), key=lambda i: (-rem[i], i))[:left]:
        base[i] += 1
    return base


COMPOUND_SURNAMES = ("欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 百里 东郭 南宫 "
                     "西门 独孤 呼延 闻人 澹台 公冶 宗政 濮阳 太叔 申屠 钟离 仲孙 拓跋 万俟 司空 左丘 乐正 第五 "
                     "赫连 淳于 单于 轩辕").split()
COMMON_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘蒋蔡杜叶程苏魏吕丁任沈姚"
                   "卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱覃武戴莫孔汤"
                   "温景霍牛樊葛邢齐乔伍庞颜倪庄聂章鲁岳翟殷詹耿兰焦俞左柳甘祝宁符舒阮柯纪梅童凌毕季裴涂苗谷盛翁冉"
                   "骆蓝游辛靳柴蒙鲍华喻祁蒲房滕饶牟艾尤穆卓缪褚娄窦戚岑党宫卜晏席卫米柏宗瞿佟臧闵苟邬边卞姬栾隋刁"
                   "荣巫寇桑郎甄丛仲虞敖巩佘池麻苑迟")
ROLE_WORDS = ("患者", "参保人", "医生", "院长", "负责人", "法定代表人", "药师", "护士")
WEEKDAY_CHARS = "一二三四五六日天末"
assert len(COMMON_SURNAMES) == 206 and len(set(COMMON_SURNAMES)) == 206
assert len(COMPOUND_SURNAMES) == 40


def _is_digit(ch):
    return "0" <= ch <= "9" or "\uff10" <= ch <= "\uff19"


def _digit_value(ch):
    return ch if ch <= "9" else chr(ord(ch) - 0xFF10 + 0x30)


def _alnum(ch):
    """'letter or digit' of §10.9: an ASCII letter or ASCII digit."""
    return ch is not None and ch.isascii() and ch.isalnum()


def personal_data(s):
    """§10.9 heuristic: the reason the text is refused, or None."""
    n = len(s)
    at = lambda k: s[k] if 0 <= k < n else None  # noqa: E731
    i = 0
    while i < n:
        if not _is_digit(s[i]):
            i += 1
            continue
        j = i
        while j < n and _is_digit(s[j]):
            j += 1
        run = "".join(_digit_value(c) for c in s[i:j])
        start, i = i, j
        if _alnum(at(start - 1)):
            continue
        c = at(j)
        if len(run) == 18 and not _alnum(c):
            return "a resident ID number (%s)" % run
        if len(run) == 17 and c in ("X", "x") and not _alnum(at(j + 1)):
            return "a resident ID number ending in X"
        if len(run) == 11 and run[0] == "1" and run[1] in "3456789" and not _alnum(c):
            return "a mobile number"
        if len(run) == 3 and run[0] == "1" and run[1] in "3456789":
            k = j
            if at(k) in ("-", " "):
                k += 1
                m = k
                while m < n and _is_digit(s[m]):
                    m += 1
                if m - k == 4 and at(m) in ("-", " "):
                    m += 1
                    q = m
                    while q < n and _is_digit(s[q]):
                        q += 1
                    if q - m == 4 and not _alnum(at(q)):
                        return "a grouped mobile number"
    for word in ROLE_WORDS:
        pos = 0
        while True:
            k = s.find(word, pos)
            if k < 0:
                break
            pos = k + len(word)
            rest = s[pos:]
            if rest[:1] in ("\uff1a", ":", "为", "是", " ") and rest:
                rest = rest[1:]
            surname = None
            for cs in COMPOUND_SURNAMES:
                if rest.startswith(cs):
                    surname = cs
                    break
            if surname is None and rest and rest[0] in COMMON_SURNAMES:
                surname = rest[0]
            if surname is None:
                continue
            after = rest[len(surname):len(surname) + 1]
            if after and is_han(after) and after != "某":
                if surname == "周" and after in WEEKDAY_CHARS:
                    continue
                return "a person's name after the role word %s (%s%s)" % (word, surname, after)
    return None


def masked_person(p):
    k = len(p) - len(p.rstrip("某"))
    if k not in (1, 2):
        return False
    rest = p[:len(p) - k]
    if len(rest) == 1 and is_han(rest) and rest != "某":
        return True
    return rest in COMPOUND_SURNAMES


def entry_date(t):
    """§10.3: D, the China Standard Time date of timestamp t (ms), or None outside 1900-9999."""
    days = (t + 28_800_000) // 86_400_000
    try:
        d = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
    except OverflowError:
        return None
    if not 1900 <= d.year <= 9999:
        return None
    return d.isoformat()


# ---- field rules (on the record alone) --------------------------------------------------

def fr_institution_registered(r, p):
    kind = r["institution_kind"]
    want = "P" if kind.startswith("retail_pharmacy") else "H"
    need(r["code"][0] == want, "institution-code",
         "%scode %s does not match institution_kind %s" % (p, r["code"], kind))
    text_rule(r["name"], NAME, p + "name")
    text_rule(r["address"], ADDRESS, p + "address")
    if "level" in r:
        text_rule(r["level"], SHORT, p + "level")


def fr_institution_updated(r, p):
    ch = r["changes"]
    need(len(ch) > 0, "text", p + "changes is empty (nothing changes)")
    if "institution_kind" in ch:
        want = "P" if ch["institution_kind"].startswith("retail_pharmacy") else "H"
        need(r["code"][0] == want, "institution-code",
             "%schanges.institution_kind %s does not match code %s"
             % (p, ch["institution_kind"], r["code"]))
    if "name" in ch:
        text_rule(ch["name"], NAME, p + "changes.name")
    if "address" in ch:
        text_rule(ch["address"], ADDRESS, p + "changes.address")
    if "level" in ch:
        text_rule(ch["level"], SHORT, p + "changes.level")
    text_rule(r["reason"], REASON, p + "reason")


def fr_inspection_opened(r, p):
    text_rule(r["institution"]["name"], NAME, p + "institution.name")
    text_rule(r["inspecting_body"], NAME, p + "inspecting_body")
    if "period_covered" in r:
        text_rule(r["period_covered"], SHORT, p + "period_covered")
    if "basis" in r:
        text_rule(r["basis"], REASON, p + "basis")


def legal_basis_rule(lb, p):
    art = POLICY["articles"].get(lb["article"])
    need(art is not None, "legal-basis", "%slegal_basis.article %d is unknown"
         % (p, lb["article"]))
    if "item" in lb:
        need(1 <= lb["item"] <= art[0], "legal-basis", "%slegal_basis.item %d is not 1-%d"
             % (p, lb["item"], art[0]))


def fr_finding(r, p):
    legal_basis_rule(r["legal_basis"], p)
    if type(r["pattern"]) is dict:
        text_rule(r["pattern"]["other"], SHORT, p + "pattern.other")
    text_rule(r["facts"], FACTS, p + "facts")
    need(r["amount_involved"] <= POLICY["max_amount"], "money", p + "amount_involved above max_amount")
    need(len(r["evidence"]) <= 1000, "text", p + "evidence has more than 1,000 digests")
    need(len(set(r["evidence"])) == len(r["evidence"]), "duplicate", p + "evidence digest twice")


def fr_decision(r, p):
    mx = POLICY["max_amount"]
    items = r["items"]
    need(len(items) > 0, "reference", p + "items is empty (a decision decides at least one finding)")
    need(len(items) <= 1000, "text", p + "more than 1,000 items")
    need(len(r["other_handling"]) <= 32, "text", p + "more than 32 other_handling entries")
    seen = set()
    s_rec = s_dam = s_fine = 0
    for i, it in enumerate(items):
        ip = "%sitems[%d]." % (p, i)
        need(it["finding_id"] not in seen, "duplicate", ip + "finding_id already in this decision")
        seen.add(it["finding_id"])
        need(it["recovered"] <= mx, "money", ip + "recovered above max_amount")
        s_rec += it["recovered"]
        if "damages" in it:
            d = it["damages"]
            need(d["basis"] <= mx and d["amount"] <= mx, "money", ip + "damages above max_amount")
            need("multiple" in d, "penalty-range", ip + "damages without a multiple")
            need(d["basis"] == it["recovered"], "arithmetic", ip + "damages.basis != recovered")
            lo, hi = POLICY["damages"]
            need(lo <= d["multiple"] <= hi, "penalty-range",
                 ip + "damages.multiple %d outside %d-%d" % (d["multiple"], lo, hi))
            amt = round_penalty(d["basis"], d["multiple"])
            need(amt <= U64, "money", ip + "damages overflow")
            need(d["amount"] == amt, "arithmetic",
                 ip + "damages.amount %d != %d" % (d["amount"], amt))
            s_dam += d["amount"]
        if "fine" in it:
            f = it["fine"]
            need(f["basis"] <= mx and f["amount"] <= mx, "money", ip + "fine above max_amount")
            if "multiple" in f:
                amt = round_penalty(f["basis"], f["multiple"])
                need(amt <= U64, "money", ip + "fine overflow")
                need(f["amount"] == amt, "arithmetic", ip + "fine.amount %d != %d" % (f["amount"], amt))
            else:
                need(f["basis"] == f["amount"], "arithmetic", ip + "flat fine with basis != amount")
            s_fine += f["amount"]
    t = r["totals"]
    need(t["recovered"] == s_rec, "arithmetic", p + "totals.recovered %d != %d" % (t["recovered"], s_rec))
    need(t["damages"] == s_dam, "arithmetic", p + "totals.damages %d != %d" % (t["damages"], s_dam))
    need(t["fines"] == s_fine, "arithmetic", p + "totals.fines %d != %d" % (t["fines"], s_fine))
    need(t["total"] == s_rec + s_dam + s_fine, "arithmetic",
         p + "totals.total %d != %d" % (t["total"], s_rec + s_dam + s_fine))
    # §10.6
    seen_h = []
    for i, h in enumerate(r["other_handling"]):
        hp = "%sother_handling[%d]" % (p, i)
        need(h not in seen_h, "duplicate", hp + " equals an earlier entry")
        seen_h.append(h)
        if type(h) is dict and "suspension" in h:
            lo, hi = POLICY["suspension_months"]
            need(lo <= h["suspension"]["months"] <= hi, "handling-range",
                 hp + " suspension months outside %d-%d" % (lo, hi))
        if type(h) is dict and "staff_points" in h:
            need(1 <= h["staff_points"]["points"] <= POLICY["max_staff_points"], "handling-range",
                 hp + " staff points outside 1-%d" % POLICY["max_staff_points"])


def fr_rectification_item(r, p):
    text_rule(r["problem"], REASON, p + "problem")


def fr_rectification_update(r, p):
    text_rule(r["note"], REASON, p + "note")


def fr_grade_set(r, p):
    g = r["grades"]
    need(len(g) > 0, "grade-ratio", p + "grades is empty")
    need(len(g) <= 100_000, "text", p + "more than 100,000 grades")
    seen = set()
    for i, a in enumerate(g):
        ap = "%sgrades[%d]." % (p, i)
        need(a["institution"] not in seen, "duplicate", ap + "institution graded twice")
        seen.add(a["institution"])
        need(a["score"] <= POLICY["max_grade_score"], "grade-score", ap + "score above max_grade_score")
        if "reason" in a:
            text_rule(a["reason"], SHORT, ap + "reason")
    counts = [sum(1 for a in g if a["grade"] == x) for x in GRADES]
    want = apportion(len(g))
    need(counts == want, "grade-ratio", "%scounts A:B:C:D %s, the ratio requires %s"
         % (p, ":".join(map(str, counts)), ":".join(map(str, want))))


def fr_grade_revision(r, p):
    need(r["score"] <= POLICY["max_grade_score"], "grade-score", p + "score above max_grade_score")
    text_rule(r["reason"], REASON, p + "reason")


def fr_exposure_notice(r, p):
    def both(value, cls, path):
        text_rule(value, cls, p + path)
        why = personal_data(value)
        need(why is None, "exposure-privacy", "%s%s carries personal data: %s" % (p, path, why))

    both(r["title"], TITLE, "title")
    both(r["institution"]["name"], NAME, "institution.name")
    both(r["location"], SHORT, "location")
    both(r["inspecting_body"], NAME, "inspecting_body")
    both(r["inspection_period"], SHORT, "inspection_period")
    both(r["facts"], FACTS, "facts")
    need(1 <= len(r["categories"]) <= 32, "text", p + "categories must have 1-32 entries")
    for i, c in enumerate(r["categories"]):
        both(c, SHORT, "categories[%d]" % i)
    need(r["amount_involved"] <= POLICY["max_amount"], "money", p + "amount_involved above max_amount")
    both(r["legal_basis"], REASON, "legal_basis")
    both(r["handling"], HANDLING_T, "handling")
    need(len(r["persons"]) <= POLICY["max_exposure_persons"], "exposure-privacy",
         p + "more than %d persons" % POLICY["max_exposure_persons"])
    for i, person in enumerate(r["persons"]):
        need(masked_person(person), "exposure-privacy",
             "%spersons[%d] %r is not surname + 某/某某" % (p, i, person))


def fr_correction(r, p):
    text_rule(r["reason"], REASON, p + "reason")
    need(r["target_kind"] not in ("key_event", "correction"), "correction",
         "a %s may not be corrected" % r["target_kind"])
    if "__rep" in r:
        FIELD_RULES[r["target_kind"]](r["__rep"], p + "replacement.")


FIELD_RULES = {
    "institution_registered": fr_institution_registered, "institution_updated": fr_institution_updated,
    "inspection_opened": fr_inspection_opened, "finding": fr_finding, "decision": fr_decision,
    "rectification_item": fr_rectification_item, "rectification_update": fr_rectification_update,
    "grade_set": fr_grade_set, "grade_revision": fr_grade_revision,
    "exposure_notice": fr_exposure_notice, "correction": fr_correction,
}


# ---------------------------------------------------------------------------------------
# §3, §9, §10 replay of one log
# ---------------------------------------------------------------------------------------

STATEMENT_PREFIX = b"yibao-ledger/v1/statement\n"
MAX_PAYLOAD = 262_144


class Ctx:
    def __init__(self, n, D, author):
        self.n, self.D, self.author = n, D, author


class LogVerifier:
    def __init__(self, origin, division, name, genesis_key, fail, warn=None):
        self.origin, self.L, self.name, self.genesis_key = origin, division, name, genesis_key
        self.fail = fail  # fail(seq, rule, message)
        self.warn = warn  # warn(seq, message)
        self.tree = CompactTree()
        self.prev = b"\x00" * 32
        self.seen_statements = set()
        self.entries = []  # per seq: dict(kind, cur, ok, withdrawn, author)
        # §9 authorisation state
        self.B = None
        self.former = []
        self.officers = {}
        # §10 state
        self.insts, self.cases, self.findings, self.decisions = {}, {}, {}, {}
        self.ritems, self.gsets, self.notices = {}, {}, {}
        self.failed_entries = 0

    # ---- §3 integrity ------------------------------------------------------------------
    def append(self, n, eb):
        info = {"kind": None, "cur": None, "ok": False, "withdrawn": False, "author": None}
        self.entries.append(info)
        if type(eb) is not bytes:
            self.fail(n, "entry", "entry is not a byte string")
            self._next(b"")
            self.failed_entries += 1
            return
        problems = self._integrity(n, eb, info)
        lh = leaf_hash(eb)
        self.tree.append(lh)
        self.prev = lh
        if problems:
            for rule, msg in problems:
                self.fail(n, rule, msg)
            self.failed_entries += 1
            return
        try:
            apply = self._rules(n, info)
        except Breach as b:
            self.fail(n, b.rule, b.msg)
            self.failed_entries += 1
            return
        except Exception as exc:  # never crash on hostile input: report it
            self.fail(n, "internal", "verifier error %r" % exc)
            self.failed_entries += 1
            return
        if apply:
            apply()
        info["ok"] = True

    def _next(self, eb):
        lh = leaf_hash(eb)
        self.tree.append(lh)
        self.prev = lh

    def _integrity(self, n, eb, info):
        out = []
        try:
            e = canonical_decode(eb, "entry")
        except CborError as exc:
            return [("entry", str(exc))]
        if (type(e) is not list or len(e) != 6 or type(e[0]) is not int or type(e[1]) is not int
                or type(e[2]) is not bytes or len(e[2]) != 32 or type(e[3]) is not bytes
                or type(e[4]) is not bytes or len(e[4]) != 64 or type(e[5]) is not bytes):
            return [("entry", "not [uint, uint, bytes(32), bytes, bytes(64), bytes] (§3.3)")]
        version, seq, prev, sb, sig, payload = e
        if version != 1:
            return [("entry", "unknown entry version %d" % version)]
        if seq != n:
            out.append(("sequence", "seq %d where %d was expected" % (seq, n)))
        if prev != self.prev:
            out.append(("prev", "prev is not the leaf hash of entry %d" % (n - 1) if n else
                        "prev of entry 0 is not 32 zero bytes"))
        try:
            st = canonical_decode(sb, "statement")
        except CborError as exc:
            return out + [("statement", str(exc))]
        if (type(st) is not list or len(st) != 7 or type(st[0]) is not int
                or type(st[1]) is not str or not 1 <= len(st[1].encode()) <= 128
                or type(st[2]) is not int or st[2] < 0 or type(st[3]) is not bytes
                or len(st[3]) != 32 or type(st[4]) is not str or not 1 <= len(st[4].encode()) <= 64
                or type(st[5]) is not bytes or len(st[5]) != 32 or type(st[6]) is not int
                or st[6] < 0):
            return out + [("statement", "not [uint, text(1-128), uint, bytes(32), text(1-64), "
                                        "bytes(32), uint] (§3.1)")]
        sv, origin, ts, author, kind, phash, plen = st
        if sv != 1:
            return out + [("statement", "unknown statement version %d" % sv)]
        info["author"], info["kind"], info["ts"] = author, kind, ts
        if origin != self.origin:
            out.append(("origin", "statement origin %r is not the log's" % origin))
        if plen > MAX_PAYLOAD:
            out.append(("payload", "payload_len %d above 262,144" % plen))
        if plen != len(payload):
            out.append(("payload", "payload_len %d but the payload has %d bytes" % (plen, len(payload))))
        if phash != H(payload):
            out.append(("payload", "payload_hash is not BLAKE3 of the payload"))
        ok, why = verify_sig(author, STATEMENT_PREFIX + sb, sig)
        if not ok:
            out.append(("signature", why))
        sh = H(sb)
        if sh in self.seen_statements:
            out.append(("duplicate", "the same statement bytes as an earlier entry (§3.3)"))
        self.seen_statements.add(sh)
        if kind not in KINDS:
            out.append(("encoding", "unknown record kind %r" % kind))
            return out
        if out:
            return out
        try:
            info["cur"] = decode_record(kind, payload)
        except EncodingErr as exc:
            out.append(("encoding", str(exc)))
        return out

    # ---- §9, §10 ---------------------------------------------------------------------------
    def officer_of(self, key):
        return self.officers.get(key)

    def same_officer(self, a, b):
        if a == b:
            return True
        oa, ob = self.officers.get(a), self.officers.get(b)
        return oa is not None and ob is not None and oa["officer_id"] == ob["officer_id"]

    def _rules(self, n, info):
        kind, r, author = info["kind"], info["cur"], info["author"]
        D = entry_date(info["ts"])
        ctx = Ctx(n, D, author)
        is_ke = kind == "key_event"
        # §10.3 step 1: genesis (§9 item 1)
        if n == 0:
            need(is_ke and r["event"] == "log_created", "genesis", "entry 0 is not a log_created key event")
            need(r["bureau_key"] == author, "genesis", "log_created is not signed by the key it names")
            need(r["division"] == self.L, "origin", "log_created names division %s" % r["division"])
            need(author == self.genesis_key, "genesis",
                 "log_created author is not the bundle's genesis_key (§11)")
            need(r["name"] == self.name, "genesis",
                 "log_created name %r is not the bundle's name %r (§11)" % (r["name"], self.name))
        elif is_ke:
            need(r["event"] != "log_created", "genesis", "log_created at seq %d" % n)
        # step 2: authorisation
        if is_ke:
            if n > 0:
                need(author == self.B, "authorisation", "key event not signed by the current bureau key")
        else:
            off = self.officers.get(author)
            need(off is not None, "authorisation", "author is not an officer key of this log")
            need(off["revoked"] is None, "authorisation", "author was revoked at seq %s" % off["revoked"])
            tk = r["target_kind"] if kind == "correction" else kind
            if tk in ROLES_FOR:
                # SPEC-GAP (§9 table, correction row): for a target_kind of key_event or
                # correction we still require a live officer key, with no role check.
                allowed = ROLES_FOR[tk]
                need(any(x in off["roles"] for x in allowed), "authorisation",
                     "author's roles %s do not include %s" % (sorted(off["roles"]), "/".join(allowed)))
        # step 3: field rules
        if is_ke:
            self.fr_key_event(r)
        else:
            FIELD_RULES[kind](r, "")
        # step 4: log rules
        if is_ke:
            return self.lr_key_event(r, ctx)
        return getattr(self, "lr_" + kind)(r, ctx, info)

    # -- key events (§9 item 4)
    def fr_key_event(self, r):
        ev = r["event"]
        if ev == "log_created":
            text_rule(r["name"], NAME, "name")
        elif ev == "officer_revoked":
            text_rule(r["reason"], REASON, "reason")
        elif ev == "officer_added":
            s = r["surname"]
            need(1 <= len(s) <= 2 and all(is_han(c) and c != "某" for c in s), "text",
                 "surname %r is not one or two Han characters (not 某)" % s)
            need(len(r["roles"]) > 0, "authorisation", "roles is empty")
            need(len(set(r["roles"])) == len(r["roles"]), "duplicate", "a role twice")

    def warn_key(self, n, what, key):
        # SPEC-GAP (§5, last paragraph): a key that fails (2)/(3) breaks no rule of §9/§10;
        # like the reference, the event is valid and every signature by the key fails.
        kp = key_problem(key)
        if kp and self.warn:
            self.warn(n, "%s %s is %s: it can sign nothing" % (what, key.hex(), kp))

    def lr_key_event(self, r, ctx):
        ev = r["event"]
        if ev == "log_created":
            key = r["bureau_key"]
            self.warn_key(ctx.n, "bureau_key", key)

            def apply():
                self.B = key
            return apply
        if ev == "officer_added":
            key = r["key"]
            need(key != self.B and key not in self.former, "authorisation",
                 "officer key is a bureau key")
            need(key not in self.officers, "duplicate", "officer key added before")
            self.warn_key(ctx.n, "officer key", key)

            def apply():
                self.officers[key] = {"officer_id": r["officer_id"], "surname": r["surname"],
                                      "roles": set(r["roles"]), "added": ctx.n, "revoked": None}
            return apply
        if ev == "officer_revoked":
            off = self.officers.get(r["key"])
            need(off is not None, "reference", "revoked key is not an officer key of this log")
            need(off["revoked"] is None, "transition", "officer already revoked")

            def apply():
                off["revoked"] = ctx.n
            return apply
        if ev == "bureau_key_rotated":
            key = r["new_key"]
            need(key != self.B and key not in self.former, "duplicate", "new_key is a current or former bureau key")
            need(key not in self.officers, "authorisation", "new_key was added as an officer key")
            self.warn_key(ctx.n, "new_key", key)

            def apply():
                self.former.append(self.B)
                self.B = key
            return apply
        raise AssertionError(ev)

    # -- helpers
    def inst_live(self, code):
        i = self.insts.get(code)
        return i is not None and i["live"]

    def live_case(self, cid, rule="reference"):
        c = self.cases.get(cid)
        need(c is not None, rule, "case %s was not opened in this log" % cid)
        need(c["live"], rule, "case %s is withdrawn" % cid)
        return c

    def date_le_D(self, value, ctx, what):
        if ctx.D is not None:
            need(value <= ctx.D, "date", "%s %s is after the entry date %s" % (what, value, ctx.D))

    def inspection_divisions(self, r):  # §10.10
        d, typ = r["institution"]["division"], r["inspection_type"]
        if d != self.L:
            need(typ in CROSSING_TYPES, "cross-county",
                 "institution of division %s inspected as %s" % (d, typ))
            if typ == "city_direct":
                need(d[:4] == self.L[:4], "cross-county", "city_direct inspection outside the log's city")
        else:
            need(typ != "cross_county", "cross-county", "cross_county inspection of the log's own division")
        code = r["institution"]["code"]
        if self.inst_live(code):
            need(self.insts[code]["division"] == d, "reference",
                 "registered institution %s is of division %s, not %s"
                 % (code, self.insts[code]["division"], d))

    def finding_divisions(self, case):
        if case["institution"]["division"] != self.L:
            need(case["type"] in CROSSING_TYPES, "cross-county",
                 "finding in a %s case of another division" % case["type"])

    def decided_live(self, f):
        d = f["decided_by"]
        return d is not None and self.decisions[d]["live"]

    # -- institution_registered
    def lr_institution_registered(self, r, ctx, info):
        need(r["division"] == self.L, "cross-county", "registration of division %s" % r["division"])
        need(r["code"] not in self.insts, "duplicate", "institution %s registered before" % r["code"])

        def apply():
            self.insts[r["code"]] = {"seq": ctx.n, "live": True, "division": r["division"],
                                     "kind": r["institution_kind"], "status": "active",
                                     "latest_update": None, "before": None}
        return apply

    # -- institution_updated (§10.12)
    def status_rule(self, new, current):
        if new is not None:
            need(current != "terminated", "transition", "the institution is terminated (final)")
            need(new != current, "transition", "status %s does not change" % new)

    def lr_institution_updated(self, r, ctx, info):
        need(self.inst_live(r["code"]), "reference", "institution %s not registered and live" % r["code"])
        inst = self.insts[r["code"]]
        new = r["changes"].get("status")
        self.status_rule(new, inst["status"])

        def apply():
            inst["before"] = inst["status"]
            inst["latest_update"] = ctx.n
            if new is not None:
                inst["status"] = new
            if "institution_kind" in r["changes"]:
                inst["kind"] = r["changes"]["institution_kind"]
        return apply

    # -- inspection_opened
    def lr_inspection_opened(self, r, ctx, info):
        need(r["case_id"] not in self.cases, "duplicate", "case %s opened before" % r["case_id"])
        self.date_le_D(r["opened_on"], ctx, "opened_on")
        self.inspection_divisions(r)

        def apply():
            self.cases[r["case_id"]] = {"seq": ctx.n, "live": True, "institution": r["institution"],
                                        "type": r["inspection_type"], "opened_on": r["opened_on"]}
        return apply

    # -- finding
    def lr_finding(self, r, ctx, info):
        case = self.live_case(r["case_id"])
        need(r["finding_id"] not in self.findings, "duplicate", "finding %s recorded before" % r["finding_id"])
        self.finding_divisions(case)

        def apply():
            self.findings[r["finding_id"]] = {
                "seq": ctx.n, "live": True, "case_id": r["case_id"],
                "article": r["legal_basis"]["article"], "amount": r["amount_involved"],
                "author": ctx.author, "decided_by": None}
        return apply

    # -- decision
    def decision_log(self, r, ctx, replacing=None):
        case = self.live_case(r["case_id"])
        if replacing is None:
            need(r["decision_id"] not in self.decisions, "duplicate",
                 "decision %s made before" % r["decision_id"])
        self.date_le_D(r["decided_on"], ctx, "decided_on")
        need(r["decided_on"] >= case["opened_on"], "date",
             "decided_on %s before the case's opened_on %s" % (r["decided_on"], case["opened_on"]))
        for i, it in enumerate(r["items"]):
            ip = "items[%d]: " % i
            f = self.findings.get(it["finding_id"])
            need(f is not None, "reference", ip + "finding %s not in this log" % it["finding_id"])
            need(f["case_id"] == r["case_id"], "reference", ip + "finding of another case")
            need(f["live"], "reference", ip + "finding withdrawn")
            if self.decided_live(f) and f["decided_by"] != replacing:
                raise Breach("duplicate", ip + "finding already decided by %s" % f["decided_by"])
            need(it["recovered"] <= f["amount"], "money", ip + "recovered above the finding's amount_involved")
            if "fine" in it:
                fine = it["fine"]
                art = POLICY["articles"].get(f["article"])
                need(art is not None, "legal-basis", ip + "article %d unknown" % f["article"])
                if art[1] == "multiple":
                    need("multiple" in fine, "penalty-range", ip + "fine under art. %d needs a multiple" % f["article"])
                    need(art[2] <= fine["multiple"] <= art[3], "penalty-range",
                         ip + "fine multiple %d outside %d-%d" % (fine["multiple"], art[2], art[3]))
                else:
                    need("multiple" not in fine, "penalty-range", ip + "art. %d fine is flat" % f["article"])
                    need(art[2] <= fine["amount"] <= art[3], "penalty-range",
                         ip + "flat fine %d outside %d-%d" % (fine["amount"], art[2], art[3]))
                if "multiple" in fine:
                    need(fine["basis"] <= f["amount"], "money", ip + "fine basis above amount_involved")
            need(not self.same_officer(ctx.author, f["author"]), "separation-of-duties",
                 ip + "the decision's officer recorded finding %s" % it["finding_id"])
        return case

    def lr_decision(self, r, ctx, info):
        self.decision_log(r, ctx)

        def apply():
            did = r["decision_id"]
            fids = set(it["finding_id"] for it in r["items"])
            self.decisions[did] = {"seq": ctx.n, "live": True, "case_id": r["case_id"],
                                   "decided_on": r["decided_on"], "findings": fids}
            for fid in fids:
                self.findings[fid]["decided_by"] = did
        return apply

    # -- rectification
    def ritem_refs(self, r):
        if "case_id" in r:
            case = self.live_case(r["case_id"])
            need(case["institution"]["code"] == r["institution"], "reference",
                 "institution %s is not the case's %s" % (r["institution"], case["institution"]["code"]))
        else:
            need(self.inst_live(r["institution"]), "reference",
                 "institution %s not registered and live" % r["institution"])

    def lr_rectification_item(self, r, ctx, info):
        need(r["item_id"] not in self.ritems, "duplicate", "item %s created before" % r["item_id"])
        self.ritem_refs(r)

        def apply():
            self.ritems[r["item_id"]] = {"seq": ctx.n, "live": True, "status": "open",
                                         "latest_update": None}
        return apply

    def lr_rectification_update(self, r, ctx, info):
        it = self.ritems.get(r["item_id"])
        need(it is not None and it["live"], "reference", "item %s not live" % r["item_id"])
        self.date_le_D(r["on"], ctx, "on")
        need(NEXT_STEP.get(it["status"]) == r["status"], "transition",
             "%s -> %s is not the next step" % (it["status"], r["status"]))

        def apply():
            it["status"] = r["status"]
            it["latest_update"] = ctx.n
        return apply

    # -- grades
    def grade_refs(self, r):
        need(r["division"] == self.L, "origin", "grade set of division %s" % r["division"])

    def grade_registration(self, r):
        if any(i["live"] for i in self.insts.values()):
            for a in r["grades"]:
                need(self.inst_live(a["institution"]), "reference",
                     "graded institution %s not registered and live" % a["institution"])

    def lr_grade_set(self, r, ctx, info):
        self.grade_refs(r)
        k = (r["division"], r["period"])
        need(k not in self.gsets, "duplicate", "a grade set for %s %s exists" % k)
        self.grade_registration(r)

        def apply():
            self.gsets[k] = {"seq": ctx.n, "live": True,
                             "insts": set(a["institution"] for a in r["grades"])}
        return apply

    def revision_log(self, r):
        gs = self.gsets.get((r["division"], r["period"]))
        need(gs is not None, "reference", "no grade set for %s %s" % (r["division"], r["period"]))
        need(gs["live"], "reference", "the grade set is withdrawn")
        need(r["institution"] in gs["insts"], "reference", "%s is not graded in the set" % r["institution"])

    def lr_grade_revision(self, r, ctx, info):
        self.revision_log(r)
        return None

    # -- exposure notices
    def notice_log(self, r, ctx, replacing=None):
        if replacing is None:
            need(r["notice_id"] not in self.notices, "duplicate", "notice %s published before" % r["notice_id"])
        case = self.live_case(r["case_id"], "exposure-reference")
        d = self.decisions.get(r["decision_id"])
        need(d is not None, "exposure-reference", "decision %s not in this log" % r["decision_id"])
        need(d["live"], "exposure-reference", "decision %s withdrawn" % r["decision_id"])
        need(d["case_id"] == r["case_id"], "exposure-reference", "decision of another case")
        need(case["institution"]["code"] == r["institution"]["code"], "exposure-reference",
             "institution.code is not the case's")
        if replacing is not None:
            need(r["decision_id"] == replacing["decision_id"], "correction",
                 "replacement notice publishes another decision")
        self.date_le_D(r["published_on"], ctx, "published_on")
        need(r["published_on"] >= d["decided_on"], "date", "published_on before the decision's decided_on")

    def lr_exposure_notice(self, r, ctx, info):
        self.notice_log(r, ctx)

        def apply():
            self.notices[r["notice_id"]] = {"seq": ctx.n, "live": True, "decision_id": r["decision_id"]}
        return apply

    # -- corrections (§10.15)
    def lr_correction(self, r, ctx, info):
        t = r["target_seq"]
        need(t < ctx.n, "correction", "target_seq %d is not before %d" % (t, ctx.n))
        te = self.entries[t]
        # SPEC-GAP (§10.15 rule 1 "the entry exists"): an entry that itself failed
        # verification is treated as not existing.
        need(te["ok"], "correction", "target entry %d is not a valid entry" % t)
        need(te["kind"] == r["target_kind"], "correction",
             "target entry is a %s, not a %s" % (te["kind"], r["target_kind"]))
        need(not te["withdrawn"], "correction", "target entry %d is withdrawn" % t)
        rep = r.get("__rep")
        effect = getattr(self, "corr_" + te["kind"])(t, te["cur"], rep, ctx)

        def apply():
            if effect:
                effect()
            if rep is None:
                te["withdrawn"] = True
            else:
                te["cur"] = rep
        return apply

    def keep(self, cond, what):
        need(cond, "correction", "the replacement changes %s" % what)

    def corr_institution_registered(self, t, cur, rep, ctx):
        inst = self.insts[cur["code"]]
        if rep is None:
            return lambda: inst.update(live=False)
        self.keep(rep["code"] == cur["code"], "code")
        need(rep["division"] == self.L, "cross-county", "registration of division %s" % rep["division"])
        return lambda: inst.update(kind=rep["institution_kind"], division=rep["division"])

    def corr_institution_updated(self, t, cur, rep, ctx):
        inst = self.insts[cur["code"]]
        need(inst["latest_update"] == t, "correction",
             "entry %d is not the institution's most recent (live) update" % t)
        if rep is None:
            return lambda: inst.update(status=inst["before"], latest_update=None)
        self.keep(rep["code"] == cur["code"], "code")
        need(inst["live"], "reference", "institution %s not registered and live" % cur["code"])
        new = rep["changes"].get("status")
        self.status_rule(new, inst["before"])
        return lambda: inst.update(status=new if new is not None else inst["before"])

    def corr_inspection_opened(self, t, cur, rep, ctx):
        cid = cur["case_id"]
        case = self.cases[cid]
        live_findings = any(f["live"] and f["case_id"] == cid for f in self.findings.values())
        if rep is None:
            need(not live_findings, "correction", "case %s has live findings" % cid)
            return lambda: case.update(live=False)
        self.keep(rep["case_id"] == cid, "case_id")
        if live_findings:
            self.keep(rep["institution"]["code"] == case["institution"]["code"],
                      "institution.code of a case with live findings")
        self.date_le_D(rep["opened_on"], ctx, "replacement.opened_on")
        self.inspection_divisions(rep)
        return lambda: case.update(institution=rep["institution"], type=rep["inspection_type"],
                                   opened_on=rep["opened_on"])

    def corr_finding(self, t, cur, rep, ctx):
        f = self.findings[cur["finding_id"]]
        need(not self.decided_live(f), "correction", "finding decided by live decision %s" % f["decided_by"])
        if rep is None:
            return lambda: f.update(live=False)
        self.keep(rep["finding_id"] == cur["finding_id"], "finding_id")
        self.keep(rep["case_id"] == cur["case_id"], "case_id")
        case = self.live_case(rep["case_id"])
        self.finding_divisions(case)
        return lambda: f.update(article=rep["legal_basis"]["article"], amount=rep["amount_involved"])

    def corr_decision(self, t, cur, rep, ctx):
        did = cur["decision_id"]
        d = self.decisions[did]
        need(not any(x["live"] and x["decision_id"] == did for x in self.notices.values()),
             "correction", "a live exposure notice publishes decision %s" % did)
        if rep is None:
            def withdraw():
                d["live"] = False
                for fid in d["findings"]:
                    if self.findings[fid]["decided_by"] == did:
                        self.findings[fid]["decided_by"] = None
            return withdraw
        self.keep(rep["decision_id"] == did, "decision_id")
        self.keep(rep["case_id"] == cur["case_id"], "case_id")
        # SPEC-GAP (§10.15 decision row): "every decision log rule" must exclude
        # "decision_id new", or no replacement could ever pass.
        self.decision_log(rep, ctx, replacing=did)
        self.keep(set(it["finding_id"] for it in rep["items"]) == d["findings"], "the set of findings")
        return lambda: d.update(decided_on=rep["decided_on"])

    def corr_rectification_item(self, t, cur, rep, ctx):
        it = self.ritems[cur["item_id"]]
        if rep is None:
            return lambda: it.update(live=False)
        self.keep(rep["item_id"] == cur["item_id"], "item_id")
        self.ritem_refs(rep)
        return None

    def corr_rectification_update(self, t, cur, rep, ctx):
        it = self.ritems[cur["item_id"]]
        need(it["latest_update"] == t, "correction", "entry %d is not the item's most recent (live) update" % t)
        if rep is None:
            return lambda: it.update(status=PREV_STEP[it["status"]], latest_update=None)
        self.keep(rep["item_id"] == cur["item_id"], "item_id")
        self.keep(rep["status"] == cur["status"], "status")
        self.date_le_D(rep["on"], ctx, "replacement.on")
        return None

    def corr_grade_set(self, t, cur, rep, ctx):
        gs = self.gsets[(cur["division"], cur["period"])]
        if rep is None:
            return lambda: gs.update(live=False)
        self.keep(rep["division"] == cur["division"], "division")
        self.keep(rep["period"] == cur["period"], "period")
        self.grade_refs(rep)
        self.grade_registration(rep)
        return lambda: gs.update(insts=set(a["institution"] for a in rep["grades"]))

    def corr_grade_revision(self, t, cur, rep, ctx):
        if rep is None:
            return None
        for k in ("division", "period", "institution"):
            self.keep(rep[k] == cur[k], k)
        self.revision_log(rep)
        return None

    def corr_exposure_notice(self, t, cur, rep, ctx):
        nt = self.notices[cur["notice_id"]]
        if rep is None:
            return lambda: nt.update(live=False)
        self.keep(rep["notice_id"] == cur["notice_id"], "notice_id")
        self.notice_log(rep, ctx, replacing=nt)
        return None


# ---------------------------------------------------------------------------------------
# §11 the bundle
# ---------------------------------------------------------------------------------------

LOG_KEYS = ["name", "vkey", "origin", "entries", "division", "checkpoints", "genesis_key",
            "cosignatures"]
ORIGIN_PREFIX = "yibao.ledger/v1/blake3/"


class Report:
    def __init__(self, out=sys.stdout):
        self.lines = []
        self.out = out
        self.failed_items = set()
        self.warnings = []

    def fail(self, where, item, rule, msg):
        line = "FAIL %s %s: %s: %s" % (where, item, rule, msg)
        self.lines.append(line)
        self.failed_items.add((where, item))
        print(line, file=self.out)

    def warn(self, where, msg):
        line = "WARN %s: %s" % (where, msg)
        self.warnings.append(line)
        print(line, file=self.out)


def verify_bundle(data, pins, trust_bundle, witnesses, report):
    """Returns (logs, entries, checkpoints, items) counted."""
    counts = {"logs": 0, "entries": 0, "checkpoints": 0, "items": 0}
    try:
        b = canonical_decode(data, "bundle")
    except CborError as exc:
        report.fail("bundle", "-", "encoding", str(exc))
        counts["items"] += 1
        return counts
    if type(b) is not list or len(b) != 3 or b[0] != "yibao-bundle" or type(b[2]) is not list:
        report.fail("bundle", "-", "encoding", 'not ["yibao-bundle", 1, [log, ...]] (§11)')
        counts["items"] += 1
        return counts
    if type(b[1]) is not int or b[1] != 1:
        report.fail("bundle", "-", "version", "unknown bundle version %r" % (b[1],))
        counts["items"] += 1
        return counts
    if not b[2]:
        # SPEC-GAP (§11): whether a bundle may hold no log is not said; nothing to verify.
        report.fail("bundle", "-", "encoding", "the bundle holds no log")
        counts["items"] += 1
    origins = set()
    for li, log in enumerate(b[2]):
        counts["logs"] += 1
        counts["items"] += 1
        where = "log[%d]" % li
        if type(log) is not dict or sorted(log) != sorted(LOG_KEYS):
            report.fail(where, "-", "encoding", "a log is a map of exactly the 8 keys of §11")
            continue
        types = {"name": str, "vkey": str, "origin": str, "entries": list, "division": str,
                 "checkpoints": list, "genesis_key": bytes, "cosignatures": list}
        bad = [k for k, t in types.items() if type(log[k]) is not t]
        bad += [k for k in ("checkpoints", "cosignatures") if type(log[k]) is list
                and any(type(x) is not str for x in log[k])]
        bad += [k for k in ("entries",) if type(log[k]) is list and any(type(x) is not bytes for x in log[k])]
        if type(log["genesis_key"]) is bytes and len(log["genesis_key"]) != 32:
            bad.append("genesis_key")
        if bad:
            report.fail(where, "-", "encoding", "wrong CBOR type for %s (§11)" % ", ".join(sorted(set(bad))))
            continue
        origin = log["origin"]
        where = origin
        verify_log(log, where, pins, trust_bundle, witnesses, report, counts, origins)
    for name in pins:
        if name not in origins:
            report.fail("pinned " + name, "-", "missing", "a key is pinned for this log but the bundle does not hold it")
            counts["items"] += 1
    return counts


def verify_log(log, where, pins, trust_bundle, witnesses, report, counts, origins):
    origin, division, gk = log["origin"], log["division"], log["genesis_key"]
    header_ok = True

    def hfail(rule, msg):
        nonlocal header_ok
        header_ok = False
        report.fail(where, "header", rule, msg)

    if origin in origins:
        hfail("duplicate", "two logs with this origin in the bundle")
    origins.add(origin)
    if not (re.fullmatch(r"[0-9]{6}", division) and division[:2] in PROVINCES):
        hfail("origin", "division %r is not a division code (§2)" % division)
    if origin != ORIGIN_PREFIX + division:
        hfail("origin", "origin is not %r + division" % ORIGIN_PREFIX)
    kp = key_problem(gk)
    if kp:
        hfail("key", "genesis_key is " + kp)
    if log["vkey"] != make_vkey(origin, gk):
        hfail("vkey", "vkey is not the verifier key of genesis_key under the origin")
    if origin in pins:
        if log["vkey"] not in pins[origin]:
            hfail("pinned-key", "the log's key is not the pinned verifier key (--vkey)")
    elif not trust_bundle:
        hfail("pinned-key", "no --vkey pins this log's key (pass --trust-bundle to trust the bundle's own key)")

    v = LogVerifier(origin, division, log["name"], gk,
                    lambda seq, rule, msg: report.fail(where, "seq %d" % seq, rule, msg),
                    lambda seq, msg: report.warn("%s seq %d" % (where, seq), msg))

    # checkpoints, by size
    cps = []
    for i, text in enumerate(log["checkpoints"]):
        try:
            cps.append((i, text) + parse_checkpoint(text))
        except ValueError as exc:
            report.fail(where, "checkpoint[%d]" % i, "checkpoint", str(exc))
            counts["items"] += 1
    counts["checkpoints"] += len(log["checkpoints"])
    sizes = [c[4] for c in cps]
    if sizes != sorted(sizes):
        # SPEC-GAP (§11 "by size"): read as a description, not a rule (the reference agrees).
        report.warn(where, "checkpoints are not in order of size")
    by_size = {}
    for c in cps:
        by_size.setdefault(c[4], []).append(c)
    entries = log["entries"]
    counts["entries"] += len(entries)
    counts["items"] += len(entries)
    bodies = []  # checkpoint bodies that verified, for cosignatures

    def check_cps(size):
        for (i, text, body, corigin, csize, root, sigs) in by_size.get(size, []):
            counts["items"] += 1
            item = "checkpoint size %d" % size
            if corigin != origin:
                report.fail(where, item, "checkpoint", "origin line %r is not the log's" % corigin)
                continue
            if root != v.tree.root():
                report.fail(where, item, "checkpoint", "root is not the Merkle root of the first %d entries" % size)
                continue
            key = v.B
            if key is None:
                # SPEC-GAP (§6): no key is in force at size 0 (B is "none before entry 0").
                report.fail(where, item, "checkpoint", "no bureau key is in force at size %d" % size)
                continue
            # SPEC-GAP (§6): signature lines of other keys are ignored (C2SP signed-note);
            # every line of the key in force must verify, and there must be one at least.
            kid_in_force = key_id(origin, 1, key)
            lines_in_force = [s_ for (n_, k_, s_) in sigs if n_ == origin and k_ == kid_in_force]
            if not lines_in_force:
                report.fail(where, item, "checkpoint",
                            "no signature line by the bureau key in force at size %d (%d line(s) of other keys)"
                            % (size, len(sigs)))
                continue
            bad = []
            for s_ in lines_in_force:
                ok, why = verify_sig(key, body.encode(), s_) if len(s_) == 64 else (False, "not 64 bytes")
                if not ok:
                    bad.append(why)
            if bad:
                report.fail(where, item, "checkpoint", "signature by the bureau key in force: " + bad[0])
                continue
            bodies.append(body)

    check_cps(0)
    for n, eb in enumerate(entries):
        v.append(n, eb)
        check_cps(n + 1)
    for s in by_size:
        if s > len(entries):
            for _ in by_size[s]:
                counts["items"] += 1
                report.fail(where, "checkpoint size %d" % s, "checkpoint",
                            "size larger than the %d entries of the bundle" % len(entries))
    # §6 says the node keeps one checkpoint at least every 1,024 entries; §11 does not make
    # it a verification step, so a longer gap is a warning only.
    kept = sorted(set([0] + [s for s in sizes if s <= len(entries)]))
    gaps = [(a, b) for a, b in zip(kept, kept[1:]) if b - a > 1024]
    if gaps:
        report.warn(where, "%d gap(s) of more than 1,024 entries between kept checkpoints "
                    "(first: %d to %d; §6)" % (len(gaps), gaps[0][0], gaps[0][1]))
    if not cps or max(sizes) != len(entries):
        hfail("checkpoint", "the last checkpoint does not cover every entry (%d)" % len(entries))
    # §7 cosignatures: syntax; verified only against witness keys given with --witness.
    for i, line in enumerate(log["cosignatures"]):
        try:
            wname, wkid, ts, wsig = parse_cosignature(line)
        except ValueError as exc:
            hfail("cosignature", "cosignatures[%d]: %s" % (i, exc))
            continue
        if wname in witnesses:
            _, pkid, wpk = witnesses[wname]
            if wkid != pkid:
                hfail("cosignature", "cosignatures[%d]: key ID is not the witness key's" % i)
            elif not any(verify_sig(wpk, cosignature_message(ts, body), wsig)[0] for body in bodies):
                hfail("cosignature", "cosignatures[%d]: cosigns no checkpoint of this log" % i)


# ---------------------------------------------------------------------------------------
# Self-test against the frozen vectors and the examples of SPEC.md
# ---------------------------------------------------------------------------------------

def json_to_value(t, v):
    """The JSON file form of §8 (informative) to the CBOR value."""
    if type(t) is str:
        if t == "bytes32":
            return bytes.fromhex(v)
        if t == "multiple":
            whole, _, frac = v.partition(".")
            assert len(frac) <= 3
            return int(whole) * 1000 + int((frac + "000")[:3])
        return v
    if t[0] == "list":
        return [json_to_value(t[1], x) for x in v]
    if t[0] == "struct":
        out = {}
        for name, ft, _ in t[1]:
            if name in v:
                out[name] = json_to_value(ft, v[name])
        return out
    if t[0] == "variant" and type(v) is dict:
        (name, inner), = v.items()
        return {name: json_to_value(t[2][name], inner)}
    return v


def json_record_payload(rec):
    kind = rec["kind"]
    if kind == "key_event":
        val = json_to_value(KEY_EVENTS[rec["event"]], rec)
    else:
        val = json_to_value(RECORDS[kind], rec)
        if kind == "correction" and "replacement" in rec:
            val["replacement"] = json_record_payload(rec["replacement"])
    return cenc(val)


class SelfTest:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("self-test FAIL: " + what)


def self_test(repo):
    st = SelfTest()
    ck = st.check

    # §1 canonical CBOR
    check_cbor2_matches_spec()
    ck(True, "cbor2 canonical order")
    good = [b"\x00", b"\x17", b"\x18\x18", b"\x19\x01\x00", b"\x20", b"\x40", b"\x60", b"\x80",
            b"\xa0", b"\xf4", b"\xf5", b"\xf6", bytes.fromhex("a26161016162820102"),
            bytes.fromhex("a2616101626161f6"), b"\x81" * 63 + b"\x80"]
    for g in good:
        try:
            canonical_decode(g)
            ck(True, "")
        except CborError as exc:
            ck(False, "§1 refuses canonical %s: %s" % (g.hex(), exc))
    bad = {"float": "f93c00", "float64": "fb3ff0000000000000", "tag": "c11a514b67b0",
           "bignum": "c249010000000000000000", "undefined": "f7", "simple16": "f0",
           "non-shortest": "1817", "non-shortest-len": "5800", "indefinite bytes": "5f41ff",
           "indefinite array": "9f01ff", "indefinite map": "bf616101ff", "unsorted": "a2616201616102",
           "longer key first": "a262616101616102", "duplicate key": "a2616101616102",
           "int key": "a10101", "trailing": "0000", "bad utf8": "62c328", "65 levels": "81" * 64 + "80",
           "truncated": "62c3", "negative zero-length head": "3800"}
    for what, hx in bad.items():
        try:
            canonical_decode(bytes.fromhex(hx))
            ck(False, "§1 accepts %s (%s)" % (what, hx))
        except CborError:
            ck(True, "")
    # §8 field tables are in canonical order
    def canon_order(fields):
        names = [f[0] for f in fields]
        return names == sorted(names, key=lambda s: cenc(s))
    for kind, t in list(RECORDS.items()) + list(KEY_EVENTS.items()):
        ck(canon_order(t[1]), "§8 table of %s is not in canonical order" % kind)
    for name, t in (("institution ref", INSTREF), ("penalty", PENALTY)):
        ck(canon_order(t[1]), "§8 %s order" % name)
    ck(LOG_KEYS == sorted(LOG_KEYS, key=lambda s: cenc(s)), "§11 log keys order")

    # §5 signature rule
    sk = nacl.signing.SigningKey(b"\x42" * 32)
    pk = bytes(sk.verify_key)
    msg = b"yibao self-test"
    sig = sk.sign(msg).signature
    ck(verify_sig(pk, msg, sig)[0], "honest signature accepted")
    ck(verify_exact(pk, msg, sig), "exact rule accepts honest signature")
    ck(not verify_sig(pk, msg + b"x", sig)[0], "wrong message refused")
    s_plus_l = (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    ck(not verify_sig(pk, msg, sig[:32] + s_plus_l)[0], "S + L refused (§5 (1))")
    small = ["0100000000000000000000000000000000000000000000000000000000000000",
             "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
             "0000000000000000000000000000000000000000000000000000000000000000",
             "0000000000000000000000000000000000000000000000000000000000000080",
             "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
             "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
             "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
             "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"]
    for hx in small:
        kb = bytes.fromhex(hx)
        ck(key_problem(kb) is not None, "small-order key %s refused" % hx)
    noncanon = ["edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p
                "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p + 1
                "0100000000000000000000000000000000000000000000000000000000000080",  # -0, y = 1
                "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"]  # -0, y = p-1
    for hx in noncanon:
        ck(decompress(bytes.fromhex(hx)) is None, "non-canonical encoding %s refused" % hx)
    t8 = decompress(bytes.fromhex(small[4]))
    ck(t8 is not None and _peq(_pmul(8, t8), IDENT) and not _peq(_pmul(4, t8), IDENT), "order-8 point")
    # a key with a torsion component: A + T8
    a_scalar = int.from_bytes(hashlib.sha512(b"\x42" * 32).digest()[:32], "little")
    a_scalar &= (1 << 254) - 8
    a_scalar |= 1 << 254
    apt = _pmul(a_scalar, BASE)
    ck(_compress(apt) == pk, "pure-Python public key matches libsodium")
    ck(key_problem(_compress(_padd(apt, t8))) is not None, "mixed-order key refused (§5 (3))")
    # R with a torsion component: cofactored rule accepts, libsodium refuses
    r_scalar = 123456789
    R = _padd(_pmul(r_scalar, BASE), t8)
    Rb = _compress(R)
    k = int.from_bytes(hashlib.sha512(Rb + pk + msg).digest(), "little") % L
    S = (r_scalar + k * a_scalar) % L
    tsig = Rb + S.to_bytes(32, "little")
    libsodium = True
    try:
        nacl.signing.VerifyKey(pk).verify(msg, tsig)
    except Exception:
        libsodium = False
    ck(not libsodium, "libsodium refuses a torsion R (cofactorless)")
    ck(verify_sig(pk, msg, tsig)[0], "§5 (cofactored) accepts a torsion R")

    # §4 Merkle, BLAKE3 and RFC 6962 SHA-256 vectors
    sha = lambda d: hashlib.sha256(d).digest()  # noqa: E731
    for hname, hf in (("blake3", H), ("rfc6962-sha256", sha)):
        base = os.path.join(repo, "ledger/tests/vectors", hname)
        tr = json.load(open(os.path.join(base, "tree-roots.json")))
        leaves = [bytes.fromhex(x) for x in tr["leaf_inputs_hex"]] if "leaf_inputs_hex" in tr else None
        roots = tr.get("root_hashes_hex_by_size")
        if leaves is None:
            key_l = [k for k in tr if "leaf" in k.lower()][0]
            key_r = [k for k in tr if "root" in k.lower()][0]
            leaves = [bytes.fromhex(x) for x in tr[key_l]]
            roots = tr[key_r]
        for n in range(len(leaves) + 1):
            ck(mth(leaves[:n], hf).hex() == roots[n], "%s MTH of size %d" % (hname, n))
            if hf is H:
                ct = CompactTree()
                for x in leaves[:n]:
                    ct.append(leaf_hash(x))
                ck(ct.root().hex() == roots[n], "incremental root of size %d" % n)
        for f in sorted(glob.glob(os.path.join(base, "inclusion", "**", "*.json"), recursive=True)):
            c = json.load(open(f))
            dec = lambda s: base64.b64decode(s) if s is not None else b""  # noqa: E731
            got = verify_inclusion(c["leafIdx"], c["treeSize"], dec(c["leafHash"]),
                                   [dec(p) for p in (c["proof"] or [])], dec(c["root"]), hf)
            ck(got == (not c["wantErr"]), "%s inclusion %s" % (hname, os.path.relpath(f, base)))
        for f in sorted(glob.glob(os.path.join(base, "consistency", "**", "*.json"), recursive=True)):
            c = json.load(open(f))
            dec = lambda s: base64.b64decode(s) if s is not None else b""  # noqa: E731
            got = verify_consistency(c["size1"], c["size2"], dec(c["root1"]), dec(c["root2"]),
                                     [dec(p) for p in (c["proof"] or [])], hf)
            want = not c["wantErr"]
            if hname == "rfc6962-sha256" and c["size1"] == 0 < c["size2"] and got and not want:
                want = True  # SPEC §4's own convention for size 0 (transparency-dev refuses)
            ck(got == want, "%s consistency %s" % (hname, os.path.relpath(f, base)))

    # §6/§7 notes
    ex = json.load(open(os.path.join(repo, "schema/tests/vectors/signed-note-example.json")))
    name, kid, epk = parse_vkey(ex["verifier_key"])
    text, _, sigblock = ex["signed_note"].rpartition("\n\n")
    ck(text + "\n" == ex["note_text"], "signed-note split")
    sname, raw = parse_sig_line(sigblock.rstrip("\n"), 68)
    ck(sname == name and raw[:4] == kid, "signed-note key ID")
    ck(verify_sig(epk, ex["note_text"].encode(), raw[4:])[0], "C2SP signed-note example signature")
    co = json.load(open(os.path.join(repo, "schema/tests/vectors/tlog-checkpoint-cosignature-example.json")))
    lines = co["signed_checkpoint"].split("\n")
    body = "\n".join(lines[:3]) + "\n"
    ck(lines[0] == co["origin"] and int(lines[1]) == co["tree_size"] and lines[2] == co["root_hash_base64"],
       "tlog-checkpoint body")
    wname, wkid, wts, _ = parse_cosignature(lines[5])
    ck(wname == co["cosigner_name"] and wkid.hex() == co["cosigner_key_id_hex"]
       and wts == co["cosignature_timestamp"], "cosignature line key ID and timestamp")
    ck(cosignature_message(wts, body).startswith(b"cosignature/v1\ntime 1679315147\n"), "cosigned message")

    # §3 entries.json: reproduce every value, then verify the three entries as a log
    ev = json.load(open(os.path.join(repo, "schema/tests/vectors/entries.json")))
    keys = {}
    for kname, kv in ev["keys"].items():
        ksk = nacl.signing.SigningKey(bytes.fromhex(kv["seed"]))
        ck(bytes(ksk.verify_key).hex() == kv["public"], "entries.json key %s" % kname)
        keys[kname] = ksk
    origin = ev["origin"]
    prev = b"\x00" * 32
    entry_bytes = []
    for e in ev["entries"]:
        tag = "entries.json seq %d " % e["seq"]
        payload = json_record_payload(e["record"])
        ck(payload.hex() == e["payload"], tag + "payload")
        ck(H(payload).hex() == e["payload_hash"], tag + "payload_hash")
        ksk = keys[e["author"]]
        statement = cenc([1, origin, e["timestamp_ms"], bytes(ksk.verify_key), e["kind"], H(payload),
                          len(payload)])
        ck(statement.hex() == e["statement"], tag + "statement")
        ck((STATEMENT_PREFIX + statement).hex() == e["signing_message"], tag + "signing_message")
        sig = ksk.sign(STATEMENT_PREFIX + statement).signature
        ck(sig.hex() == e["signature"], tag + "signature")
        ck(cenc([1, statement, sig, payload]).hex() == e["submission"], tag + "submission")
        ck(prev.hex() == e["prev"], tag + "prev")
        eb = cenc([1, e["seq"], prev, statement, sig, payload])
        ck(eb.hex() == e["entry"], tag + "entry")
        ck(leaf_hash(eb).hex() == e["leaf_hash"], tag + "leaf_hash")
        prev = leaf_hash(eb)
        entry_bytes.append(bytes.fromhex(e["entry"]))
    fails = []
    g0 = decode_record("key_event", bytes.fromhex(ev["entries"][0]["payload"]))
    lv = LogVerifier(origin, origin[len(ORIGIN_PREFIX):], g0["name"], bytes(keys["bureau"].verify_key),
                     lambda s, r, m: fails.append((s, r, m)))
    for n, eb in enumerate(entry_bytes):
        lv.append(n, eb)
    ck(not fails, "entries.json verifies as a log: %s" % fails)
    # the same log with one byte flipped in entry 1's payload
    fails.clear()
    lv = LogVerifier(origin, origin[len(ORIGIN_PREFIX):], g0["name"], bytes(keys["bureau"].verify_key),
                     lambda s, r, m: fails.append((s, r, m)))
    t = bytearray(entry_bytes[1])
    t[-5] ^= 1
    for n, eb in enumerate([entry_bytes[0], bytes(t), entry_bytes[2]]):
        lv.append(n, eb)
    ck([f[0] for f in fails][:1] == [1] and any(f[0] == 2 and f[1] == "prev" for f in fails),
       "tampered entries.json reported at seq 1 and prev of 2: %s" % fails)

    # §8.13 worked examples
    ex1 = bytes.fromhex("a5636b6579582022fc297792f0b6ffc0bfcfdb7edb0c0aa14e025a365ec0e342e86e3829cb74b665"
                        "6576656e746d6f6666696365725f616464656465726f6c6573816d61646d696e6973747261746f72"
                        "677375726e616d6563e78e8b6a6f6666696365725f69646b3134313132353030313031")
    ck(len(ex1) == 115 and decode_record("key_event", ex1)["roles"] == ["administrator"], "§8.13 officer_added")
    ex2 = bytes.fromhex("a466726561736f6e63e694b96a7461726765745f736571056b7265706c6163656d656e745831a4626f"
                        "6e6a323032312d30322d3033646e6f7465616e66737461747573687665726966696564676974656d"
                        "5f69646249316b7461726765745f6b696e647472656374696669636174696f6e5f757064617465")
    c2 = decode_record("correction", ex2)
    ck(len(ex2) == 120 and c2["__rep"]["status"] == "verified", "§8.13 correction")
    # decision fragment of §8.13, completed as the text describes it
    dec = {"items": [{"damages": {"basis": 3, "amount": 5, "multiple": 1500}, "recovered": 3,
                      "finding_id": "F1"}],
           "totals": {"fines": 0, "total": 8, "damages": 5, "recovered": 3}, "case_id": "C1",
           "decided_on": "2021-01-02", "decision_id": "D1", "other_handling": []}
    db = cenc(dec)
    ck(db.hex().startswith("a6656974656d7381a36764616d61676573a36562617369730366616d6f756e7405"
                           "686d756c7469706c651905dc697265636f7665726564036a66696e64696e675f69646246"
                           "31"), "§8.13 decision example bytes")
    try:
        fr_decision(decode_record("decision", db), "")
        ck(True, "")
    except (Breach, EncodingErr) as exc:
        ck(False, "§8.13 decision example: %s" % exc)
    # §10.5 rounding examples
    for basis, m, want in ((3, 1500, 5), (1, 500, 1), (1, 499, 0), (11_184_300, 2000, 22_368_600),
                           (3_210_000, 1500, 4_815_000), (3_900_000, 3500, 13_650_000)):
        ck(round_penalty(basis, m) == want, "§10.5 rounding %d x %d" % (basis, m))
    ck(11_184_300 + round_penalty(11_184_300, 2000) == 33_552_900, "§12 money 111,843 x (1 + 2)")
    # §10.8 Hamilton table
    table = {1: (0, 1, 0, 0), 2: (1, 1, 0, 0), 3: (1, 1, 1, 0), 4: (1, 2, 1, 0), 5: (2, 2, 1, 0),
             6: (2, 2, 1, 1), 7: (2, 3, 1, 1), 8: (2, 3, 2, 1), 9: (3, 3, 2, 1), 10: (3, 4, 2, 1),
             11: (3, 5, 2, 1), 12: (4, 5, 2, 1), 20: (6, 8, 4, 2), 23: (7, 9, 5, 2)}
    for n, want in table.items():
        ck(tuple(apportion(n)) == want, "§10.8 apportionment n=%d: %s != %s" % (n, apportion(n), want))
    # §10.9 examples
    for p in ("景某", "钱某某", "欧阳某"):
        ck(masked_person(p), "masked person %s passes" % p)
    for p in ("景", "景某某某", "张三某", "某某", "John某"):
        ck(not masked_person(p), "masked person %s fails" % p)
    for s in ("患者张三", "负责人：王小明", "身份证110101199003071234", "电话13812345678",
              "电话138-1234-5678", "138 1234 5678", "11010119900307123X号", "１３８１２３４５６７８"):
        ck(personal_data(s) is not None, "personal data found in %s" % s)
    for s in ("院长景某", "参保人员", "患者周一入院", "该医院长期", "H14112500001", "111843元",
              "13812345678a", "A13812345678"):
        ck(personal_data(s) is None, "no personal data in %s" % s)
    # §10.4 text classes and the id type of §8.0
    for value, cls, ok in (("a\tb", NAME, False), ("a\tb", REASON, True), ("a\nb", FACTS, True),
                           ("a\r\nb", REASON, False), ("a\u202eb", NAME, False), ("a\u2069", SHORT, False),
                           ("\u3000 \u00a0", NAME, False), ("", SHORT, False), ("\u5c40" * 200, NAME, True),
                           (" " + "\u5c40" * 200, NAME, False), ("x\u0085", REASON, False),
                           ("\u5c40" * 2000, REASON, True), ("\u5c40" * 2001, REASON, False)):
        try:
            text_rule(value, cls, "t")
            got = True
        except Breach:
            got = False
        ck(got == ok, "§10.4 text %r (%d chars) in class %r" % (value[:8], len(value), cls))
    for value, ok in (("R 9", True), (" R", False), ("R\u3000", False), ("R\x01", False), ("x" * 64, True),
                      ("x" * 65, False), ("", False), ("\U00020000", True)):
        try:
            check_scalar("id", value, "id")
            got = True
        except EncodingErr:
            got = False
        ck(got == ok, "§8.0 id %r" % value)
    for t_, value, ok in (("division", "141125", True), ("division", "101125", False), ("division", "14112", False),
                          ("inst", "H14112500001", True), ("inst", "X14112500001", False),
                          ("date", "2024-02-29", True), ("date", "2021-02-29", False), ("date", "1899-12-31", False),
                          ("date", "2021-1-01", False), ("month", "2021-12", True), ("month", "2021-00", False),
                          ("period", "2021-Q4", True), ("period", "2021-q4", False), ("period", "2021-H3", False),
                          ("date", "\uff12\uff10\uff12\uff11-01-01", False)):
        try:
            check_scalar(t_, value, t_)
            got = True
        except EncodingErr:
            got = False
        ck(got == ok, "§8.0 %s %r" % (t_, value))
    # §10.3 entry date
    ck(entry_date(1700000000000) == "2023-11-15", "entry date")
    ck(entry_date(16 * 3600 * 1000 - 1) == "1970-01-01" and entry_date(16 * 3600 * 1000) == "1970-01-02",
       "entry date at CST midnight")
    print("self-test: %d passed, %d failed" % (st.passed, st.failed))
    return st.failed == 0


def _compress(pt):
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


# ---------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent verifier of Yibao Ledger export bundles "
                                             "(from schema/SPEC.md only).")
    ap.add_argument("bundle", nargs="?", help="the export bundle (SPEC §11)")
    ap.add_argument("--vkey", action="append", default=[],
                    help="a verifier key to pin (SPEC §6), <origin>+<key id>+<base64>; repeatable")
    ap.add_argument("--trust-bundle", action="store_true",
                    help="knowingly trust the bundle's own genesis key for logs without --vkey")
    ap.add_argument("--witness", action="append", default=[],
                    help="a witness verifier key (SPEC §7, type 0x04) to check cosignatures with")
    ap.add_argument("--self-test", action="store_true",
                    help="check this implementation against the frozen vectors and SPEC examples")
    ap.add_argument("--repo", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")),
                    help="repository root holding the vectors (for --self-test)")
    args = ap.parse_args(argv)
    check_cbor2_matches_spec()
    if args.self_test:
        ok = self_test(args.repo)
        if not args.bundle:
            return 0 if ok else 1
        if not ok:
            return 1
    if not args.bundle:
        ap.error("a BUNDLE or --self-test is required")
    pins = {}
    for s in args.vkey:
        try:
            name, _, _ = parse_vkey(s)
        except ValueError as exc:
            print("bad --vkey %r: %s" % (s, exc))
            return 1
        pins.setdefault(name, set()).add(s)
    witnesses = {}
    for s in args.witness:
        try:
            name, kid, wpk = parse_vkey(s, 4)
        except ValueError as exc:
            print("bad --witness %r: %s" % (s, exc))
            return 1
        witnesses[name] = (name, kid, wpk)
    t0 = time.monotonic()
    try:
        data = open(args.bundle, "rb").read()
    except OSError as exc:
        print("cannot read %s: %s" % (args.bundle, exc))
        return 1
    report = Report()
    c = verify_bundle(data, pins, args.trust_bundle, witnesses, report)
    dt = time.monotonic() - t0
    failed = len(report.failed_items)
    head = "independent verifier: %d log%s, %d entr%s, %d checkpoint%s" % (
        c["logs"], "" if c["logs"] == 1 else "s", c["entries"], "y" if c["entries"] == 1 else "ies",
        c["checkpoints"], "" if c["checkpoints"] == 1 else "s")
    sys.stderr.write("(%.2f s)\n" % dt)
    if failed == 0:
        print(head + ": OK")
        return 0
    print("%s: %d passed, %d failed" % (head, max(c["items"] - failed, 0), failed))
    return 1


if __name__ == "__main__":
    sys.exit(main())
