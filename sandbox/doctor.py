"""The signature doctor (SPEC B2): the most likely mistake behind a signature mismatch.

Given a request whose ``x-signature`` did not verify, ``diagnose`` recomputes the signature the
way clients commonly get it wrong and compares each result with the one sent
(``hmac.compare_digest``); the first variant that reproduces it names the mistake. The correct
PAYLOAD comes from ``sandbox.signing`` (the one implementation of the scheme); this module only
builds the *wrong* variants.

A candidate is one choice along each dimension, the default being the correct one:

- payload: how the body or query was turned into PAYLOAD (``json-spacing``, ``sorted-keys``,
  ``numbers-as-typed``, ``unicode-escape``, ``raw-body``, ``unsorted-query``, ...);
- method, path, timestamp: the other components (``lowercase-method``, ``missing-api-prefix``);
- structure: the components' order and separator (``component-order``, ``newline-separated``);
- algorithm: HMAC, key and message swapped, or a plain hash;
- secret: the configured one, another partner's, or one with stray whitespace.

The output encoding (upper-case hex, base64 in its forms) and the digest size (SHA-1, SHA-512)
cost nothing to try: they are read off the sent signature once, which is then compared as raw
digest bytes. Every deviation has a cost (a lower cost is a more common mistake); ``PLAN``, built
once at import, lists the correct candidate, every single deviation and the plausible pairs, by
increasing total cost, so single deviations come first. The search stops at the first match, or
when its estimated work reaches ``WORK_BUDGET``: the worst case (nothing matches) stays bounded
whatever the request (a large body or many partners only shortens the list of variants tried).

No output ever contains a secret: messages name a partner, never its secret, and any secret that
happens to appear in the request itself is masked.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import signing

# The work of one diagnosis is capped in units of about a nanosecond on the reference machine
# (2-core Xeon with SHA extensions, Python 3.11; bench/doctor_bench.py measures the result).
WORK_BUDGET = 3_000_000
DIGEST_WORK = 2_000  # per digest (with its share of the loop), plus a unit per byte hashed
SERIALIZE_WORK = 100  # per byte of a re-serialized body variant (pure Python)
MS_SCAN = 1000  # ms timestamps tried for "signed milliseconds" (the 1000 ms of the header's second)
SHOW_LIMIT = 200  # characters of a payload or StringToSign quoted in a message
HEADER_LIMIT = 500  # characters of ``header_value``

NO_KNOWN_VARIANT = "no-known-variant"
NOT_A_DIGEST = "not-a-digest"
VALID = "valid"


@dataclass(frozen=True)
class Finding:
    """What the doctor found for one failed request.

    ``matched`` is True when a variant reproduced the sent signature; ``code`` names it (its
    deviations joined with ``+``, e.g. ``json-spacing+uppercase-hex``) or says why nothing did
    (``no-known-variant``, ``not-a-digest``, ``valid``). ``message`` says in plain words what the
    client did and what to change. ``tried`` counts the digests computed. ``expected`` is the
    StringToSign the sandbox signed; ``signed`` the one the client apparently built (never a
    secret: for a plain hash of secret + StringToSign it is the StringToSign part).
    """

    matched: bool
    code: str
    message: str
    tried: int
    expected: bytes
    signed: bytes | None = None


# --------------------------------------------------------------------------- the plan

# Dimensions of a candidate, in the order of a PLAN entry (and of a code's parts).
PAYLOAD, METHOD, PATH, TIMESTAMP, STRUCTURE, ALGORITHM, SECRET = range(7)

_JSON_SPACINGS = {"json-spacing": 1.0, "indent-2": 1.45, "indent-4": 1.55}
_JSON_FLAGS = {
    "sorted-keys": 1.1,
    "numbers-as-typed": 1.15,
    "unicode-escape": 1.2,
    "escaped-slashes": 1.5,
}
# A library default makes several deviations at once; it costs about as much as one of them.
_LIBRARY_DEFAULTS = {
    frozenset({"json-spacing", "unicode-escape"}): 1.05,  # Python's json.dumps
    frozenset({"escaped-slashes", "unicode-escape"}): 1.25,  # PHP's json_encode
}
_OTHER_PAYLOADS = {
    "url-encoded-query": 1.0,
    "unsorted-query": 1.0,
    "url-encoded-query+unsorted-query": 1.05,  # the query string exactly as sent
    "query-in-path": 1.1,
    "leading-question-mark": 1.2,
    "leading-question-mark+url-encoded-query+unsorted-query": 1.3,
    "raw-body": 1.3,
    "stringified-body": 1.0,  # only when the sandbox signs raw bodies
    "empty-payload": 1.4,
    "query-for-post": 1.45,
    "empty-object-payload": 1.5,
    "json-query": 1.6,
}
_METHODS = {"lowercase-method": 1.1}
_PATHS = {"missing-api-prefix": 1.2, "trailing-slash": 1.3, "missing-leading-slash": 1.35}
# "milliseconds-signed" stands for MS_SCAN timestamps: tried alone, never in a pair.
_TIMESTAMPS = {"milliseconds-header": 1.3, "milliseconds-signed": 1.35}
_ALGORITHMS = {
    "swapped-key-message": 1.3,
    "hash-not-hmac": 1.3,
    "hash-secret-last": 1.5,
    "hash-no-secret": 1.6,
}
_SECRETS = {
    "partner-secret": 1.1,
    "secret-trailing-newline": 1.2,
    "secret-trailing-space": 1.5,
    "secret-stripped": 1.5,
}

_NAMES = {"M": "METHOD", "P": "PATH", "T": "TIMESTAMP", "B": "PAYLOAD"}
_ORDER_COSTS = {"TMPB": 1.2, "MTPB": 1.25, "MPBT": 1.3, "BMPT": 1.35}
_OTHER_ORDER_COST = 1.6
# separator -> (cost in the correct order, extra cost in another order, code)
_JOINERS = {
    "\n": (1.1, 0.4, "newline-separated"),
    "|": (1.4, 0.5, "pipe-separated"),
    "&": (1.45, 0.55, "ampersand-separated"),
}
_JSON_COSTS = {**_JSON_SPACINGS, **_JSON_FLAGS}
_MAX_COST = 2.7  # of a candidate: the least likely pairs are not worth their time (budget)


def _json_styles() -> dict[str, float]:
    """Every combination of JSON formatting mistakes (one spacing at most), with its cost."""
    styles: dict[str, float] = {}
    for spacing in (None, *_JSON_SPACINGS):
        for n in range(len(_JSON_FLAGS) + 1):
            for flags in itertools.combinations(_JSON_FLAGS, n):
                parts = ([spacing] if spacing else []) + list(flags)
                if not parts:
                    continue
                left, cost = set(parts), 0.0
                for combo, combo_cost in _LIBRARY_DEFAULTS.items():
                    if combo <= left:  # each part counts in one library default at most
                        left -= combo
                        cost += combo_cost
                styles["+".join(parts)] = cost + sum(_JSON_COSTS[p] for p in left)
    return styles


def _structures() -> dict[str, float]:
    """Structure ids (component order, then separator) with their costs."""
    out: dict[str, float] = {}
    for order in ("".join(p) for p in itertools.permutations("MPTB")):
        base = 0.0 if order == "MPTB" else _ORDER_COSTS.get(order, _OTHER_ORDER_COST)
        if base:
            out[order] = base
        for joiner, (alone, extra, _) in _JOINERS.items():
            out[order + joiner] = alone if order == "MPTB" else base + extra
    return out


_DIMENSIONS: tuple[dict[str, float], ...] = (
    {**_json_styles(), **_OTHER_PAYLOADS},
    _METHODS,
    _PATHS,
    _TIMESTAMPS,
    _structures(),
    _ALGORITHMS,
    _SECRETS,
)


def _pair_allowed(d1: int, id1: str, d2: int, id2: str) -> bool:
    if "milliseconds-signed" in (id1, id2):
        return False  # already MS_SCAN digests on its own
    # A plain hash without the secret cannot have picked the wrong secret.
    return not ((d1, id1) == (ALGORITHM, "hash-no-secret") and d2 == SECRET)


def _build_plan() -> tuple[tuple[str, ...], ...]:
    default = ("",) * len(_DIMENSIONS)
    ranked: list[tuple[float, tuple[str, ...]]] = [(0.0, default)]
    for d, alternatives in enumerate(_DIMENSIONS):
        for alt, cost in alternatives.items():
            if cost <= _MAX_COST:
                ranked.append((cost, (*default[:d], alt, *default[d + 1 :])))
    for d1, d2 in itertools.combinations(range(len(_DIMENSIONS)), 2):
        for (id1, c1), (id2, c2) in itertools.product(
            _DIMENSIONS[d1].items(), _DIMENSIONS[d2].items()
        ):
            if c1 + c2 <= _MAX_COST and _pair_allowed(d1, id1, d2, id2):
                entry = list(default)
                entry[d1], entry[d2] = id1, id2
                ranked.append((c1 + c2, tuple(entry)))
    ranked.sort(key=lambda item: item[0])  # stable: ties keep the declaration order
    return tuple(entry for _, entry in ranked)


PLAN = _build_plan()


# --------------------------------------------------------------------------- the sent signature

_DIGEST_NAMES = {32: "sha256", 64: "sha512", 20: "sha1", 16: "md5"}
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _targets(signature: str) -> list[tuple[bytes, str]]:
    """The digests the sent signature can encode, each with its encoding's code ('' = right)."""
    sig = signature.strip()
    found: list[tuple[bytes, str]] = []
    if len(sig) % 2 == 0 and len(sig) // 2 in _DIGEST_NAMES and _HEX_RE.fullmatch(sig):
        found.append((bytes.fromhex(sig), "" if sig == sig.lower() else "uppercase-hex"))
    for pattern, altchars, code in (
        (_BASE64_RE, None, "base64"),
        (_BASE64URL_RE, b"-_", "base64url"),
    ):
        if not pattern.fullmatch(sig):
            continue
        bare = sig.rstrip("=")
        try:
            digest = base64.b64decode(bare + "=" * (-len(bare) % 4), altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(digest) not in _DIGEST_NAMES or any(d == digest for d, _ in found):
            continue
        found.append((digest, code if "=" in sig or len(sig) % 4 == 0 else code + "-unpadded"))
    if found:  # one digest size (they never differ in practice): the first one's
        found = [t for t in found if len(t[0]) == len(found[0][0])]
    return found


# --------------------------------------------------------------------------- wrong payloads


class _Number(str):
    """A JSON number kept as typed, so a variant can print it either way."""

    __slots__ = ()


def _parse_typed(raw: bytes) -> Any:
    # Same text and same object semantics as signing.parse_json (already known to succeed).
    return json.loads(raw.decode("utf-8"), parse_float=_Number, parse_int=_Number)


_NON_ASCII_RE = re.compile(r"[^\x00-\x7e]")  # as json.dumps' ensure_ascii: DEL too


def _ascii_escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


@dataclass(frozen=True)
class _Style:
    """A JSON serialization as a (wrong) client produces it."""

    item_sep: str = ","
    key_sep: str = ":"
    indent: int = 0
    sort: bool = False
    typed: bool = False
    ascii: bool = False
    slashes: bool = False
    # number as typed -> as JavaScript prints it, shared by a request's variants
    printed: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, style_id: str, printed: dict[str, str]) -> _Style:
        parts = set(style_id.split("+"))
        indent = 2 if "indent-2" in parts else 4 if "indent-4" in parts else 0
        spaced = "json-spacing" in parts
        return cls(
            item_sep=", " if spaced else ",",
            key_sep=": " if spaced or indent else ":",
            indent=indent,
            sort="sorted-keys" in parts,
            typed="numbers-as-typed" in parts,
            ascii="unicode-escape" in parts,
            slashes="escaped-slashes" in parts,
            printed=printed,
        )

    def dump(self, value: Any, level: int = 0) -> str:
        if isinstance(value, _Number):
            if self.typed:
                return str.__str__(value)
            printed = self.printed.get(value)
            if printed is None:
                printed = self.printed[value] = signing.js_number(float(value))
            return printed
        if isinstance(value, str):
            text = signing.js_string(value)
            if self.ascii:
                text = _NON_ASCII_RE.sub(_ascii_escape, text)
            return text.replace("/", "\\/") if self.slashes else text
        if isinstance(value, dict):
            keys = sorted(value) if self.sort else list(value)
            items = [self.dump(k) + self.key_sep + self.dump(value[k], level + 1) for k in keys]
            return self._wrap("{", items, "}", level)
        if isinstance(value, list):
            return self._wrap("[", [self.dump(v, level + 1) for v in value], "]", level)
        return signing.js_stringify(value)  # true, false, null

    def _wrap(self, start: str, items: list[str], end: str, level: int) -> str:
        if not items:
            return start + end
        if not self.indent:
            return start + self.item_sep.join(items) + end
        inner = "\n" + " " * (self.indent * (level + 1))
        return start + inner + ("," + inner).join(items) + "\n" + " " * (self.indent * level) + end


