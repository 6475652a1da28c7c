"""What the doctor says: a ``Finding``, its plain-words message and its HTTP header form.

No output ever contains a secret: messages name a partner, never its secret, and any secret
that happens to appear in the request itself is masked.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from .. import signing
from .plan import (
    SIGNED_ORDER,
    Algorithm,
    Candidate,
    Deviation,
    Encoding,
    Form,
    JsonFlag,
    JsonStyle,
    Method,
    Mistake,
    Path,
    QueryFlag,
    QueryStyle,
    Secret,
    Spacing,
    Structure,
    Timestamp,
    Unsent,
    UnsentParams,
)
from .variants import Request

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


def not_a_digest(r: Request, signature: str) -> Finding:
    message = (
        f"The x-signature is not a digest in hex or base64 ({len(signature.strip())} characters): "
        "send the HMAC-SHA256 of the StringToSign as 64 lowercase hex characters. "
        f"The sandbox signed: {_show(r.expected)}"
    )
    return Finding(False, NOT_A_DIGEST, _mask(message, r.secrets), 0, r.expected)


def valid(r: Request, tried: int) -> Finding:
    message = (
        "The signature is correct for this request: the failure has another cause "
        "(the timestamp, or a secret configured differently)."
    )
    return Finding(False, VALID, _mask(message, r.secrets), tried, r.expected)


def no_known_variant(r: Request, tried: int, cut_short: bool, digest_name: str) -> Finding:
    """Nothing reproduced the signature: what was verified, and the next step that always
    works. Never a guess at the secret: most of these are a StringToSign built differently in
    a way no variant foresaw, which only the byte-for-byte comparison shows."""
    limit = " (the likeliest ones: the search stops at a fixed work limit)" if cut_short else ""
    message = (
        "No known signing mistake reproduces this signature. Verified: it is a well-formed "
        f"{_HASH_LABELS[digest_name]} digest; {tried} variants of the StringToSign, algorithm, "
        f"encoding and secret do not give it{limit}. Next step: compare your StringToSign byte "
        "for byte with the sandbox's (X-Sandbox-String-To-Sign); only if they are equal is "
        f"the secret wrong. The sandbox signed: {_show(r.expected)}"
    )
    return Finding(False, NO_KNOWN_VARIANT, _mask(message, r.secrets), tried, r.expected)


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


# --------------------------------------------------------------------------- a match

# What a fix shows after it: the PAYLOAD, the whole StringToSign, or nothing.
_SHOW_PAYLOAD, _SHOW_STS, _SHOW_NONE = "payload", "sts", ""
_HASH_LABELS = {"sha256": "SHA-256", "sha512": "SHA-512", "sha1": "SHA-1", "md5": "MD5"}
_ENCODINGS = {
    Encoding.UPPERCASE_HEX: "sent the digest as upper-case hex",
    Encoding.BASE64: "sent the digest in base64",
    Encoding.BASE64_UNPADDED: "sent the digest in base64 without '=' padding",
    Encoding.BASE64URL: "sent the digest in URL-safe base64",
    Encoding.BASE64URL_UNPADDED: "sent the digest in URL-safe base64 without padding",
}
_COMPACT = "sign the compact JSON.stringify form"
# (what the client did, what to do instead), for the mistakes whose words never change. Where
# the fix differs by language, it names it, one short clause per language that differs.
_TEXTS: dict[Mistake, tuple[str, str]] = {
    Spacing.SPACED: (
        "signed the body with spaces after ',' and ':' (Python's json.dumps default)",
        _COMPACT + " (Python: separators=(',', ':'))",
    ),
    Spacing.INDENT_2: ("signed the body pretty-printed (indented by 2 spaces)", _COMPACT),
    Spacing.INDENT_4: ("signed the body pretty-printed (indented by 4 spaces)", _COMPACT),
    JsonFlag.SORTED_KEYS: ("sorted the body's keys", "keep the keys in the order you send them"),
    JsonFlag.UNICODE_ESCAPE: (
        "escaped non-ASCII characters as \\uXXXX (Python's json.dumps and PHP's json_encode "
        "do by default)",
        "keep non-ASCII characters as UTF-8 (Python: ensure_ascii=False; PHP: "
        "JSON_UNESCAPED_UNICODE)",
    ),
    JsonFlag.ESCAPED_SLASHES: (
        "escaped '/' as '\\/' (PHP's json_encode default)",
        "leave '/' unescaped (PHP: JSON_UNESCAPED_SLASHES)",
    ),
    JsonFlag.HTML_ESCAPE: (
        "escaped <, > and & as \\u003c, \\u003e and \\u0026 (the default of Go's json.Marshal "
        "and Java's Gson)",
        "leave them as they are (Go: a json.Encoder with SetEscapeHTML(false), without its "
        "trailing newline; Gson: GsonBuilder().disableHtmlEscaping())",
    ),
    JsonFlag.GSON_ESCAPE: (
        "escaped <, >, &, = and ' as \\u003c, \\u003e, \\u0026, \\u003d and \\u0027 (Java "
        "Gson's default)",
        "leave them as they are (Gson: GsonBuilder().disableHtmlEscaping())",
    ),
    JsonFlag.DOTNET_ESCAPE: (
        "escaped non-ASCII and HTML-sensitive characters (\", &, ', +, <, >, `) as upper-case "
        "\\uXXXX (System.Text.Json's default encoder)",
        "keep them as they are (C#: JsonSerializerOptions.Encoder = "
        "JavaScriptEncoder.UnsafeRelaxedJsonEscaping)",
    ),
    Form.RAW_BODY: (
        "signed the body bytes exactly as sent",
        "sign the body as JSON.stringify(JSON.parse(body)) prints it (compact, keys in the "
        "order sent)",
    ),
    Form.STRINGIFIED_BODY: (
        "signed the body re-serialized as JSON",
        "sign the body bytes exactly as sent (this sandbox runs with signing_payload=raw)",
    ),
    Form.QUERY_FOR_POST: ("signed the query string as PAYLOAD", "a POST signs its JSON body"),
    QueryFlag.URL_ENCODED: (
        "signed the query values URL-encoded",
        "sign the values decoded (%3A as ':', '+' as a space)",
    ),
    QueryFlag.UNSORTED: (
        "signed the query parameters in the order sent",
        "sort the parameters by key",
    ),
    QueryFlag.LEADING_QUESTION_MARK: ("put a '?' before the query", "sign the query without '?'"),
    Form.JSON_QUERY: (
        "signed the query parameters as a JSON object",
        "sign key=value pairs sorted by key and joined with '&'",
    ),
    Algorithm.SWAPPED_KEY_MESSAGE: (
        "swapped the HMAC's key and message",
        "use the secret as the HMAC key and the StringToSign as the message",
    ),
    Algorithm.HASH_NOT_HMAC: (
        "hashed secret + StringToSign with plain {hash} instead of computing an HMAC",
        "compute HMAC-SHA256 with the secret as the key",
    ),
    Algorithm.HASH_SECRET_LAST: (
        "hashed StringToSign + secret with plain {hash} instead of computing an HMAC",
        "compute HMAC-SHA256 with the secret as the key",
    ),
    Algorithm.HASH_NO_SECRET: (
        "hashed the StringToSign with plain {hash}, without the secret",
        "compute HMAC-SHA256 with the secret as the key",
    ),
    Secret.TRAILING_NEWLINE: (
        "signed with the secret followed by a line break (as read from a file or a variable)",
        "strip the secret",
    ),
    Secret.TRAILING_SPACE: ("signed with the secret followed by a space", "strip the secret"),
    Secret.STRIPPED: (
        "signed with the secret without its surrounding whitespace",
        "use the secret exactly as configured",
    ),
}
# A library's defaults, named once rather than flag by flag (as plan._LIBRARY_DEFAULTS).
_LIBRARY_TEXTS: dict[frozenset[Mistake], tuple[str, str]] = {
    frozenset({Spacing.SPACED, JsonFlag.UNICODE_ESCAPE}): (
        "signed the body as Python's json.dumps prints it by default (spaces after ',' and "
        "':', non-ASCII as \\uXXXX)",
        "sign json.dumps(body, separators=(',', ':'), ensure_ascii=False)",
    ),
    frozenset({JsonFlag.UNICODE_ESCAPE, JsonFlag.ESCAPED_SLASHES}): (
        "signed the body as PHP's json_encode prints it by default (non-ASCII as \\uXXXX, '/' "
        "as '\\/')",
        "use json_encode($body, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES)",
    ),
}
# Which HTTP clients leave a parameter out of the URL when its value is this one.
_UNSENT_BY = {
    Unsent.UNDEFINED: "axios leaves out undefined and null params",
    Unsent.NULL: "axios leaves out undefined and null params",
    Unsent.EMPTY: "PHP's http_build_query leaves out null values",
    Unsent.NONE: "Python's requests leaves out params that are None",
}
Text = tuple[str, str, str]  # what the client did, what to do instead, what to show after it


def found(
    r: Request,
    candidate: Candidate,
    encoding: Encoding | None,
    digest_name: str,
    tried: int,
    signed: bytes,
    *,
    partner: str | None = None,
    ms: str | None = None,
) -> Finding:
    """The finding for a candidate that reproduced the sent signature."""
    hash_label = _HASH_LABELS[digest_name]
    codes: list[str] = []
    texts: list[Text] = []
    for deviation in candidate.deviations:
        codes.append(deviation.code)
        texts += _describe(r, deviation, partner, ms, hash_label)
    if Timestamp.MILLISECONDS_HEADER in r.stamps and candidate.timestamp is None:
        codes.insert(0, "milliseconds-timestamp")
        did = "used a milliseconds timestamp (13 digits) in x-timestamp and the StringToSign"
        texts.insert(0, (did, "use Unix time in seconds in both", _SHOW_NONE))
    if digest_name != "sha256":
        codes.append("hmac-" + digest_name)
        texts.append((f"used {hash_label} instead of SHA-256", "use SHA-256", _SHOW_NONE))
    if encoding:
        codes.append(encoding.code)
        fix = "send the digest as 64 lowercase hex characters"
        texts.append((_ENCODINGS[encoding], fix, _SHOW_NONE))
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
        value = r.expected if quote == _SHOW_STS else r.canonical
        label = ": " if quote == _SHOW_PAYLOAD else ". The sandbox signed: "
        fixes.append(last + label + _show(value))
    dids = [did for did, _, _ in texts]
    message = f"You {_join(dids)}. {_capital(_join(fixes))}" + ("" if quote else ".")
    return Finding(True, "+".join(codes), _mask(message, r.secrets), tried, r.expected, signed)


def _describe(
    r: Request, deviation: Deviation, partner: str | None, ms: str | None, hash_label: str
) -> list[Text]:
    """What the client did, what to do instead and what to show, for one deviation."""
    if isinstance(deviation, JsonStyle):
        left = list(deviation.mistakes)
        texts: list[Text] = []
        for combo, (did, fix) in _LIBRARY_TEXTS.items():
            if combo <= set(left):
                left = [mistake for mistake in left if mistake not in combo]
                texts.append((did, fix, _SHOW_PAYLOAD))
        return texts + [_describe_payload(r, mistake) for mistake in left]
    if isinstance(deviation, UnsentParams):
        return [_describe_unsent(r, deviation)]
    if isinstance(deviation, QueryStyle | Form):
        return [_describe_payload(r, mistake) for mistake in deviation.mistakes]
    if isinstance(deviation, Structure):
        dids = []
        if deviation.order != SIGNED_ORDER:
            dids.append("put the parts in the order " + " + ".join(p.name for p in deviation.order))
        if deviation.joiner:
            what = "them" if dids else "the parts"
            dids.append(f"joined {what} with {deviation.joiner.separator!r}")
        fix = "concatenate METHOD + PATH + TIMESTAMP + PAYLOAD with no separator"
        return [(" and ".join(dids), fix, _SHOW_STS)]
    if deviation is Method.LOWERCASE:
        did = f"wrote the method in lower case ('{r.method.lower()}')"
        return [(did, f"write the method in upper case ('{r.method}')", _SHOW_STS)]
    if isinstance(deviation, Path):
        did = {
            Path.MISSING_API_PREFIX: "left '/api/v1' out of PATH",
            Path.TRAILING_SLASH: (
                "dropped the trailing '/' from PATH"
                if r.path.endswith("/")
                else "added a trailing '/' to PATH"
            ),
            Path.MISSING_LEADING_SLASH: "left out PATH's leading '/'",
        }[deviation]
        return [(did, f"sign the path exactly as requested ({r.path})", _SHOW_STS)]
    if deviation is Timestamp.MILLISECONDS_HEADER:
        did = f"sent milliseconds in x-timestamp ({r.timestamp}) but signed seconds"
        return [(did, "send Unix time in seconds in x-timestamp", _SHOW_NONE)]
    if deviation is Timestamp.MILLISECONDS_SIGNED:
        did = (
            f"signed a milliseconds timestamp ({ms}) while x-timestamp has seconds ({r.timestamp})"
        )
        return [(did, "sign the same digits as x-timestamp", _SHOW_STS)]
    if deviation is Secret.PARTNER:
        did = f"signed with the secret of partner '{partner}'"
        return [(did, "sign with the secret configured for this sandbox", _SHOW_NONE)]
    did, fix = _TEXTS[deviation]  # an algorithm, or a secret with stray whitespace
    return [(did.format(hash=hash_label), fix, _SHOW_NONE)]


def _describe_unsent(r: Request, unsent: UnsentParams) -> Text:
    names = r.unsent_sets[unsent.slot]
    signed = _join([f"{name}={unsent.value.printed}" for name in names])
    it = "it" if len(names) == 1 else "them"
    did = f"signed {signed} though your HTTP client did not send {it} ({_UNSENT_BY[unsent.value]})"
    return did, "sign only the parameters the URL carries", _SHOW_PAYLOAD


def _describe_payload(r: Request, mistake: Mistake) -> Text:
    if mistake in _TEXTS:
        return (*_TEXTS[mistake], _SHOW_PAYLOAD)
    if mistake is QueryFlag.LITERAL_PLUS:
        did = (
            "sent a '+' unencoded in the query and signed it as '+', but in a query string '+' "
            f"is a space (the sandbox read {r.plus_example()})"
        )
        return did, "send '+' as %2B (or sign a space, if you meant one)", _SHOW_PAYLOAD
    if mistake is JsonFlag.NUMBERS_AS_TYPED:
        did = "signed numbers as typed in the body"
        example = r.typed_example()
        if example:
            typed, printed = example
            did = f"signed the number {typed} as typed (JSON.stringify prints {printed})"
        return did, "sign numbers as JavaScript prints them", _SHOW_PAYLOAD
    if mistake is Form.QUERY_IN_PATH:
        fix = "end PATH before '?'" + (" and sign the sorted query as PAYLOAD" if r.is_get else "")
        return "signed the query string as part of PATH", fix, _SHOW_STS
    what = "the query" if r.is_get else "the body"
    if mistake is Form.EMPTY_PAYLOAD:
        if not r.is_get and r.canonical == b"{}":
            return "signed an empty PAYLOAD", "sign an empty body as {}", _SHOW_PAYLOAD
        return f"left {what} out of the StringToSign", f"append {what} as PAYLOAD", _SHOW_PAYLOAD
    # Form.EMPTY_OBJECT_PAYLOAD
    if r.is_get:
        if not r.canonical:
            return "signed {} as the PAYLOAD of a GET", "sign an empty PAYLOAD", _SHOW_STS
        return "signed {} as the PAYLOAD of a GET", "sign its query parameters", _SHOW_PAYLOAD
    return "signed {} instead of the body", "sign the body", _SHOW_PAYLOAD


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- for HTTP headers

_ESCAPE_RE = re.compile(r"\\u[0-9a-f]{4}|\\.")  # an escape, read left to right
ESCAPED_NOTE = " [escaped header: \\uXXXX is one UTF-8 character, \\\\ one backslash]"
"""What ``header_value`` appends when it escaped anything: without it, a corrected body
``Caf\\u00e9`` would read exactly like the \\u mistake the finding describes."""


def header_value(finding: Finding, limit: int = HEADER_LIMIT) -> str:
    """``code: message`` as one printable-ASCII line for an HTTP header, at most ``limit`` chars.

    Non-ASCII and control characters are written as JSON escapes and a backslash as ``\\\\``
    (as ``signing.header_safe`` writes the StringToSign); if any was, ``ESCAPED_NOTE`` says
    so at the end. A long value is cut between escapes and ends with ``...``.
    """
    raw = f"{finding.code}: {finding.message}"
    text = signing.header_safe(raw.encode(), limit=1 << 30)
    text = text.replace("\x7f", "\\u007f")
    note = ESCAPED_NOTE if text != raw else ""
    room = limit - len(note)
    if len(text) <= room:
        return text + note
    cut = room - 3
    for escape in _ESCAPE_RE.finditer(text, 0, cut + 6):  # never cut inside one
        if escape.start() < cut < escape.end():
            cut = escape.start()
            break
    return text[:cut] + "..." + note


STRING_TO_SIGN_BASE64_LIMIT = 2048  # bytes of X-Sandbox-String-To-Sign-Base64 (2,732 characters)
_HEADER_ESCAPED_RE = re.compile(rb"[^\x20-\x5b\x5d-\x7e]")  # not printable ASCII, or '\'


def string_to_sign_headers(signed: bytes, detail: str) -> dict[str, str]:
    """The headers that show a StringToSign: ``X-Sandbox-String-To-Sign``, escaped as
    ``signing.header_safe`` does, and ``X-Sandbox-Signature-Detail`` (``detail``).

    When escaping changed anything (non-ASCII, a control character, a backslash), an escaped
    ``\\u00e9`` reads exactly like the ``\\u`` mistake a client may have made: the detail
    then says that the header is escaped, and ``X-Sandbox-String-To-Sign-Base64`` carries the
    exact bytes (the first STRING_TO_SIGN_BASE64_LIMIT of them).
    """
    headers = {
        "X-Sandbox-Signature-Detail": detail,
        "X-Sandbox-String-To-Sign": signing.header_safe(signed),
    }
    if _HEADER_ESCAPED_RE.search(signed):
        exact = signed[:STRING_TO_SIGN_BASE64_LIMIT]
        headers["X-Sandbox-String-To-Sign-Base64"] = base64.b64encode(exact).decode("ascii")
        cut = f" (its first {len(exact):,} bytes)" if len(exact) < len(signed) else ""
        headers["X-Sandbox-Signature-Detail"] = (
            f"{detail} X-Sandbox-String-To-Sign is escaped (\\uXXXX is one UTF-8 character, "
            f"\\\\ one backslash); X-Sandbox-String-To-Sign-Base64 has the exact bytes{cut}."
        )
    return headers
