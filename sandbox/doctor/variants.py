"""One failed request as the doctor sees it: what the sandbox signed, and its wrong variants.

The right PAYLOAD comes from ``sandbox.signing`` (the one implementation of the scheme); this
module only builds the wrong ones.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from .. import signing
from .plan import (
    ESCAPE_STYLES,
    MAX_UNSENT_SETS,
    MAX_WALKED_BYTES,
    Candidate,
    Form,
    JsonFlag,
    JsonStyle,
    Method,
    Path,
    Payload,
    QueryFlag,
    QueryStyle,
    Secret,
    Spacing,
    Timestamp,
    UnsentParams,
    plan_for,
)

Key = tuple[bytes, str | None]  # a secret as bytes, and the partner it belongs to (None: ours)
_NON_ASCII_RE = re.compile(r"[^\x00-\x7e]")  # as json.dumps' ensure_ascii: DEL too
_HTML_RE = re.compile("[<>&\u2028\u2029]")  # what Go's json.Marshal escapes besides JSON's own
_GSON_RE = re.compile("[<>&='\u2028\u2029]")  # and Gson's (its htmlSafe default)
_HTML_ESCAPES = {JsonFlag.HTML_ESCAPE: _HTML_RE, JsonFlag.GSON_ESCAPE: _GSON_RE}
# What System.Text.Json's default encoder escapes: all but printable ASCII, and "&'+<>`\
_DOTNET_RE = re.compile(r"[^\x20-\x7e]|[\"&'+<>`\\]")
# In a JSON.stringify text, a sign that the .NET encoder writes it otherwise: a character it
# escapes, an escaped quote (\u0022 there) or a \u escape with a hex letter (upper case there).
_DOTNET_CHANGES_RE = re.compile(r"[^\x20-\x7e]|[&'+<>`]|\\\"|\\u[0-9a-f]{0,3}[a-f]")


class Request:
    """A failed request: what the sandbox signed (``canonical``, ``expected``), and its
    METHOD, PATH, TIMESTAMP, PAYLOAD and keys, right and wrong.

    ``message`` gives a candidate's StringToSign and keys, or None when one of its deviations
    does not apply to this request. A PAYLOAD variant is built on first use; one identical to
    the right PAYLOAD, or to a variant built before it (a likelier one), does not apply: it
    would only repeat a digest under the name of a mistake not made.
    """

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        raw: bytes,
        timestamp: str,
        secret: str,
        partners: Mapping[str, str],
        raw_payload: bool,  # the sandbox signs bodies as raw bytes (B3's alternative)
        parsed: signing.Body | None,  # signing.canonical_body(raw), if the caller has it
    ) -> None:
        self.method, self.path, self.timestamp = method, path, timestamp
        self.query, self.raw, self.raw_payload = query, raw, raw_payload
        self.is_get = signing.signs_query(method)  # as the server decides what is signed
        body = None if self.is_get else parsed or signing.canonical_body(raw)
        if body is None:
            self.canonical = signing.canonical_query(query)
        else:
            self.canonical = raw if raw_payload else body.payload
        self.expected = signing.string_to_sign(method, path, timestamp, self.canonical)
        self.secrets = [secret, *partners.values()]  # to mask, should the request carry one
        self.stringified = body.payload if body else b""  # the JSON.stringify form
        self.data = body.data if body else None  # the body's JSON object, if it is one
        self.numbers = body.numbers if body else ()
        self.methods: dict[Method | None, bytes] = {None: method.encode()}
        if method.lower() != method:
            self.methods[Method.LOWERCASE] = method.lower().encode()
        self.paths = _paths(path)
        self.stamps: dict[Timestamp | None, bytes] = {None: timestamp.encode()}
        if len(timestamp) == 13 and timestamp.isdigit():
            self.stamps[Timestamp.MILLISECONDS_HEADER] = str(int(timestamp) // 1000).encode()
        self.keys = _keys(secret, partners)
        self._payloads: dict[Payload | None, tuple[bytes, bytes] | None] = {}
        self._payloads[None] = (self.canonical, b"")
        self._seen = {(self.canonical, b"")}
        self._changing: frozenset[JsonFlag] | None = None  # the JSON flags that change the body
        self._printed: dict[float, str] = {}  # a number as JavaScript prints it
        self.walked = 0  # body bytes walked in Python (see plan.MAX_WALKED_BYTES)
        self.refused = False  # a JSON variant was left out for MAX_WALKED_BYTES

    def plan(self) -> tuple[Candidate, ...]:
        """The plan's candidates that can apply to this request, in the plan's order."""
        if not self.is_get:
            return plan_for(False)
        return plan_for(True, "+" in self.query, len(self.unsent_sets))

    def message(self, c: Candidate) -> tuple[bytes, list[Key]] | None:
        payload = self.payload(c.payload)
        if payload is None:
            return None
        method, path = self.methods.get(c.method), self.paths.get(c.path)
        stamp, keys = self.stamps.get(c.timestamp), self.keys.get(c.secret)
        if method is None or path is None or stamp is None or keys is None:
            return None
        parts = (method, path + payload[1], stamp, payload[0])
        return (c.structure.join(parts) if c.structure else b"".join(parts)), keys

    def payload(self, variant: Payload | None) -> tuple[bytes, bytes] | None:
        """``(PAYLOAD, suffix)``: the suffix is what a client appended to PATH (the query
        string, for ``query-in-path``); None when the variant does not apply."""
        try:
            return self._payloads[variant]
        except KeyError:
            assert variant is not None  # the right PAYLOAD is always there
        try:
            value = self._build(variant)
        except RecursionError:  # nesting within MAX_DEPTH, called from deep down a stack
            value = None
        if value is not None:
            if value in self._seen:
                value = None
            else:
                self._seen.add(value)
        self._payloads[variant] = value
        return value

    def _build(self, variant: Payload) -> tuple[bytes, bytes] | None:
        query = self.query
        if isinstance(variant, JsonStyle):
            text = self._json(variant)
            return None if text is None else (text.encode("utf-8"), b"")
        if isinstance(variant, QueryStyle):
            if not (self.is_get and query):
                return None
            if QueryFlag.LITERAL_PLUS in variant.flags and "+" not in query:
                return None
            return _query(query, variant.flags).encode(), b""
        if isinstance(variant, UnsentParams):
            sets = self.unsent_sets
            if variant.slot >= len(sets):
                return None
            params = dict(self.params)
            params.update(dict.fromkeys(sets[variant.slot], variant.value.printed))
            return signing.canonical_params(params), b""
        if variant is Form.EMPTY_PAYLOAD:
            return b"", b""
        if variant is Form.EMPTY_OBJECT_PAYLOAD:
            return b"{}", b""
        if variant is Form.QUERY_IN_PATH and query:
            return (b"" if self.is_get else self.canonical), b"?" + query.encode()
        if variant is Form.JSON_QUERY and self.is_get and query:
            params = signing.query_params(signing.parse_query(query))
            return signing.js_stringify(params).encode(), b""
        if self.is_get:
            return None
        if variant is Form.RAW_BODY and self.raw and not self.raw_payload:
            return self.raw, b""
        if variant is Form.STRINGIFIED_BODY and self.raw_payload:
            return self.stringified, b""
        if variant is Form.QUERY_FOR_POST and query:
            return signing.canonical_query(query), b""
        return None

    # ----------------------------------------------------------------------- query variants

    @functools.cached_property
    def params(self) -> dict[str, str]:
        """The query's parameters, decoded and collapsed as the server signs them."""
        return signing.query_params(signing.parse_query(self.query))

    @functools.cached_property
    def unsent_sets(self) -> list[tuple[str, ...]]:
        """The sets of documented optional query parameters absent from this request that a
        client may have signed anyway (``UnsentParams``): each alone, all of them, each pair;
        at most MAX_UNSENT_SETS."""
        if not self.is_get:
            return []
        absent = [name for name in optional_query_params(self.path) if name not in self.params]
        sets: list[tuple[str, ...]] = [(name,) for name in absent]
        if len(absent) > 2:
            sets.append(tuple(absent))
        sets += itertools.combinations(absent, 2)
        return sets[:MAX_UNSENT_SETS]

    def plus_example(self) -> str:
        """The first parameter sent with a raw '+', as the server reads it (a space)."""
        for part in self.query.split("&"):
            if "+" in part:
                key, value = signing.parse_query(part)[0]
                return f"{key}={value}"
        return ""

    # ----------------------------------------------------------------------- JSON variants

    def sent_style(self) -> JsonStyle | None:
        """The escaping style (``plan.ESCAPE_STYLES``) whose output is the body exactly as
        sent, if one is: a raw-body match on such a body is that library default's doing."""
        if not self.data or self.raw_payload:
            return None
        for style in ESCAPE_STYLES:
            if not all(_ESCAPE_MARKS[flag] in self.raw for flag in style.flags):
                continue
            text = self._json(style)
            if text is not None and text.encode("utf-8") == self.raw:
                return style
        return None

    def _json(self, style: JsonStyle) -> str | None:
        """The body serialized with ``style``'s mistakes, if they all change it, within
        MAX_WALKED_BYTES (a flag first needs a walk of the body to see what it changes; a
        spacing always changes a non-empty object)."""
        if not self.data:  # not a JSON object, or an empty one
            return None
        if style.flags:
            if self._changing is None:
                if not self._walk():
                    return None
                self._changing = self._analyse()
            if not self._changing.issuperset(style.flags):
                return None
        if not self._walk():
            return None
        typed = self._typed if JsonFlag.NUMBERS_AS_TYPED in style.flags else {}
        return _serialize(self.data, style, typed, self._printed_number)

    def _walk(self) -> bool:
        if self.walked + len(self.stringified) > MAX_WALKED_BYTES:
            self.refused = True
            return False
        self.walked += len(self.stringified)
        return True

    def _analyse(self) -> frozenset[JsonFlag]:
        found = set()
        text = self.stringified.decode("utf-8")
        if _NON_ASCII_RE.search(text):
            found.add(JsonFlag.UNICODE_ESCAPE)
        if "/" in text:
            found.add(JsonFlag.ESCAPED_SLASHES)
        if _HTML_RE.search(text):
            found.add(JsonFlag.HTML_ESCAPE)
        if _GSON_RE.search(text):
            found.add(JsonFlag.GSON_ESCAPE)
        if _DOTNET_CHANGES_RE.search(text):
            found.add(JsonFlag.DOTNET_ESCAPE)
        if self.typed_example() is not None:
            found.add(JsonFlag.NUMBERS_AS_TYPED)
        if any(list(v) != sorted(v) for v in self._values() if isinstance(v, dict)):
            found.add(JsonFlag.SORTED_KEYS)
        return frozenset(found)

    @functools.cached_property
    def _typed(self) -> dict[int, str]:
        """Each number's text as typed, by the identity of its float in the body's data."""
        floats, texts = self.numbers[::2], self.numbers[1::2]  # each float, then its text
        return {id(v): t for v, t in zip(floats, texts, strict=True) if isinstance(t, str)}

    def _printed_number(self, value: float) -> str:
        printed = self._printed.get(value)
        if printed is None:
            printed = self._printed[value] = signing.js_number(value)
        return printed

    def _values(self) -> list[Any]:
        """Every value of the body, containers included, in document order."""
        out: list[Any] = []
        stack: list[Any] = [self.data]
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
            typed = self._typed.get(id(value)) if isinstance(value, float) else None
            if typed is not None and typed != self._printed_number(value):
                return typed, self._printed_number(value)
        return None