_JSON_STYLE_IDS = frozenset(_json_styles())


class _Payloads:
    """The PAYLOAD variants of one request, built on first use; None when not applicable.

    A value is ``(payload, path_suffix)``: the suffix is what a client appended to PATH (the
    query string, for ``query-in-path``). A variant identical to the right PAYLOAD, or to one
    built before it (a likelier one), is None: it adds nothing.
    """

    def __init__(
        self,
        query: str,
        raw: bytes,
        body: signing.Body | None,
        canonical: bytes,
        raw_payload: bool,
    ) -> None:
        self.is_get = body is None  # a GET (or HEAD) signs its query, anything else its body
        self.query = query
        self.raw = raw
        self.body = body
        self.canonical = canonical
        self.raw_payload = raw_payload
        self.is_object = body is not None and bool(body.data)  # a non-empty JSON object
        self._printed: dict[str, str] = {}
        self._built: dict[str, tuple[bytes, bytes] | None] = {"": (canonical, b"")}
        self._seen = {(canonical, b"")}
        self.work = 0  # estimated work spent re-serializing the body (see WORK_BUDGET)
        self.refused = False  # a variant was not built for the work budget

    def get(self, variant: str, budget: int) -> tuple[bytes, bytes] | None:
        """The variant's value; a body re-serialization is not started beyond ``budget``."""
        try:
            return self._built[variant]
        except KeyError:
            pass
        if variant in _JSON_STYLE_IDS and self.is_object:
            cost = SERIALIZE_WORK * len(self.canonical)
            if "data" not in self.__dict__:
                cost *= 2  # the first one parses and walks the body too
            if cost > budget:
                self.refused = True
                return None  # not cached: a cheaper request may still find it affordable
            self.work += cost
        try:
            value = self._build(variant)
        except RecursionError:
            value = None
        if value is not None:
            if value in self._seen:
                value = None
            else:
                self._seen.add(value)
        self._built[variant] = value
        return value

    def _build(self, variant: str) -> tuple[bytes, bytes] | None:
        if variant in _JSON_STYLE_IDS:
            if not self.is_object or not self.effective.issuperset(variant.split("+")):
                return None
            style = _Style.parse(variant, self._printed)
            return style.dump(self.data).encode("utf-8"), b""
        query = self.query
        if variant == "empty-payload":
            return b"", b""
        if variant == "empty-object-payload":
            return b"{}", b""
        if variant == "query-in-path":
            if not query:
                return None
            return (b"" if self.is_get else self.canonical), ("?" + query).encode("utf-8")
        if not self.is_get:
            if variant == "raw-body" and self.raw and not self.raw_payload:
                return self.raw, b""
            if variant == "stringified-body" and self.raw_payload and self.body:
                return self.body.payload, b""
            if variant == "query-for-post" and query:
                return signing.canonical_query(query), b""
            return None
        make = _QUERY_VARIANTS.get(variant)
        if make is None or not query:
            return None
        return make(query).encode("utf-8"), b""

    @functools.cached_property
    def data(self) -> Any:
        """The body's object with its numbers as typed (parsed on first use: a large body may
        never get that far within the work budget)."""
        return _parse_typed(self.raw) if self.is_object else None

    @functools.cached_property
    def effective(self) -> set[str]:
        """The JSON formatting mistakes that change this body (a variant with one that does not
        would only repeat a likelier one, and be named after a mistake not made)."""
        found = set(_JSON_SPACINGS)
        stringified = self.body.payload if self.body else b""
        if _NON_ASCII_RE.search(stringified.decode("utf-8")):
            found.add("unicode-escape")
        if b"/" in stringified:
            found.add("escaped-slashes")
        if self.typed_example() is not None:
            found.add("numbers-as-typed")
        if any(list(v) != sorted(v) for v in self._values() if isinstance(v, dict)):
            found.add("sorted-keys")
        return found

    def _values(self) -> list[Any]:
        """Every value of the body, containers included, in document order."""
        out: list[Any] = []
        stack = [self.data]
        while stack:
            value = stack.pop()
            out.append(value)
            if isinstance(value, dict):
                stack.extend(reversed(list(value.values())))
            elif isinstance(value, list):
                stack.extend(reversed(value))
        return out

    def typed_example(self) -> tuple[str, str] | None:
        """A number typed differently from how JavaScript prints it: (typed, printed)."""
        for value in self._values():
            if isinstance(value, _Number):
                printed = signing.js_number(float(value))
                if printed != str.__str__(value):
                    return str.__str__(value), printed
        return None


