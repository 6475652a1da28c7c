"""The Sabong v1 request signature, implemented once (SPEC A2, B1, B3-B6).

Pure standard library: no Flask here. The server, the CLI, the pytest plugin and the tests all
sign and verify through this module, so there is exactly one definition of the scheme::

    StringToSign = METHOD + PATH + TIMESTAMP + PAYLOAD
    x-signature  = lowercase hex HMAC-SHA256(key=secret, message=StringToSign)

PAYLOAD is, for a POST, the parsed body re-serialized as JavaScript's ``JSON.stringify`` prints
it (``canonical_json``); for a GET, the decoded query parameters sorted by key
(``canonical_query``). Everything works on bytes so that an invalid body can still be signed
raw (B3).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode

# The signature-failure reasons (SPEC B2); they travel in the X-Sandbox-Signature-Reason header.
MISSING_SIGNATURE = "missing-signature"
MISSING_TIMESTAMP = "missing-timestamp"
BAD_TIMESTAMP = "bad-timestamp"
EXPIRED_TIMESTAMP = "expired-timestamp"
FUTURE_TIMESTAMP = "future-timestamp"
MISMATCH = "mismatch"

DEFAULT_WINDOW_SECONDS = 300
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


class InvalidJSON(ValueError):
    """The body is not JSON that ``JSON.parse`` would accept."""


# --------------------------------------------------------------------------- JSON, as JS does it


def _reject_constant(name: str) -> Any:
    # JSON.parse refuses NaN, Infinity and -Infinity; Python's json would accept them.
    raise InvalidJSON(f"{name} is not valid JSON")


def _js_number(text: str) -> float:
    # Every JSON number is an IEEE double in JavaScript; float() of the text rounds exactly once,
    # and overflows to inf (JSON.stringify then prints null) instead of raising.
    return float(text)


# Where ``canonical_body`` has the one parse log an object's numbers as typed (Body.numbers).
_number_log: contextvars.ContextVar[list[float | str]] = contextvars.ContextVar("_number_log")


def _logged_js_number(text: str) -> float:
    value = float(text)
    numbers = _number_log.get()
    numbers.append(value)  # flat, not (value, text) pairs: no tuple for the GC to track
    numbers.append(text)
    return value


_DECODER = json.JSONDecoder(
    parse_float=_js_number, parse_int=_js_number, parse_constant=_reject_constant
)
_LOGGING_DECODER = json.JSONDecoder(
    parse_float=_logged_js_number, parse_int=_logged_js_number, parse_constant=_reject_constant
)


def parse_json(raw: bytes) -> Any:
    """Parse a request body the way ``JSON.parse`` does.

    Numbers become doubles, a repeated key keeps its first position and its last value (as a
    dict assignment does), and NaN/Infinity are refused. Raises ``InvalidJSON``.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"the body is not valid UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise InvalidJSON("the body starts with a byte-order mark")
    decoder = _DECODER if _number_log.get(None) is None else _LOGGING_DECODER
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        value = None
        depth = MAX_DEPTH + 1
    else:
        depth = _depth(value)
    if depth > MAX_DEPTH:
        raise InvalidJSON(f"the body is nested more than {MAX_DEPTH} levels deep")
    return value


MAX_DEPTH = 256  # nesting levels: far beyond any API body, and safe for recursive code


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (iterative: no recursion limit)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def js_number(value: float) -> str:
    """Print a double exactly as JavaScript's ``Number.prototype.toString`` (and JSON) does."""
    if math.isnan(value) or math.isinf(value):
        return "null"  # JSON.stringify's rendering of non-finite numbers
    if value == 0:
        return "0"  # covers -0, which JSON.stringify prints as 0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digits that round-trip, the same digits ECMAScript asks for.
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    if frac_part == "0":
        frac_part = ""
    digits = (int_part + frac_part).lstrip("0")
    # n: the position of the decimal point relative to the first significant digit (ECMA-262).
    leading_zeros = len(int_part + frac_part) - len((int_part + frac_part).lstrip("0"))
    n = len(int_part) - leading_zeros + (int(exp_text) if exp_text else 0)
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = ("+" if e >= 0 else "-") + str(abs(e))
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + exp
    return sign + out


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def js_string(value: str) -> str:
    """Quote a string as ``JSON.stringify`` does: UTF-8 kept, ``/`` kept, lower-case ``\\u``."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


def js_stringify(value: Any) -> str:
    """Serialize a parsed JSON value exactly as ``JSON.stringify`` does (compact)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, (int, float)):
        return js_number(float(value))
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(js_string(k) + ":" + js_stringify(value[k]) for k in js_keys(value))
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