def _serialize(
    data: dict[str, Any], style: JsonStyle, typed: dict[int, str], number: Callable[[float], str]
) -> str:
    """``data`` as a client with ``style``'s mistakes serializes it; ``typed``: the numbers to
    print as typed (by identity), ``number`` prints the others."""
    flags = style.flags
    ascii_only, slashes = JsonFlag.UNICODE_ESCAPE in flags, JsonFlag.ESCAPED_SLASHES in flags
    html = next((chars for flag, chars in _HTML_ESCAPES.items() if flag in flags), None)
    dotnet = JsonFlag.DOTNET_ESCAPE in flags
    sort = JsonFlag.SORTED_KEYS in flags
    indent = (
        2 if style.spacing is Spacing.INDENT_2 else 4 if style.spacing is Spacing.INDENT_4 else 0
    )
    item_sep = ", " if style.spacing is Spacing.SPACED else ","
    key_sep = ": " if style.spacing else ":"

    def string(value: str) -> str:
        if dotnet:  # an encoder of its own, from the text itself
            return '"' + _DOTNET_RE.sub(_dotnet_escape, value) + '"'
        text = signing.js_string(value)
        if ascii_only:
            text = _NON_ASCII_RE.sub(_ascii_escape, text)
        if html:
            text = html.sub(_ascii_escape, text)
        return text.replace("/", "\\/") if slashes else text

    def wrap(start: str, items: list[str], end: str, level: int) -> str:
        if not items:
            return start + end
        if not indent:
            return start + item_sep.join(items) + end
        inner = "\n" + " " * (indent * (level + 1))
        return start + inner + ("," + inner).join(items) + "\n" + " " * (indent * level) + end

    def dump(value: Any, level: int) -> str:
        if isinstance(value, float):
            return typed.get(id(value)) or number(value)
        if isinstance(value, str):
            return string(value)
        if isinstance(value, dict):
            keys = sorted(value) if sort else list(value)
            items = [string(k) + key_sep + dump(value[k], level + 1) for k in keys]
            return wrap("{", items, "}", level)
        if isinstance(value, list):
            return wrap("[", [dump(v, level + 1) for v in value], "]", level)
        return signing.js_stringify(value)  # true, false, null

    return dump(data, 0)