def _sorted_raw(query: str) -> str:
    """The query's parts still URL-encoded, sorted by decoded key."""
    parts = [part for part in query.split("&") if part]
    return "&".join(sorted(parts, key=lambda part: signing.parse_query(part)[0][0]))


def _unsorted(query: str) -> str:
    params = signing.query_params(signing.parse_query(query))
    return "&".join(f"{k}={v}" for k, v in params.items())


_QUERY_VARIANTS: dict[str, Callable[[str], str]] = {
    "url-encoded-query": _sorted_raw,
    "unsorted-query": _unsorted,
    "url-encoded-query+unsorted-query": lambda q: q,
    "leading-question-mark": lambda q: "?" + signing.canonical_query(q).decode("utf-8"),
    "leading-question-mark+url-encoded-query+unsorted-query": lambda q: "?" + q,
    "json-query": lambda q: signing.js_stringify(signing.query_params(signing.parse_query(q))),
}


# --------------------------------------------------------------------------- digests


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class _Digests:
    """Computes the candidate digests, sharing each key's setup across messages.

    HMAC is written out (RFC 2104: H(K^opad + H(K^ipad + m))) over two hashlib states per key
    that are copied per message: the same idea as ``hmac.new(key).copy()`` at about half the
    cost (no Python wrapper per copy), which is what keeps the worst case within budget. The
    tests check it against ``hmac.digest`` for keys shorter and longer than a block.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.new: Callable[..., Any] = getattr(hashlib, name)
        self.block: int = self.new().block_size
        self._pads: dict[bytes, tuple[Any, Any]] = {}

    def pads(self, key: bytes) -> tuple[Any, Any]:
        """The hash states after K^ipad and K^opad."""
        pads = self._pads.get(key)
        if pads is None:
            block_key = self.new(key).digest() if len(key) > self.block else key
            block_key = block_key.ljust(self.block, b"\0")
            pads = (self.new(block_key.translate(_IPAD)), self.new(block_key.translate(_OPAD)))
            self._pads[key] = pads
        return pads

    def hmac(self, key: bytes, message: bytes) -> bytes:
        inner, outer = self.pads(key)
        h = inner.copy()
        h.update(message)
        o = outer.copy()
        o.update(h.digest())
        return bytes(o.digest())

    def digest(self, algorithm: str, key: bytes, message: bytes) -> bytes:
        if algorithm == "":
            return self.hmac(key, message)
        if algorithm == "swapped-key-message":
            return hmac.digest(message, key, self.name)
        if algorithm == "hash-not-hmac":
            return bytes(self.new(key + message).digest())
        if algorithm == "hash-secret-last":
            return bytes(self.new(message + key).digest())
        return bytes(self.new(message).digest())  # hash-no-secret


# --------------------------------------------------------------------------- the diagnosis

# structure id -> (component indexes in METHOD, PATH, TIMESTAMP, PAYLOAD order, separator)
_STRUCTURE_VALUES = {
    sid: (tuple("MPTB".index(c) for c in sid[:4]), sid[4:].encode()) for sid in _structures()
}


def diagnose(
    method: str,
    path: str,
    query_string: str,
    body: bytes,
    timestamp: str,
    signature: str,
    secret: str,
    partners: Mapping[str, str] | None = None,
    *,
    raw_payload: bool = False,
    parsed: signing.Body | None = None,
) -> Finding:
    """Find the signing mistake that reproduces ``signature`` for this request.

    ``path`` is the path as received (no query string), ``query_string`` the raw query,
    ``body`` the raw body bytes, ``timestamp`` and ``signature`` the headers as sent, ``secret``
    the secret the request was checked against and ``partners`` the other configured partners'
    secrets by name. ``raw_payload``: the sandbox signs POST bodies as raw bytes (B3's
    alternative). ``parsed``: ``signing.canonical_body(body)`` if the caller has it already.
    Pure: no I/O, and no secret in the result.
    """
    is_get = signing.signs_query(method)  # as the server decides what is signed
    if is_get:
        parsed = None
        canonical = signing.canonical_query(query_string)
    else:
        parsed = parsed or signing.canonical_body(body)
        canonical = body if raw_payload else parsed.payload
    expected = signing.string_to_sign(method, path, timestamp, canonical)
    secrets = [secret, *(partners or {}).values()]
    context = _Context(method, path, timestamp, query_string, canonical, expected, is_get, secrets)

    targets = _targets(signature)
    if not targets:
        length = len(signature.strip())
        message = (
            f"The x-signature is not a digest in hex or base64 ({length} characters): send the "
            "HMAC-SHA256 of the StringToSign as 64 lowercase hex characters. "
            f"The sandbox signed: {_show(expected)}"
        )
        return Finding(False, NOT_A_DIGEST, _mask(message, secrets), 0, expected)
    digest_name = _DIGEST_NAMES[len(targets[0][0])]
    digests = _Digests(digest_name)
    payloads = _Payloads(query_string, body, parsed, canonical, raw_payload)
    methods, paths, stamps = _components(method, path, timestamp)
    keys = _keys(secret, partners or {})
    ms_header = len(timestamp) == 13 and timestamp.isdigit()

    pads = digests.pads
    seen: set[tuple[bytes | None, str, bytes]] = set()
    tried = 0
    work = 0
    cut_short = False  # some variant was left out for the work budget
    for entry in PLAN:
        spent = work + payloads.work
        if spent >= WORK_BUDGET:
            cut_short = True
            break
        p_id, m_id, pa_id, t_id, s_id, a_id, k_id = entry
        if t_id == "milliseconds-signed":
            scan_work = MS_SCAN * (DIGEST_WORK // 4 + len(expected))
            if ms_header or not timestamp.isdigit():
                continue
            if scan_work > WORK_BUDGET - spent:
                cut_short = True
                continue
            hit, count = _scan_milliseconds(digests, secret.encode(), context, targets)
            tried += count
            work += scan_work
            if hit is not None:
                ms, encoding = hit
                signed = signing.string_to_sign(method, path, ms, canonical)
                return _found(
                    context, [(TIMESTAMP, t_id)], encoding, digest_name, tried, signed, ms=ms
                )
            continue
        payload = payloads.get(p_id, WORK_BUDGET - spent)
        m = methods.get(m_id)
        pa = paths.get(pa_id)
        t = stamps.get(t_id)
        key_list = keys.get(k_id)
        if payload is None or m is None or pa is None or t is None or key_list is None:
            continue
        parts = (m, pa + payload[1], t, payload[0])
        if s_id:
            order, joiner = _STRUCTURE_VALUES[s_id]
            message = joiner.join([parts[i] for i in order])
        else:
            message = b"".join(parts)
        for key, partner in key_list:
            if work + payloads.work >= WORK_BUDGET:
                cut_short = True
                break
            seen_key = (None if a_id == "hash-no-secret" else key, a_id, message)
            if seen_key in seen:
                continue
            seen.add(seen_key)
            if a_id:
                digest = digests.digest(a_id, key, message)
            else:  # HMAC, inline: this is the hot loop
                inner, outer = pads(key)
                h = inner.copy()
                h.update(message)
                o = outer.copy()
                o.update(h.digest())
                digest = o.digest()
            tried += 1
            work += DIGEST_WORK + len(message)
            for target, encoding in targets:
                if not hmac.compare_digest(digest, target):
                    continue
                devs = [(d, alt) for d, alt in enumerate(entry) if alt]
                if not devs and not encoding and digest_name == "sha256" and not ms_header:
                    return _valid(context, tried)
                return _found(
                    context,
                    devs,
                    encoding,
                    digest_name,
                    tried,
                    message,
                    payloads=payloads,
                    partner=partner,
                    ms_header=ms_header,
                )
    limit = ""
    if cut_short or payloads.refused:
        limit = " (the likeliest ones: the search stops at a fixed work limit)"
    message = (
        "No known signing mistake reproduces this signature: the secret is the likely cause "
        "(check the secret configured for this sandbox; the default one is in the README). "
        f"Tried {tried} variants of the StringToSign, algorithm and encoding{limit}. "
        f"The sandbox signed: {_show(expected)}"
    )
    return Finding(False, NO_KNOWN_VARIANT, _mask(message, secrets), tried, expected)


def _components(
    method: str, path: str, timestamp: str
) -> tuple[dict[str, bytes], dict[str, bytes], dict[str, bytes]]:
    """METHOD, PATH and TIMESTAMP as sent, and their wrong variants that apply."""
    methods = {"": method.encode()}
    if method.lower() != method:
        methods["lowercase-method"] = method.lower().encode()
    paths = {"": path.encode()}
    if path.startswith("/api/v1/"):
        paths["missing-api-prefix"] = path[len("/api/v1") :].encode()
    if path.endswith("/") and len(path) > 1:
        paths["trailing-slash"] = path[:-1].encode()
    elif not path.endswith("/"):
        paths["trailing-slash"] = (path + "/").encode()
    if path.startswith("/") and len(path) > 1:
        paths["missing-leading-slash"] = path[1:].encode()
    stamps = {"": timestamp.encode()}
    if len(timestamp) == 13 and timestamp.isdigit():
        stamps["milliseconds-header"] = str(int(timestamp) // 1000).encode()
    return methods, paths, stamps


def _keys(secret: str, partners: Mapping[str, str]) -> dict[str, list[tuple[bytes, str | None]]]:
    """The keys a client may have used, by secret variant: (key, partner name or None)."""
    keys: dict[str, list[tuple[bytes, str | None]]] = {"": [(secret.encode(), None)]}
    others = [(s.encode(), name) for name, s in partners.items() if s and s != secret]
    if others:
        keys["partner-secret"] = others
    keys["secret-trailing-newline"] = [((secret + end).encode(), None) for end in ("\n", "\r\n")]
    keys["secret-trailing-space"] = [((secret + " ").encode(), None)]
    if secret.strip() and secret.strip() != secret:
        keys["secret-stripped"] = [(secret.strip().encode(), None)]
    return keys


def _scan_milliseconds(
    digests: _Digests, key: bytes, context: _Context, targets: list[tuple[bytes, str]]
) -> tuple[tuple[str, str] | None, int]:
    """Try the StringToSign with each millisecond of the header's second as TIMESTAMP."""
    inner, outer = digests.pads(key)
    prefix = inner.copy()
    c = context
    prefix.update(signing.string_to_sign(c.method, c.path, c.timestamp, b""))
    payload = c.canonical
    for ms in range(MS_SCAN):
        h = prefix.copy()
        h.update(b"%03d" % ms + payload)
        o = outer.copy()
        o.update(h.digest())
        digest = o.digest()
        for target, encoding in targets:
            if hmac.compare_digest(digest, target):
                return (f"{c.timestamp}{ms:03d}", encoding), ms + 1
    return None, MS_SCAN


