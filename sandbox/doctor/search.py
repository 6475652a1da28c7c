"""The search: the plan's candidates, likeliest first, until one reproduces the signature."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping

from .. import signing
from . import messages
from .messages import Finding
from .plan import (
    MAX_DIGESTS,
    MAX_HASHED_BYTES,
    MS_SCAN,
    Algorithm,
    Encoding,
    Form,
    Timestamp,
)
from .variants import Request

DIGEST_NAMES = {32: "sha256", 64: "sha512", 20: "sha1", 16: "md5"}  # by digest size
# Read once: an enum member read off its class costs about 150 ns (Python 3.11), as much as a
# tenth of a digest, and the loop compares these two per candidate and per key.
_MS_SIGNED, _NO_SECRET = Timestamp.MILLISECONDS_SIGNED, Algorithm.HASH_NO_SECRET
Target = tuple[bytes, Encoding | None]  # a digest the signature encodes, and how (None: right)


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
    alternative). ``parsed``: ``signing.canonical_body(body)`` if the caller has it already
    (the body is then not parsed again). Pure: no I/O, and no secret in the result.

    The search stops at the first match, or at one of the caps of ``plan`` (MAX_DIGESTS,
    MAX_HASHED_BYTES, MAX_WALKED_BYTES): the worst case (nothing matches) stays bounded
    whatever the request; a large body or many partners only shorten the list tried.
    """
    r = Request(
        method, path, query_string, body, timestamp, secret, partners or {}, raw_payload, parsed
    )
    targets = _targets(signature)
    if not targets:
        return messages.not_a_digest(r, signature)
    digest_name = DIGEST_NAMES[len(targets[0][0])]
    digests = Digests(digest_name)
    ms_header = Timestamp.MILLISECONDS_HEADER in r.stamps  # x-timestamp has 13 digits
    seen: set[tuple[bytes | None, Algorithm | None, bytes]] = set()
    tried = hashed = 0
    cut_short = False  # a candidate was left out for a cap
    for candidate in r.plan():
        if tried >= MAX_DIGESTS or hashed >= MAX_HASHED_BYTES:
            cut_short = True
            break
        if candidate.timestamp is _MS_SIGNED:
            if ms_header or not timestamp.isdigit():
                continue
            scan_bytes = MS_SCAN * (len(r.expected) + 3)
            if tried + MS_SCAN > MAX_DIGESTS or hashed + scan_bytes > MAX_HASHED_BYTES:
                cut_short = True
                continue
            head = signing.string_to_sign(method, path, timestamp, b"")
            hit = _scan_milliseconds(digests, secret.encode(), head, r.canonical, targets)
            tried += MS_SCAN if hit is None else hit[0] + 1
            hashed += scan_bytes
            if hit is not None:
                ms, message, (_, encoding) = hit
                ms_text = f"{timestamp}{ms:03d}"
                return messages.found(
                    r, candidate, encoding, digest_name, tried, message, ms=ms_text
                )
            continue
        resolved = r.message(candidate)
        if resolved is None:
            continue
        message, keys = resolved
        algorithm = candidate.algorithm
        for key, partner in keys:
            if tried >= MAX_DIGESTS or hashed >= MAX_HASHED_BYTES:
                cut_short = True
                break
            seen_key = (None if algorithm is _NO_SECRET else key, algorithm, message)
            if seen_key in seen:  # the same digest under a less likely name adds nothing
                continue
            seen.add(seen_key)
            if algorithm is None:
                digest = digests.hmac(key, message)
            else:
                digest = digests.mistaken(algorithm, key, message)
            tried += 1
            hashed += len(message)
            for target in targets:
                if hmac.compare_digest(digest, target[0]):
                    break
            else:
                continue  # no encoding of the sent signature is this digest
            encoding = target[1]
            right = not candidate.deviations and not encoding and digest_name == "sha256"
            if right and not ms_header:
                return messages.valid(r, tried)
            if candidate.payload is Form.RAW_BODY:
                # A body sent as a library escapes it (PHP's \/, Go's \u003c ...) and signed as
                # sent: the escaping is the cause to name, and its flag the fix.
                style = r.sent_style()
                if style is not None:
                    candidate = dataclasses.replace(candidate, payload=style)
            return messages.found(
                r, candidate, encoding, digest_name, tried, message, partner=partner
            )
    return messages.no_known_variant(r, tried, cut_short or r.refused, digest_name)


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class Digests:
    """The digests of one hash function; the doctor's one HMAC.

    HMAC (RFC 2104) is H(K^opad + H(K^ipad + message)). A diagnosis signs up to MAX_DIGESTS
    messages with a handful of keys, so each key's two hash states after K^ipad and K^opad are
    computed once and copied per message: for a short message that is about a third of the
    cost of ``hmac.digest``, which sets the key up every time.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._new: Callable[..., hashlib._Hash] = getattr(hashlib, name)
        self._pads: dict[bytes, tuple[hashlib._Hash, hashlib._Hash]] = {}

    def pads(self, key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
        """The hash states after K^ipad and K^opad, set up once per key."""
        pads = self._pads.get(key)
        if pads is None:
            block = self._new().block_size
            padded = (self._new(key).digest() if len(key) > block else key).ljust(block, b"\0")
            inner, outer = self._new(padded.translate(_IPAD)), self._new(padded.translate(_OPAD))
            pads = self._pads[key] = (inner, outer)
        return pads

    def hmac(self, key: bytes, message: bytes) -> bytes:
        pads = self._pads.get(key) or self.pads(key)
        inner, outer = pads[0].copy(), pads[1].copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.digest()

    def mistaken(self, algorithm: Algorithm, key: bytes, message: bytes) -> bytes:
        """The digest of one of the algorithm mistakes."""
        if algorithm is Algorithm.SWAPPED_KEY_MESSAGE:  # a new key per message: no setup to keep
            return hmac.digest(message, key, self.name)
        if algorithm is Algorithm.HASH_NOT_HMAC:
            return self._new(key + message).digest()
        if algorithm is Algorithm.HASH_SECRET_LAST:
            return self._new(message + key).digest()
        return self._new(message).digest()  # HASH_NO_SECRET


def _scan_milliseconds(
    digests: Digests, key: bytes, head: bytes, payload: bytes, targets: list[Target]
) -> tuple[int, bytes, Target] | None:
    """The first millisecond of the header's second that, signed after the header's seconds,
    reproduces the signature: (millisecond, StringToSign, target).

    The 1,000 messages share their start: the inner hash is fed ``head`` once and copied per
    millisecond (a third of the worst case's digests are these).
    """
    start, outer = digests.pads(key)
    start = start.copy()
    start.update(head)
    compare = hmac.compare_digest
    for ms in range(MS_SCAN):
        inner, last = start.copy(), outer.copy()
        inner.update(b"%03d" % ms)
        inner.update(payload)
        last.update(inner.digest())
        digest = last.digest()
        for target in targets:
            if compare(digest, target[0]):
                return ms, head + b"%03d" % ms + payload, target
    return None


_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _targets(signature: str) -> list[Target]:
    """The digests the sent signature can encode, each with its encoding.

    Reading them off the signature once, then comparing raw digests, tries every encoding (and
    digest size) at no cost per candidate.
    """
    sig = signature.strip()
    found: list[Target] = []
    if len(sig) % 2 == 0 and len(sig) // 2 in DIGEST_NAMES and _HEX_RE.fullmatch(sig):
        found.append((bytes.fromhex(sig), None if sig == sig.lower() else Encoding.UPPERCASE_HEX))
    for pattern, altchars, padded, unpadded in (
        (_BASE64_RE, None, Encoding.BASE64, Encoding.BASE64_UNPADDED),
        (_BASE64URL_RE, b"-_", Encoding.BASE64URL, Encoding.BASE64URL_UNPADDED),
    ):
        if not pattern.fullmatch(sig):
            continue
        bare = sig.rstrip("=")
        try:
            digest = base64.b64decode(bare + "=" * (-len(bare) % 4), altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(digest) not in DIGEST_NAMES or any(d == digest for d, _ in found):
            continue
        found.append((digest, padded if "=" in sig or len(sig) % 4 == 0 else unpadded))
    if found:  # one digest size (they never differ in practice): the first one's
        found = [t for t in found if len(t[0]) == len(found[0][0])]
    return found