def _ascii_escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


_DOTNET_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", "\b": "\\b", "\f": "\\f"}


def _dotnet_escape(match: re.Match[str]) -> str:
    """One character as System.Text.Json's default encoder writes it: upper-case hex."""
    char = match.group(0)
    short = _DOTNET_SHORT.get(char)
    if short:
        return short
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04X}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"


# What a body sent in an escaping style must contain (a cheap test before serializing it).
_ESCAPE_MARKS = {
    JsonFlag.UNICODE_ESCAPE: b"\\u",
    JsonFlag.ESCAPED_SLASHES: b"\\/",
    JsonFlag.HTML_ESCAPE: b"\\u",
    JsonFlag.GSON_ESCAPE: b"\\u",
    JsonFlag.DOTNET_ESCAPE: b"\\u",
}


def _query(query: str, flags: frozenset[QueryFlag]) -> str:
    """The query signed with these mistakes (decoded and sorted are right)."""
    if QueryFlag.URL_ENCODED in flags and QueryFlag.UNSORTED in flags:
        text = query  # exactly as sent
    elif QueryFlag.URL_ENCODED in flags:  # sorted by decoded key, each part as sent
        parts = [part for part in query.split("&") if part]
        text = "&".join(sorted(parts, key=lambda part: signing.parse_query(part)[0][0]))
    else:
        if QueryFlag.LITERAL_PLUS in flags:  # %XX decoded, '+' kept
            pairs = [(unquote(k), unquote(v)) for k, _, v in _parts(query)]
        else:
            pairs = signing.parse_query(query)
        params = signing.query_params(pairs)
        if QueryFlag.UNSORTED in flags:
            text = "&".join(f"{k}={v}" for k, v in params.items())
        else:
            text = signing.canonical_params(params).decode("utf-8")
    return ("?" if QueryFlag.LEADING_QUESTION_MARK in flags else "") + text