# --------------------------------------------------------------------------- the explanation


@dataclass(frozen=True)
class _Context:
    method: str
    path: str
    timestamp: str
    query: str
    canonical: bytes
    expected: bytes
    is_get: bool
    secrets: list[str]  # to mask, should the request itself carry one


def _show(value: bytes, limit: int = SHOW_LIMIT) -> str:
    text = value.decode("utf-8", "replace")
    if len(text) > limit:
        return text[:limit] + f"... ({len(text) - limit} more characters)"
    return text


def _mask(text: str, secrets: list[str]) -> str:
    """Mask any secret that the request itself carried into the text (B7: never show one)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        for form in {secret, secret.strip()}:
            if len(form) >= 4 and form in text:
                text = text.replace(form, "[secret]")
    return text


def _valid(context: _Context, tried: int) -> Finding:
    message = (
        "The signature is correct for this request: the failure has another cause "
        "(the timestamp, or a secret configured differently)."
    )
    return Finding(False, VALID, _mask(message, context.secrets), tried, context.expected)


# What the fix shows after it: the PAYLOAD, the whole StringToSign, or nothing.
_SHOW_PAYLOAD, _SHOW_STS, _SHOW_NONE = "payload", "sts", ""
_HASH_LABELS = {"sha256": "SHA-256", "sha512": "SHA-512", "sha1": "SHA-1", "md5": "MD5"}
_ENCODINGS = {
    "uppercase-hex": "sent the digest as upper-case hex",
    "base64": "sent the digest in base64",
    "base64-unpadded": "sent the digest in base64 without '=' padding",
    "base64url": "sent the digest in URL-safe base64",
    "base64url-unpadded": "sent the digest in URL-safe base64 without padding",
}
_COMPACT = "sign the compact JSON.stringify form"
_PAYLOAD_TEXTS = {
    "json-spacing": (
        "signed the body with spaces after ',' and ':' (Python's json.dumps default)",
        _COMPACT,
    ),
    "indent-2": ("signed the body pretty-printed (indented by 2 spaces)", _COMPACT),
    "indent-4": ("signed the body pretty-printed (indented by 4 spaces)", _COMPACT),
    "sorted-keys": ("sorted the body's keys", "keep the keys in the order you send them"),
    "unicode-escape": (
        "escaped non-ASCII characters as \\uXXXX (json.dumps' ensure_ascii default)",
        "keep non-ASCII characters as UTF-8 (ensure_ascii=False)",
    ),
    "escaped-slashes": (
        "escaped '/' as '\\/' (PHP's json_encode default)",
        "leave '/' unescaped (JSON_UNESCAPED_SLASHES)",
    ),
    "raw-body": (
        "signed the body bytes exactly as sent",
        "sign the body as JSON.stringify(JSON.parse(body)) prints it (compact, keys in the "
        "order sent)",
    ),
    "stringified-body": (
        "signed the body re-serialized as JSON",
        "sign the body bytes exactly as sent (this sandbox runs with signing_payload=raw)",
    ),
    "query-for-post": ("signed the query string as PAYLOAD", "a POST signs its JSON body"),
    "url-encoded-query": (
        "signed the query values URL-encoded",
        "sign the values decoded (%3A as ':', '+' as a space)",
    ),
    "unsorted-query": (
        "signed the query parameters in the order sent",
        "sort the parameters by key",
    ),
    "leading-question-mark": ("put a '?' before the query", "sign the query without '?'"),
    "json-query": (
        "signed the query parameters as a JSON object",
        "sign key=value pairs sorted by key and joined with '&'",
    ),
}
_ALGORITHM_TEXTS = {
    "swapped-key-message": (
        "swapped the HMAC's key and message",
        "use the secret as the HMAC key and the StringToSign as the message",
    ),
    "hash-not-hmac": (
        "hashed secret + StringToSign with plain {hash} instead of computing an HMAC",
        "compute HMAC-SHA256 with the secret as the key",
    ),
    "hash-secret-last": (
        "hashed StringToSign + secret with plain {hash} instead of computing an HMAC",
        "compute HMAC-SHA256 with the secret as the key",
    ),
    "hash-no-secret": (
        "hashed the StringToSign with plain {hash}, without the secret",
        "compute HMAC-SHA256 with the secret as the key",
    ),
}
_SECRET_TEXTS = {
    "secret-trailing-newline": (
        "signed with the secret followed by a line break (as read from a file or a variable)",
        "strip the secret",
    ),
    "secret-trailing-space": ("signed with the secret followed by a space", "strip the secret"),
    "secret-stripped": (
        "signed with the secret without its surrounding whitespace",
        "use the secret exactly as configured",
    ),
}


def _describe(
    context: _Context,
    dimension: int,
    alt: str,
    *,
    payloads: _Payloads | None,
    partner: str | None,
    ms: str | None,
    hash_label: str,
) -> list[tuple[str, str, str]]:
    """(what the client did, what to do instead, what to show after it) for one deviation."""
    c = context
    if dimension == PAYLOAD:
        return [_describe_payload(c, sub, payloads) for sub in _payload_parts(alt)]
    if dimension == METHOD:
        return [
            (
                f"wrote the method in lower case ('{c.method.lower()}')",
                f"write the method in upper case ('{c.method}')",
                _SHOW_STS,
            )
        ]
    if dimension == PATH:
        did = {
            "missing-api-prefix": "left '/api/v1' out of PATH",
            "trailing-slash": (
                "dropped the trailing '/' from PATH"
                if c.path.endswith("/")
                else "added a trailing '/' to PATH"
            ),
            "missing-leading-slash": "left out PATH's leading '/'",
        }[alt]
        return [(did, f"sign the path exactly as requested ({c.path})", _SHOW_STS)]
    if dimension == TIMESTAMP:
        if alt == "milliseconds-header":
            return [
                (
                    f"sent milliseconds in x-timestamp ({c.timestamp}) but signed seconds",
                    "send Unix time in seconds in x-timestamp",
                    _SHOW_NONE,
                )
            ]
        return [
            (
                f"signed a milliseconds timestamp ({ms}) while x-timestamp has seconds "
                f"({c.timestamp})",
                "sign the same digits as x-timestamp",
                _SHOW_STS,
            )
        ]
    if dimension == STRUCTURE:
        order, joiner = alt[:4], alt[4:]
        did = []
        if order != "MPTB":
            did.append("put the parts in the order " + " + ".join(_NAMES[x] for x in order))
        if joiner:
            did.append(f"joined {'them' if did else 'the parts'} with {joiner!r}")
        fix = "concatenate METHOD + PATH + TIMESTAMP + PAYLOAD with no separator"
        return [(" and ".join(did), fix, _SHOW_STS)]
    if dimension == ALGORITHM:
        did, fix = _ALGORITHM_TEXTS[alt]
        return [(did.format(hash=hash_label), fix, _SHOW_NONE)]
    if alt == "partner-secret":
        return [
            (
                f"signed with the secret of partner '{partner}'",
                "sign with the secret configured for this sandbox",
                _SHOW_NONE,
            )
        ]
    did, fix = _SECRET_TEXTS[alt]
    return [(did, fix, _SHOW_NONE)]


def _payload_parts(alt: str) -> list[str]:
    if alt in _JSON_STYLE_IDS or (alt in _QUERY_VARIANTS and alt != "json-query"):
        return alt.split("+")
    return [alt]


def _describe_payload(c: _Context, alt: str, payloads: _Payloads | None) -> tuple[str, str, str]:
    if alt in _PAYLOAD_TEXTS:
        did, fix = _PAYLOAD_TEXTS[alt]
        return did, fix, _SHOW_PAYLOAD
    if alt == "numbers-as-typed":
        example = payloads.typed_example() if payloads else None
        did = "signed numbers as typed in the body"
        if example:
            did = f"signed the number {example[0]} as typed (JSON.stringify prints {example[1]})"
        return did, "sign numbers as JavaScript prints them", _SHOW_PAYLOAD
    if alt == "query-in-path":
        fix = "end PATH before '?'" + (" and sign the sorted query as PAYLOAD" if c.is_get else "")
        return "signed the query string as part of PATH", fix, _SHOW_STS
    what = "the query" if c.is_get else "the body"
    if alt == "empty-payload":
        if not c.is_get and c.canonical == b"{}":
            return "signed an empty PAYLOAD", "sign an empty body as {}", _SHOW_PAYLOAD
        return f"left {what} out of the StringToSign", f"append {what} as PAYLOAD", _SHOW_PAYLOAD
    # empty-object-payload
    if c.is_get:
        if not c.canonical:
            return "signed {} as the PAYLOAD of a GET", "sign an empty PAYLOAD", _SHOW_STS
        return "signed {} as the PAYLOAD of a GET", "sign its query parameters", _SHOW_PAYLOAD
    return "signed {} instead of the body", "sign the body", _SHOW_PAYLOAD


def _found(
    context: _Context,
    devs: list[tuple[int, str]],
    encoding: str,
    digest_name: str,
    tried: int,
    signed: bytes,
    *,
    payloads: _Payloads | None = None,
    partner: str | None = None,
    ms: str | None = None,
    ms_header: bool = False,
) -> Finding:
    hash_label = _HASH_LABELS[digest_name]
    codes: list[str] = []
    texts: list[tuple[str, str, str]] = []
    for dimension, alt in devs:
        codes.append(_code(dimension, alt))
        texts += _describe(
            context,
            dimension,
            alt,
            payloads=payloads,
            partner=partner,
            ms=ms,
            hash_label=hash_label,
        )
    if ms_header and not any(d == TIMESTAMP for d, _ in devs):
        codes.insert(0, "milliseconds-timestamp")
        texts.insert(
            0,
            (
                "used a milliseconds timestamp (13 digits) in x-timestamp and the StringToSign",
                "use Unix time in seconds in both",
                _SHOW_NONE,
            ),
        )
    if digest_name != "sha256":
        codes.append("hmac-" + digest_name)
        texts.append((f"used {hash_label} instead of SHA-256", "use SHA-256", _SHOW_NONE))
    if encoding:
        codes.append(encoding)
        texts.append((_ENCODINGS[encoding], "send the digest as 64 lowercase hex characters", ""))
    # The fix that quotes a value goes last; only one value is quoted (the StringToSign wins).
    shows = {show for _, _, show in texts}
    quote = _SHOW_STS if _SHOW_STS in shows else _SHOW_PAYLOAD if _SHOW_PAYLOAD in shows else ""
    fixes: list[str] = []
    for _, fix, _ in texts:
        if fix not in fixes:
            fixes.append(fix)
    if quote:
        last = next(fix for _, fix, show in reversed(texts) if show == quote)
        fixes.remove(last)
        value = context.expected if quote == _SHOW_STS else context.canonical
        label = ": " if quote == _SHOW_PAYLOAD else ". The sandbox signed: "
        fixes.append(last + label + _show(value))
    dids = [did for did, _, _ in texts]
    message = f"You {_join(dids)}. {_capital(_join(fixes))}" + ("" if quote else ".")
    return Finding(
        True, "+".join(codes), _mask(message, context.secrets), tried, context.expected, signed
    )


def _code(dimension: int, alt: str) -> str:
    if dimension != STRUCTURE:
        return alt
    order, joiner = alt[:4], alt[4:]
    parts = ["component-order"] if order != "MPTB" else []
    if joiner:
        parts.append(_JOINERS[joiner][2])
    return "+".join(parts)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- for HTTP headers

_ESCAPE_TOKEN_RE = re.compile(r"\\u[0-9a-f]{4}|\\.|.", re.DOTALL)


def header_value(finding: Finding, limit: int = HEADER_LIMIT) -> str:
    """``code: message`` as one printable-ASCII line for an HTTP header, at most ``limit`` chars.

    Non-ASCII and control characters are written as JSON escapes (as ``signing.header_safe``
    writes the StringToSign); a long value is cut between escapes and ends with ``...``.
    """
    text = signing.header_safe(f"{finding.code}: {finding.message}".encode(), limit=1 << 30)
    text = text.replace("\x7f", "\\u007f")
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for token in _ESCAPE_TOKEN_RE.findall(text):
        if size + len(token) > limit - 3:
            break
        kept.append(token)
        size += len(token)
    return "".join(kept) + "..."