_ARRAY_INDEX_RE = re.compile(r"0|[1-9][0-9]{0,9}")
_MAX_ARRAY_INDEX = 2**32 - 2


def _array_index(key: str) -> int | None:
    if _ARRAY_INDEX_RE.fullmatch(key):
        n = int(key)
        if n <= _MAX_ARRAY_INDEX:
            return n
    return None


def js_keys(obj: dict[str, Any]) -> list[str]:
    """An object's keys in JavaScript's own order: array-index keys ("0".."4294967294")
    first, ascending; then the other keys in insertion order (ECMA-262 OrdinaryOwnPropertyKeys).
    """
    indexed = [(n, k) for k in obj if (n := _array_index(k)) is not None]
    if not indexed:
        return list(obj)
    indexed.sort()
    return [k for _, k in indexed] + [k for k in obj if _array_index(k) is None]


@dataclass(frozen=True)
class Body:
    """A POST body as the server sees it: what is signed, and what the handler gets."""

    payload: bytes  # the PAYLOAD part of the StringToSign
    data: dict[str, Any] | None  # the parsed object, or None when the body is not one
    problem: str | None  # why the body is not a JSON object, for the 400
    # Each number of an object body, in document order, as its float in ``data`` followed by its
    # text as typed, logged by the one parse: the signature doctor prints numbers as typed from
    # it. A repeated key's earlier values are here too: look a float up by identity.
    numbers: Sequence[float | str] = field(default=(), compare=False, repr=False)


_JSON_WHITESPACE = b" \t\n\r"
MAX_JSON_COMMAS = 1000  # values of a body (counted by its commas): parsing stays ~1 ms


def canonical_body(raw: bytes) -> Body:
    """The signed PAYLOAD of a POST body (SPEC B3).

    An empty body signs as ``{}``. A valid JSON object signs as its ``JSON.stringify`` form.
    Anything else (invalid JSON, or JSON that is not an object) is signed as the raw bytes and
    reported as a problem for the validation step that follows the signature check.
    """
    stripped = raw.strip(_JSON_WHITESPACE)
    if not stripped:
        return Body(b"{}", {}, None)
    if raw.count(b",") > MAX_JSON_COMMAS:
        # Parsed before its signature is known, a body must be cheap: thousands of values
        # (numbers above all) cost milliseconds each time. No body of this API comes near.
        return Body(raw, None, f"The body must not hold more than {MAX_JSON_COMMAS} values.")
    # Only an object's numbers are ever printed as typed: an array of numbers logs nothing.
    numbers: list[float | str] = []
    token = _number_log.set(numbers) if stripped[0] == 0x7B else None  # {
    try:
        parsed = parse_json(raw)
    except InvalidJSON as exc:
        return Body(raw, None, f"The body must be valid JSON: {exc}.")
    finally:
        if token is not None:
            _number_log.reset(token)
    if not isinstance(parsed, dict):
        kind = _json_kind(parsed)
        return Body(raw, None, f"The body must be a JSON object, not {kind}.")
    payload = js_stringify(parsed).encode("utf-8")  # lone surrogates come out \u-escaped
    if _has_lone_surrogate(parsed):
        # JSON.parse accepts "\ud800", but it is no text: nothing can store or print it.
        problem = "The body must not contain unpaired surrogates (\\ud800-\\udfff)."
        return Body(payload, None, problem)
    return Body(payload, parsed, None, numbers)


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def canonical_json(raw: bytes) -> bytes:
    """Shortcut: the PAYLOAD bytes of a POST body."""
    return canonical_body(raw).payload


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