def _parts(query: str) -> list[tuple[str, str, str]]:
    return [part.partition("=") for part in query.split("&") if part]


def optional_query_params(path: str) -> tuple[str, ...]:
    """The documented optional query parameters of the endpoint at ``path`` (none for any
    other path), from the one declaration of the API's parameters (``api.fields``)."""
    return _optional_query_params().get(path, ())


@functools.cache
def _optional_query_params() -> dict[str, tuple[str, ...]]:
    # Imported on first use: the API's modules import the doctor (through auth).
    from ..api import PREFIX
    from ..openapi import QUERIES

    return {
        PREFIX + name: tuple(field.name for field in fields if not field.required)
        for name, fields in QUERIES.items()
    }


def _paths(path: str) -> dict[Path | None, bytes]:
    paths: dict[Path | None, bytes] = {None: path.encode()}
    if path.startswith("/api/v1/"):
        paths[Path.MISSING_API_PREFIX] = path[len("/api/v1") :].encode()
    if path.endswith("/") and len(path) > 1:
        paths[Path.TRAILING_SLASH] = path[:-1].encode()
    elif not path.endswith("/"):
        paths[Path.TRAILING_SLASH] = (path + "/").encode()
    if path.startswith("/") and len(path) > 1:
        paths[Path.MISSING_LEADING_SLASH] = path[1:].encode()
    return paths


def _keys(secret: str, partners: Mapping[str, str]) -> dict[Secret | None, list[Key]]:
    """The keys a client may have used, by secret variant."""
    keys: dict[Secret | None, list[Key]] = {None: [(secret.encode(), None)]}
    others: list[Key] = [(s.encode(), name) for name, s in partners.items() if s and s != secret]
    if others:
        keys[Secret.PARTNER] = others
    keys[Secret.TRAILING_NEWLINE] = [((secret + end).encode(), None) for end in ("\n", "\r\n")]
    keys[Secret.TRAILING_SPACE] = [((secret + " ").encode(), None)]
    if secret.strip() and secret.strip() != secret:
        keys[Secret.STRIPPED] = [(secret.strip().encode(), None)]
    return keys