# --------------------------------------------------------------------------- query strings


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """Decode a raw query string into (key, value) pairs in order (``+`` is a space)."""
    pairs: list[tuple[str, str]] = []
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def query_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Collapse pairs as Express does for signing: a repeated key joined with ``,`` in order."""
    merged: dict[str, list[str]] = {}
    for key, value in pairs:
        merged.setdefault(key, []).append(value)
    return {key: ",".join(values) for key, values in merged.items()}


def canonical_query(query_string: str) -> bytes:
    """The signed PAYLOAD of a GET: decoded ``key=value`` pairs sorted by key (SPEC B4)."""
    return canonical_params(query_params(parse_query(query_string)))


def canonical_params(params: dict[str, str]) -> bytes:
    """``canonical_query`` of already collapsed parameters (the server parses a query once)."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params)).encode("utf-8")


# --------------------------------------------------------------------------- signing


def string_to_sign(method: str, path: str, timestamp: str, payload: bytes) -> bytes:
    """METHOD + PATH + TIMESTAMP + PAYLOAD, plain concatenation (SPEC A2)."""
    # surrogatepass: text from a request description can hold lone surrogates; never crash.
    return (method + path + timestamp).encode("utf-8", "surrogatepass") + payload


def hmac_hex(secret: str, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


JSON_PAYLOAD = "json"  # a body signs as its JSON.stringify form (SPEC B3)
RAW_PAYLOAD = "raw"  # a body signs as its exact bytes (B3's configurable alternative)
# Methods whose PAYLOAD is the query (they carry no body); every other method signs its body.
QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE"})


def signs_query(method: str) -> bool:
    """Whether ``method`` signs its query (GET, HEAD, DELETE) rather than its body."""
    return method.upper() in QUERY_METHODS


def request_payload(
    method: str, query_string: str, body: bytes, *, mode: str = JSON_PAYLOAD
) -> tuple[bytes, Body | None]:
    """The PAYLOAD of any request, and its parsed body when the method signs one.

    The one definition of what is signed, used by the server, the control plane, the client,
    the CLI, the dry run and the doctor: the decoded sorted query for GET, HEAD and DELETE
    (SPEC B4); otherwise the body, as its ``JSON.stringify`` form or, in ``raw`` mode, as the
    bytes received (B3). The body is parsed here, once, whatever the mode: the handler needs it.
    """
    if signs_query(method):
        return canonical_query(query_string), None
    parsed = canonical_body(body)
    return (body if mode == RAW_PAYLOAD else parsed.payload), parsed


def encode_query(query: str | Mapping[str, Any] | Sequence[tuple[str, Any]]) -> str:
    """A query given as a raw string, a mapping or pairs, as a client would send it."""
    if isinstance(query, str):
        return query
    items = list(query.items()) if isinstance(query, Mapping) else list(query)
    return urlencode([(str(k), str(v)) for k, v in items], quote_via=quote)


def sign(
    secret: str,
    method: str,
    path: str,
    timestamp: int | str,
    *,
    query: str | Mapping[str, Any] | Sequence[tuple[str, Any]] = "",
    body: bytes | str | Mapping[str, Any] | None = None,
    mode: str = JSON_PAYLOAD,
) -> str:
    """Compute the ``x-signature`` a client must send (the client side of the scheme).

    ``query`` may be a raw query string or key/value pairs (signed decoded, as the server sees
    them); ``body`` raw bytes or text (sent as is) or a mapping (sent as its JSON.stringify
    form). Which of the two is signed follows ``request_payload``, as on the server.
    """
    if body is None:
        raw = b""
    elif isinstance(body, Mapping):
        raw = js_stringify(dict(body)).encode("utf-8")
    elif isinstance(body, str):
        raw = body.encode("utf-8")
    else:
        raw = body
    method = method.upper()
    payload, _ = request_payload(method, encode_query(query), raw, mode=mode)
    return hmac_hex(secret, string_to_sign(method, path, str(timestamp), payload))


# --------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one request's signature.

    ``reason`` is None when the signature is valid, else one of the reason constants.
    ``string_to_sign`` is what the sandbox signed (None when the timestamp check failed first).
    ``detail`` is a plain-words explanation for headers, the journal and the doctor.
    """

    reason: str | None
    detail: str
    string_to_sign: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def check_timestamp(timestamp: str | None, now: float, window: int) -> Verdict | None:
    """Return a failing Verdict for a missing, malformed or out-of-window timestamp."""
    if timestamp is None or timestamp == "":
        return Verdict(MISSING_TIMESTAMP, "The x-timestamp header is missing.")
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        if len(timestamp) == 13 and timestamp.isascii() and timestamp.isdigit():
            detail = (
                "The x-timestamp header has 13 digits: it looks like milliseconds; "
                "send Unix time in seconds."
            )
        else:
            detail = "The x-timestamp header must be Unix time in seconds: 1 to 12 ASCII digits."
        return Verdict(BAD_TIMESTAMP, detail)
    skew = int(now) - int(timestamp)
    if skew > window:
        return Verdict(
            EXPIRED_TIMESTAMP,
            f"The x-timestamp is {skew} s old; the sandbox accepts at most {window} s.",
        )
    if -skew > window:
        return Verdict(
            FUTURE_TIMESTAMP,
            f"The x-timestamp is {-skew} s in the future; the sandbox accepts at most {window} s.",
        )
    return None


def precheck(
    signature: str | None, timestamp: str | None, *, now: float, window: int
) -> Verdict | None:
    """The failing Verdict of the checks that need no PAYLOAD, or None when they pass.

    A request without both headers, or with a timestamp outside the window, is refused here,
    before its body is parsed: work before trust stays cheap.
    """
    if signature is None or signature == "":
        return Verdict(MISSING_SIGNATURE, "The x-signature header is missing.")
    return check_timestamp(timestamp, now, window)


def verify(
    secret: str,
    method: str,
    path: str,
    timestamp: str | None,
    signature: str | None,
    payload: bytes,
    *,
    now: float,
    window: int = DEFAULT_WINDOW_SECONDS,
) -> Verdict:
    """Check a request's signature headers against ``secret`` (SPEC A2, B1, B6).

    Checks run in a fixed order: signature present, timestamp present, well formed, within the
    window (``precheck``), then the HMAC (``verify_digest``).
    """
    failed = precheck(signature, timestamp, now=now, window=window)
    if failed is not None:
        return failed
    assert timestamp is not None and signature is not None
    return verify_digest(secret, method, path, timestamp, signature, payload)


def verify_digest(
    secret: str, method: str, path: str, timestamp: str, signature: str, payload: bytes
) -> Verdict:
    """Compare the HMAC of the StringToSign with ``signature`` in constant time."""
    message = string_to_sign(method, path, timestamp, payload)
    expected = hmac_hex(secret, message)
    if hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return Verdict(None, "valid", message)
    return Verdict(MISMATCH, _mismatch_detail(signature), message)


def _mismatch_detail(signature: str) -> str:
    # The cheap, shape-only part of the diagnosis; the doctor (B2) goes further.
    if _HEX64_RE.fullmatch(signature):
        return "The x-signature does not match the StringToSign the sandbox computed."
    if re.fullmatch(r"[0-9a-fA-F]{64}", signature):
        return "The x-signature is upper-case hex; send lowercase hex."
    if re.fullmatch(r"[A-Za-z0-9+/_-]{43}=?", signature):
        return "The x-signature looks like base64; send the digest as lowercase hex (64 chars)."
    return f"The x-signature must be 64 lowercase hex characters; got {len(signature)} characters."


def header_safe(message: bytes, limit: int = 2048) -> str:
    """Render a StringToSign for an HTTP header: printable ASCII kept, the rest escaped.

    Non-printable and non-ASCII characters are written as JSON escapes (``\\n``, ``\\u00e9``),
    and a backslash as ``\\\\``, so the value is unambiguous; long values are cut at ``limit``.
    """
    text = message.decode("utf-8", "replace")
    escaped = json.dumps(text, ensure_ascii=True)[1:-1].replace('\\"', '"')
    if len(escaped) > limit:
        return escaped[:limit] + f"...[{len(escaped) - limit} more characters]"
    return escaped
