"""sandbox.doctor: every signing mistake it knows is found, named and explained, secret-free.

Each case signs a request the wrong way with a signer written here, independently and plainly
(``json.dumps``, ``hashlib``, ``base64``: what a client's code would do), then asks the doctor
which mistake reproduces that signature. The right forms used as a reference are written out
literally, not taken from ``sandbox.signing``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sandbox import doctor, signing
from sandbox.api import fields
from sandbox.doctor import Candidate, Finding, diagnose, header_value, plan, search, variants
from sandbox.doctor.plan import (
    Algorithm,
    Encoding,
    Form,
    Joiner,
    JsonFlag,
    Method,
    Part,
    Path,
    QueryFlag,
    Secret,
    Spacing,
    Structure,
    Timestamp,
    Unsent,
)

SECRET = "sandbox-secret"
PARTNERS = {"acme": "acme-partner-secret-7f3a", "globex": "globex-secret-9c21"}
TS = "1769956200"
CREDIT = "/api/v1/credit-balance"
BALANCE = "/api/v1/get-balance"
TRANSACTIONS = "/api/v1/get-transactions"

BODY = {"clientId": "CLIENT_001", "amount": 100, "description": "Deposit"}
RIGHT = '{"clientId":"CLIENT_001","amount":100,"description":"Deposit"}'
UNICODE_BODY = {"clientId": "CLIENT_é", "amount": 5, "description": "Café ☕ 😀"}
UNICODE_RIGHT = '{"clientId":"CLIENT_é","amount":5,"description":"Café ☕ 😀"}'
SLASH_RIGHT = '{"clientId":"CLIENT_001","amount":5,"description":"top-up/2026"}'
TYPED = '{"clientId":"CLIENT_001","amount":100.50}'  # what a client typed; JS prints 100.5
TYPED_RIGHT = '{"clientId":"CLIENT_001","amount":100.5}'
QUERY = "clientId=CLIENT_001&dateFrom=2026-01-01T00%3A00%3A00Z&limit=10"  # sorted, encoded
QUERY_RIGHT = "clientId=CLIENT_001&dateFrom=2026-01-01T00:00:00Z&limit=10"
PLUS_QUERY = "clientId=CLIENT_001&dateFrom=2026-01-01T00:00:00+08:00"  # '+' not encoded
PLUS_RIGHT = "clientId=CLIENT_001&dateFrom=2026-01-01T00:00:00 08:00"  # '+' is a space
HTML_RIGHT = '{"clientId":"CLIENT_001","amount":5,"description":"Tom & Jerry <3"}'
GO_HTML = '{"clientId":"CLIENT_001","amount":5,"description":"Tom \\u0026 Jerry \\u003c3"}'
NET_RIGHT = '{"clientId":"CLIENT_001","amount":5,"description":"Café + \\"tip\\" <3"}'
# System.Text.Json's default encoder: all but printable ASCII, and "&'+<>`, in upper-case hex
NET_BODY = (
    '{"clientId":"CLIENT_001","amount":5,"description":"Caf\\u00E9 \\u002B \\u0022tip\\u0022 '
    '\\u003C3"}'
)
PHP_URL_BODY = (
    '{"clientId":"CLIENT_001","amount":5,"description":"See https:\\/\\/example.com\\/promo"}'
)
PHP_URL_RIGHT = '{"clientId":"CLIENT_001","amount":5,"description":"See https://example.com/promo"}'


# --------------------------------------------------------------------------- wrong signers


def compact(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def hmac_digest(message: str | bytes, key: str = SECRET, algorithm: str = "sha256") -> bytes:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key.encode(), data, algorithm).digest()


def hmac_hex(message: str | bytes, key: str = SECRET) -> str:
    return hmac_digest(message, key).hex()


def b64(digest: bytes, *, url: bool = False, pad: bool = True) -> str:
    text = (base64.urlsafe_b64encode if url else base64.b64encode)(digest).decode()
    return text if pad else text.rstrip("=")


def url_safe_ts() -> str:
    """A timestamp near TS whose right digest has '-' or '_' in URL-safe base64."""
    ts = int(TS)
    while not re.search(r"[-_]", b64(hmac_digest(f"POST{CREDIT}{ts}{RIGHT}"), url=True)):
        ts += 1
    return str(ts)


URL_TS = url_safe_ts()


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    signature: str
    words: tuple[str, ...]  # what the message must say (what was done, what to change)
    method: str = "POST"
    path: str = CREDIT
    query: str = ""
    body: str = RIGHT
    timestamp: str = TS
    secret: str = SECRET
    raw_payload: bool = False

    def diagnose(self, secret: str | None = None) -> Finding:
        return diagnose(
            self.method,
            self.path,
            self.query,
            self.body.encode(),
            self.timestamp,
            self.signature,
            secret or self.secret,
            PARTNERS,
            raw_payload=self.raw_payload,
        )


def post(code: str, message: str, *words: str, **kw: Any) -> Case:
    key = kw.pop("key", SECRET)
    return Case(code, code, hmac_hex(message, key), words, **kw)


def get(code: str, message: str, *words: str, path: str = TRANSACTIONS, **kw: Any) -> Case:
    key = kw.pop("key", SECRET)
    return Case(code, code, hmac_hex(message, key), words, method="GET", path=path, **kw)


STS = f"POST{CREDIT}{TS}{RIGHT}"
GET_STS = f"GET{TRANSACTIONS}{TS}{QUERY_RIGHT}"
RIGHT_DIGEST = hmac_digest(STS)

SINGLE_CASES = [
    # payload: POST bodies
    post("json-spacing", f"POST{CREDIT}{TS}{json.dumps(BODY)}", "json.dumps", "compact", RIGHT),
    post(
        "sorted-keys",
        f"POST{CREDIT}{TS}{json.dumps(BODY, separators=(',', ':'), sort_keys=True)}",
        "sorted",
        "order you send",
        RIGHT,
    ),
    post(
        "numbers-as-typed",
        f"POST{CREDIT}{TS}{TYPED}",
        "100.50",
        "100.5",
        TYPED_RIGHT,
        body=TYPED,
    ),
    post(
        "unicode-escape",
        f"POST{CREDIT}{TS}{json.dumps(UNICODE_BODY, separators=(',', ':'))}",
        "\\uXXXX",
        "UTF-8",
        UNICODE_RIGHT,
        body=UNICODE_RIGHT,
    ),
    post(
        "escaped-slashes",
        f"POST{CREDIT}{TS}" + SLASH_RIGHT.replace("/", "\\/"),
        "'\\/'",
        "unescaped",
        SLASH_RIGHT,
        body=SLASH_RIGHT,
    ),
    post(
        "html-escape",  # Go's json.Marshal
        f"POST{CREDIT}{TS}{GO_HTML}",
        "\\u003c",
        "Go's json.Marshal",
        "SetEscapeHTML(false)",
        "disableHtmlEscaping()",
        HTML_RIGHT,
        body=HTML_RIGHT,
    ),
    post(
        "html-escape-gson",  # Java's Gson: Go's three, and = and '
        f"POST{CREDIT}{TS}"
        + '{"clientId":"CLIENT_001","amount":5,"description":"Tom\\u0027s \\u003d\\u003e 1"}',
        "\\u0027",
        "disableHtmlEscaping()",
        '"description":"Tom\'s => 1"',
        body='{"clientId":"CLIENT_001","amount":5,"description":"Tom\'s => 1"}',
    ),
    post(
        "dotnet-escape",  # C#'s System.Text.Json
        f"POST{CREDIT}{TS}{NET_BODY}",
        "upper-case \\uXXXX",
        "System.Text.Json",
        "UnsafeRelaxedJsonEscaping",
        NET_RIGHT,
        body=NET_RIGHT,
    ),
    post(
        "indent-2",
        f"POST{CREDIT}{TS}{json.dumps(BODY, indent=2)}",
        "2 spaces",
        "compact",
        RIGHT,
    ),
    post(
        "indent-4",
        f"POST{CREDIT}{TS}{json.dumps(BODY, indent=4)}",
        "4 spaces",
        "compact",
        RIGHT,
    ),
    post(
        "raw-body",
        f"POST{CREDIT}{TS}" + '{ "clientId" :"CLIENT_001" ,\t"amount": 100 }',
        "exactly as sent",
        "JSON.stringify(JSON.parse(body))",
        '{"clientId":"CLIENT_001","amount":100}',
        body='{ "clientId" :"CLIENT_001" ,\t"amount": 100 }',
    ),
    post("empty-payload", f"POST{CREDIT}{TS}", "left the body out", RIGHT),
    post("empty-object-payload", f"POST{CREDIT}{TS}{{}}", "signed {}", RIGHT),
    post(
        "query-for-post",
        f"POST{CREDIT}{TS}clientId=CLIENT_001",
        "query string as PAYLOAD",
        "JSON body",
        query="clientId=CLIENT_001",
    ),
    post(
        "stringified-body",
        f"POST{CREDIT}{TS}{RIGHT}",
        "signing_payload=raw",
        json.dumps(BODY),
        body=json.dumps(BODY),
        raw_payload=True,
    ),
    # payload: GET queries
    get(
        "url-encoded-query",
        f"GET{TRANSACTIONS}{TS}{QUERY}",
        "URL-encoded",
        "decoded",
        QUERY_RIGHT,
        query=QUERY,
    ),
    get(
        "unsorted-query",
        f"GET{TRANSACTIONS}{TS}limit=10&clientId=CLIENT_001",
        "order sent",
        "Sort the parameters by key",
        "clientId=CLIENT_001&limit=10",
        query="limit=10&clientId=CLIENT_001",
    ),
    get(
        "url-encoded-query+unsorted-query",
        f"GET{TRANSACTIONS}{TS}limit=10&dateFrom=2026-01-01T00%3A00%3A00Z&clientId=CLIENT_001",
        "URL-encoded",
        "order sent",
        QUERY_RIGHT,
        query="limit=10&dateFrom=2026-01-01T00%3A00%3A00Z&clientId=CLIENT_001",
    ),
    get(
        "unencoded-plus",  # M2: a date's offset sent as is, signed as typed
        f"GET{TRANSACTIONS}{TS}{PLUS_QUERY}",
        "'+' unencoded",
        "the sandbox read dateFrom=2026-01-01T00:00:00 08:00",
        "%2B",
        PLUS_RIGHT,
        query=PLUS_QUERY,
    ),
    get(
        "unencoded-plus+unsorted-query",
        f"GET{TRANSACTIONS}{TS}dateFrom=2026-01-01T00:00:00+08:00&clientId=CLIENT_001",
        "%2B",
        "order sent",
        PLUS_RIGHT,
        query="dateFrom=2026-01-01T00:00:00+08:00&clientId=CLIENT_001",
    ),
    get(
        "unsent-param-undefined",  # M1: axios leaves type: undefined out of the URL
        f"GET{TRANSACTIONS}{TS}clientId=CLIENT_001&type=undefined",
        "signed type=undefined though your HTTP client did not send it",
        "axios",
        "parameters the URL carries: clientId=CLIENT_001",
        query="clientId=CLIENT_001",
    ),
    get(
        "unsent-param-null",
        f"GET{TRANSACTIONS}{TS}clientId=CLIENT_001&limit=5&page=null&type=null",
        "page=null and type=null",
        "did not send them",
        "clientId=CLIENT_001&limit=5",
        query="limit=5&clientId=CLIENT_001",
    ),
    get(
        "unsent-param-empty",  # PHP's http_build_query leaves out null values
        f"GET{TRANSACTIONS}{TS}clientId=CLIENT_001&dateFrom=&dateTo=&limit=&page=&sortBy=&"
        "sortOrder=&type=",
        "http_build_query",
        query="clientId=CLIENT_001",
    ),
    get(
        "unsent-param-none",  # Python's requests leaves out None
        f"GET{TRANSACTIONS}{TS}clientId=CLIENT_001&dateTo=None",
        "dateTo=None",
        "requests",
        query="clientId=CLIENT_001",
    ),
    get(
        "leading-question-mark",
        f"GET{TRANSACTIONS}{TS}?{QUERY_RIGHT}",
        "'?'",
        QUERY_RIGHT,
        query=QUERY,
    ),
    get(
        "query-in-path",
        f"GET{TRANSACTIONS}?{QUERY}{TS}",
        "part of PATH",
        "before '?'",
        GET_STS,
        query=QUERY,
    ),
    get("empty-payload", f"GET{TRANSACTIONS}{TS}", "left the query out", QUERY_RIGHT, query=QUERY),
    get(
        "json-query",
        f"GET{BALANCE}{TS}" + '{"clientId":"CLIENT_001"}',
        "JSON object",
        "clientId=CLIENT_001",
        path=BALANCE,
        query="clientId=CLIENT_001",
    ),
    get(
        "empty-object-payload",
        f"GET{BALANCE}{TS}{{}}",
        "signed {}",
        f"empty PAYLOAD. The sandbox signed: GET{BALANCE}{TS}",
        path=BALANCE,
    ),
    # method, path, timestamp
    post("lowercase-method", f"post{CREDIT}{TS}{RIGHT}", "'post'", "'POST'", STS),
    get(
        "lowercase-method",
        f"get{TRANSACTIONS}{TS}{QUERY_RIGHT}",
        "'get'",
        "'GET'",
        GET_STS,
        query=QUERY,
    ),
    post("missing-api-prefix", f"POST/credit-balance{TS}{RIGHT}", "'/api/v1'", CREDIT, STS),
    post("trailing-slash", f"POST{CREDIT}/{TS}{RIGHT}", "added a trailing '/'", STS),
    post(
        "trailing-slash",
        f"POST{CREDIT}{TS}{RIGHT}",
        "dropped the trailing '/'",
        f"{CREDIT}/",
        path=CREDIT + "/",
    ),
    post("missing-leading-slash", f"POST{CREDIT[1:]}{TS}{RIGHT}", "leading '/'", STS),
    post(
        "milliseconds-signed",
        f"POST{CREDIT}{TS}437{RIGHT}",
        f"{TS}437",
        "same digits as x-timestamp",
        STS,
    ),
    post(
        "milliseconds-header",
        STS,
        f"{TS}437",
        "seconds in x-timestamp",
        timestamp=TS + "437",
    ),
    post(
        "milliseconds-timestamp",
        f"POST{CREDIT}{TS}437{RIGHT}",
        "13 digits",
        "seconds",
        timestamp=TS + "437",
    ),
    # structure
    post(
        "newline-separated",
        "\n".join(["POST", CREDIT, TS, RIGHT]),
        "'\\n'",
        "no separator",
        STS,
    ),
    post("pipe-separated", "|".join(["POST", CREDIT, TS, RIGHT]), "parts with '|'", "no separator"),
    post("ampersand-separated", "&".join(["POST", CREDIT, TS, RIGHT]), "'&'", "no separator"),
    post(
        "component-order",
        f"{TS}POST{CREDIT}{RIGHT}",
        "TIMESTAMP + METHOD + PATH + PAYLOAD",
        "METHOD + PATH + TIMESTAMP + PAYLOAD",
        STS,
    ),
    post(
        "component-order",
        f"POST{TS}{CREDIT}{RIGHT}",
        "METHOD + TIMESTAMP + PATH + PAYLOAD",
        STS,
    ),
    post(
        "component-order",
        f"{RIGHT}POST{CREDIT}{TS}",
        "PAYLOAD + METHOD + PATH + TIMESTAMP",
        STS,
    ),
    # algorithm
    Case(
        "swapped-key-message",
        "swapped-key-message",
        hmac.new(STS.encode(), SECRET.encode(), hashlib.sha256).hexdigest(),
        ("swapped", "secret as the HMAC key"),
    ),
    Case(
        "hash-not-hmac",
        "hash-not-hmac",
        hashlib.sha256((SECRET + STS).encode()).hexdigest(),
        ("plain SHA-256", "HMAC-SHA256"),
    ),
    Case(
        "hash-secret-last",
        "hash-secret-last",
        hashlib.sha256((STS + SECRET).encode()).hexdigest(),
        ("StringToSign + secret", "HMAC-SHA256"),
    ),
    Case(
        "hash-no-secret",
        "hash-no-secret",
        hashlib.sha256(STS.encode()).hexdigest(),
        ("without the secret", "HMAC-SHA256"),
    ),
    Case("hmac-sha512", "hmac-sha512", hmac_digest(STS, algorithm="sha512").hex(), ("SHA-512",)),
    Case("hmac-sha1", "hmac-sha1", hmac_digest(STS, algorithm="sha1").hex(), ("SHA-1",)),
    # encoding of the right digest
    Case("uppercase-hex", "uppercase-hex", RIGHT_DIGEST.hex().upper(), ("upper-case", "lowercase")),
    Case("base64", "base64", b64(RIGHT_DIGEST), ("base64", "64 lowercase hex")),
    Case("base64-unpadded", "base64-unpadded", b64(RIGHT_DIGEST, pad=False), ("padding",)),
    Case(
        "base64url",
        "base64url",
        b64(hmac_digest(f"POST{CREDIT}{URL_TS}{RIGHT}"), url=True),
        ("URL-safe base64",),
        timestamp=URL_TS,
    ),
    Case(
        "base64url-unpadded",
        "base64url-unpadded",
        b64(hmac_digest(f"POST{CREDIT}{URL_TS}{RIGHT}"), url=True, pad=False),
        ("URL-safe base64 without padding",),
        timestamp=URL_TS,
    ),
    # secret
    post("partner-secret", STS, "partner 'acme'", key=PARTNERS["acme"]),
    post("secret-trailing-newline", STS, "line break", "Strip the secret", key=SECRET + "\n"),
    post("secret-trailing-space", STS, "followed by a space", "Strip the secret", key=SECRET + " "),
    post(
        "secret-stripped",
        STS,
        "without its surrounding whitespace",
        key="padded-secret",
        secret="padded-secret\n",
    ),
]

PAIR_CASES = [
    Case(
        "json-spacing+uppercase-hex",
        "json-spacing+uppercase-hex",
        hmac_hex(f"POST{CREDIT}{TS}{json.dumps(BODY)}").upper(),
        ("json.dumps", "upper-case", "lowercase hex", RIGHT),
    ),
    post(
        "json-spacing+sorted-keys",
        f"POST{CREDIT}{TS}{json.dumps(BODY, sort_keys=True)}",
        "json.dumps",
        "sorted",
        RIGHT,
    ),
    post(
        "json-spacing+unicode-escape",  # Python's json.dumps default on a non-ASCII body
        f"POST{CREDIT}{TS}{json.dumps(UNICODE_BODY)}",
        "json.dumps",
        "\\uXXXX",
        UNICODE_RIGHT,
        body=UNICODE_RIGHT,
    ),
    post(
        "unicode-escape+escaped-slashes",  # PHP's json_encode default
        f"POST{CREDIT}{TS}"
        + json.dumps({**UNICODE_BODY, "reference": "a/b"}, separators=(",", ":")).replace(
            "/", "\\/"
        ),
        "json_encode",
        "\\uXXXX",
        body=compact({**UNICODE_BODY, "reference": "a/b"}),
    ),
    post(
        "json-spacing+lowercase-method",
        f"post{CREDIT}{TS}{json.dumps(BODY)}",
        "json.dumps",
        "'POST'",
        STS,
    ),
    Case(
        "unsorted-query+base64",
        "unsorted-query+base64",
        b64(hmac_digest(f"GET{BALANCE}{TS}limit=10&clientId=CLIENT_001")),
        ("order sent", "base64", "clientId=CLIENT_001&limit=10"),
        method="GET",
        path=BALANCE,
        query="limit=10&clientId=CLIENT_001",
    ),
    post(
        "json-spacing+partner-secret",
        f"POST{CREDIT}{TS}{json.dumps(BODY)}",
        "json.dumps",
        "partner 'globex'",
        key=PARTNERS["globex"],
    ),
    post(
        "json-spacing+newline-separated",
        "\n".join(["POST", CREDIT, TS, json.dumps(BODY)]),
        "json.dumps",
        "'\\n'",
        STS,
    ),
    post(
        "json-spacing+component-order",
        f"{TS}POST{CREDIT}{json.dumps(BODY)}",
        "json.dumps",
        "TIMESTAMP + METHOD + PATH + PAYLOAD",
    ),
    Case(
        "missing-api-prefix+uppercase-hex",
        "missing-api-prefix+uppercase-hex",
        hmac_hex(f"POST/credit-balance{TS}{RIGHT}").upper(),
        ("'/api/v1'", "upper-case"),
    ),
    Case(
        "json-spacing+hash-not-hmac",
        "json-spacing+hash-not-hmac",
        hashlib.sha256(f"{SECRET}POST{CREDIT}{TS}{json.dumps(BODY)}".encode()).hexdigest(),
        ("json.dumps", "plain SHA-256"),
    ),
    Case(
        "sorted-keys+base64",
        "sorted-keys+base64",
        b64(
            hmac_digest(
                f"POST{CREDIT}{TS}{json.dumps(BODY, separators=(',', ':'), sort_keys=True)}"
            )
        ),
        ("sorted", "base64"),
    ),
    get(
        "url-encoded-query+lowercase-method",
        f"get{TRANSACTIONS}{TS}{QUERY}",
        "URL-encoded",
        "'GET'",
        query=QUERY,
    ),
    post(
        "json-spacing+secret-trailing-newline",
        f"POST{CREDIT}{TS}{json.dumps(BODY)}",
        "json.dumps",
        "line break",
        key=SECRET + "\n",
    ),
    post(
        "numbers-as-typed+lowercase-method",
        f"post{CREDIT}{TS}{TYPED}",
        "100.50",
        "'POST'",
        body=TYPED,
    ),
    Case(
        "newline-separated+uppercase-hex",
        "newline-separated+uppercase-hex",
        hmac_hex("\n".join(["POST", CREDIT, TS, RIGHT])).upper(),
        ("'\\n'", "upper-case"),
    ),
]

# A body sent exactly as a library escapes it, and signed as sent: named after the escaping
# (the library flag is the fix), not raw-body (M3).
SENT_AS_ESCAPED_CASES = [
    Case(
        "escaped-slashes-as-sent",  # PHP's json_encode with a URL in the description
        "escaped-slashes",
        hmac_hex(f"POST{CREDIT}{TS}{PHP_URL_BODY}"),
        ("'\\/'", "JSON_UNESCAPED_SLASHES", PHP_URL_RIGHT),
        body=PHP_URL_BODY,
    ),
    Case(
        "escaped-slashes-as-sent+uppercase-hex",
        "escaped-slashes+uppercase-hex",
        hmac_hex(f"POST{CREDIT}{TS}{PHP_URL_BODY}").upper(),
        ("JSON_UNESCAPED_SLASHES", "upper-case"),
        body=PHP_URL_BODY,
    ),
    Case(
        "unicode-escape+escaped-slashes-as-sent",  # PHP's json_encode, both defaults
        "unicode-escape+escaped-slashes",
        hmac_hex(f"POST{CREDIT}{TS}" + PHP_URL_BODY.replace("See", "Caf\\u00e9")),
        ("json_encode", "JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES"),
        body=PHP_URL_BODY.replace("See", "Caf\\u00e9"),
    ),
    Case(
        "html-escape-as-sent",  # Go's json.Marshal, sent and signed
        "html-escape",
        hmac_hex(f"POST{CREDIT}{TS}{GO_HTML}"),
        ("Go's json.Marshal", HTML_RIGHT),
        body=GO_HTML,
    ),
    Case(
        "dotnet-escape-as-sent",
        "dotnet-escape",
        hmac_hex(f"POST{CREDIT}{TS}{NET_BODY}"),
        ("System.Text.Json", NET_RIGHT),
        body=NET_BODY,
    ),
]

ALL_CASES = SINGLE_CASES + PAIR_CASES + SENT_AS_ESCAPED_CASES


def case_id(case: Case) -> str:
    return f"{case.method}-{case.id}"


@pytest.mark.parametrize("case", ALL_CASES, ids=[case_id(c) for c in ALL_CASES])
def test_each_mistake_is_found_by_name(case: Case) -> None:
    finding = case.diagnose()
    assert (finding.matched, finding.code) == (True, case.code), finding.message
    for words in case.words:
        assert words in finding.message
    assert finding.message.startswith("You ")
    assert finding.tried >= 1


def codes(candidate: Candidate) -> list[str]:
    """A candidate's finding code, one part per named mistake."""
    return [part for d in candidate.deviations for part in d.code.split("+")]


def test_every_single_deviation_of_the_plan_has_a_case() -> None:
    """Each mistake the doctor searches is exercised by at least one case."""
    planned = {part for candidate in doctor.PLAN for part in codes(candidate)}
    covered = {part for case in ALL_CASES for part in case.code.split("+")}
    assert planned <= covered, sorted(planned - covered)


def test_every_mistake_of_every_dimension_is_planned_alone() -> None:
    named = [*Spacing, *JsonFlag, *QueryFlag, *Form, *Unsent, *Method, *Path, *Timestamp]
    everything = {m.code for m in [*named, *Algorithm, *Secret, *Joiner]} | {"component-order"}
    singles = {part for c in doctor.PLAN if len(c.deviations) == 1 for part in codes(c)}
    assert singles == everything


def test_single_deviations_come_before_pairs() -> None:
    plan = doctor.PLAN
    assert plan[0] == Candidate()
    first_pair = next(i for i, c in enumerate(plan) if len(c.deviations) == 2)
    # Past the first pair, only deviations that are themselves two mistakes in one dimension
    # (a JSON style with two flags, another order with a separator) may still come alone.
    assert all(len(codes(c)) >= 2 for c in plan[first_pair:])
    assert all(len(c.deviations) <= 2 for c in plan)


def test_the_likeliest_mistakes_are_tried_first() -> None:
    """The ranking: a change of a cost or of a table's order shows here first."""
    first = ["+".join(d.code for d in c.deviations) for c in doctor.PLAN[:21]]
    assert first == [
        "",
        "json-spacing",
        "unencoded-plus",  # before url-encoded-query: its fix (%2B) is the other's opposite
        "url-encoded-query",
        "unsorted-query",
        "stringified-body",
        "json-spacing+unicode-escape",
        "unencoded-plus+unsorted-query",
        "url-encoded-query+unsorted-query",
        "sorted-keys",
        "query-in-path",
        "lowercase-method",
        "newline-separated",
        "partner-secret",
        "numbers-as-typed",
        "unicode-escape",
        "leading-question-mark",
        "missing-api-prefix",
        "component-order",
        "secret-trailing-newline",
        "unicode-escape+escaped-slashes",
    ]
    assert doctor.PLAN[18].structure == Structure(
        (Part.TIMESTAMP, Part.METHOD, Part.PATH, Part.PAYLOAD)
    )
    assert (len(doctor.PLAN), sum(len(c.deviations) == 2 for c in doctor.PLAN)) == (1020, 740)


def test_each_request_tries_only_the_candidates_that_can_apply_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """plan_for leaves out what cannot apply (a JSON style for a GET, a query style for a
    POST, a '+' where there is none...): the findings, digests counted, are the same."""
    random_sig = secrets.token_hex(32)
    cases = [
        *ALL_CASES,
        Case("random-post", "", random_sig, ()),
        Case("random-get", "", random_sig, (), method="GET", path=TRANSACTIONS, query=QUERY),
        Case("random-plus", "", random_sig, (), method="GET", path=TRANSACTIONS, query=PLUS_QUERY),
    ]
    narrowed = [case.diagnose() for case in cases]
    assert len(plan.plan_for(True)) < len(plan.plan_for(True, True, 29)) < len(doctor.PLAN)
    assert len(plan.plan_for(False)) < len(doctor.PLAN)
    monkeypatch.setattr(variants.Request, "plan", lambda self: doctor.PLAN)
    assert [case.diagnose() for case in cases] == narrowed


# --------------------------------------------------------------------------- when nothing matches


NEXT_STEP = (
    "Next step: compare your StringToSign byte for byte with the sandbox's "
    "(X-Sandbox-String-To-Sign); only if they are equal is the secret wrong."
)


def test_a_random_signature_is_no_known_variant_with_the_next_step() -> None:
    """What was verified, and the one next step that always works; never a guess at the
    secret (most such signatures come from a StringToSign built in an unforeseen way)."""
    finding = Case("random", "", secrets.token_hex(32), ()).diagnose()
    assert not finding.matched
    assert finding.code == "no-known-variant"
    assert finding.message.startswith(
        "No known signing mistake reproduces this signature. Verified: it is a well-formed "
        f"SHA-256 digest; {finding.tried} variants of the StringToSign, algorithm, encoding and "
        "secret do not give it. "
    )
    assert NEXT_STEP in finding.message
    assert "likely" not in finding.message
    assert finding.tried > 1000
    assert finding.message.endswith(f"The sandbox signed: {STS}")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_wrong_secret_is_no_known_variant(method: str) -> None:
    path, query, body = (TRANSACTIONS, QUERY, "") if method == "GET" else (CREDIT, "", RIGHT)
    payload = QUERY_RIGHT if method == "GET" else RIGHT
    sig = hmac_hex(f"{method}{path}{TS}{payload}", key="some-other-secret")
    finding = diagnose(method, path, query, body.encode(), TS, sig, SECRET, PARTNERS)
    assert (finding.matched, finding.code) == (False, "no-known-variant")
    assert NEXT_STEP in finding.message
    assert "some-other-secret" not in finding.message


def test_no_known_variant_names_the_digest_it_verified() -> None:
    sig = hmac_digest(f"POST{CREDIT}{TS}something else", algorithm="sha512").hex()
    finding = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, sig, SECRET)
    assert finding.code == "no-known-variant"
    assert "a well-formed SHA-512 digest" in finding.message


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_right_signature_is_not_called_a_mistake(method: str) -> None:
    path, query, body = (TRANSACTIONS, QUERY, "") if method == "GET" else (CREDIT, "", RIGHT)
    payload = QUERY_RIGHT if method == "GET" else RIGHT
    sig = hmac_hex(f"{method}{path}{TS}{payload}")
    finding = diagnose(method, path, query, body.encode(), TS, sig, SECRET, PARTNERS)
    assert (finding.matched, finding.code) == (False, "valid")
    assert finding.expected == f"{method}{path}{TS}{payload}".encode()


@pytest.mark.parametrize(
    "signature", ["", "abc", "sha256=" + "0" * 64, "z" * 64, "0" * 63], ids=repr
)
def test_a_signature_that_is_no_digest_says_so(signature: str) -> None:
    finding = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, signature, SECRET)
    assert (finding.matched, finding.code, finding.tried) == (False, "not-a-digest", 0)
    assert "64 lowercase hex characters" in finding.message


def test_the_work_is_capped_for_a_large_body_and_many_partners() -> None:
    body = {
        "clientId": "CLIENT_001",
        "amount": 1,
        "items": [{"n": i, "s": "x/é"} for i in range(3000)],
    }
    raw = json.dumps(body).encode()
    many = {f"partner-{i}": f"secret-of-partner-{i}" for i in range(200)}
    finding = diagnose("POST", CREDIT, "", raw, TS, secrets.token_hex(32), SECRET, many)
    assert finding.code == "no-known-variant"
    assert "work limit" in finding.message
    assert len(finding.message) < 1000  # the payload is quoted in part only
    # Each digest hashes the whole body (65 KB): the bytes hashed stop the search (at most one
    # message past the cap), after the likeliest few candidates.
    message = len(f"POST{CREDIT}{TS}".encode() + signing.canonical_json(raw))
    assert finding.tried * message > doctor.MAX_HASHED_BYTES / 2
    assert finding.tried * message <= doctor.MAX_HASHED_BYTES + message
    assert 5 <= finding.tried <= 40


def test_many_partners_reach_the_digest_cap() -> None:
    many = {f"partner-{i}": f"secret-of-partner-{i}" for i in range(200)}
    finding = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, secrets.token_hex(32), SECRET, many)
    assert (finding.code, finding.tried) == ("no-known-variant", doctor.MAX_DIGESTS)
    assert "work limit" in finding.message


def test_the_digest_cap_leaves_an_ordinary_request_alone() -> None:
    """The whole plan of a request with a few partners fits, and the cap stays near it."""
    finding = diagnose(
        "POST", CREDIT, "", RIGHT.encode(), TS, secrets.token_hex(32), SECRET, PARTNERS
    )
    assert "work limit" not in finding.message
    assert 1000 < finding.tried < doctor.MAX_DIGESTS <= 1.5 * finding.tried


def test_a_lower_cap_stops_the_search_there(monkeypatch: pytest.MonkeyPatch) -> None:
    sig = hmac_hex("|".join(["POST", CREDIT, TS, RIGHT]))
    found = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, sig, SECRET, PARTNERS)
    assert (found.code, found.tried) == ("pipe-separated", 1020)  # after the millisecond scan
    monkeypatch.setattr(search, "MAX_DIGESTS", 900)  # no room for the scan: it is left out
    found = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, sig, SECRET, PARTNERS)
    assert (found.code, found.tried) == ("pipe-separated", 20)
    monkeypatch.setattr(search, "MAX_DIGESTS", 15)
    finding = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, sig, SECRET, PARTNERS)
    assert (finding.code, finding.tried) == ("no-known-variant", 15)
    assert "work limit" in finding.message


def json_dumps_body(size: int) -> tuple[bytes, str]:
    """An object of ``size`` bytes or just over, and its signature as json.dumps signs it."""
    body: dict[str, Any] = {"clientId": "CLIENT_001", "amount": 1, "items": []}
    while len(compact(body)) < size:  # few values: within signing.MAX_JSON_COMMAS
        body["items"].append({"n": len(body["items"]), "pad": "x" * 100})
    return compact(body).encode(), hmac_hex(f"POST{CREDIT}{TS}{json.dumps(body)}")


def test_a_body_up_to_16_kib_still_gets_the_likeliest_json_variant() -> None:
    raw, sig = json_dumps_body(16000)
    assert len(raw) <= doctor.MAX_WALKED_BYTES
    finding = diagnose("POST", CREDIT, "", raw, TS, sig, SECRET)
    assert finding.code == "json-spacing"


def test_a_larger_body_gets_no_json_variant() -> None:
    raw, sig = json_dumps_body(24000)
    finding = diagnose("POST", CREDIT, "", raw, TS, sig, SECRET)
    assert finding.code == "no-known-variant"
    assert "work limit" in finding.message


def test_the_walk_cap_counts_each_json_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for one walk of the body: json-spacing; the flags need a second one first."""
    size = len(RIGHT)
    monkeypatch.setattr(variants, "MAX_WALKED_BYTES", 2 * size)
    sig = hmac_hex(f"POST{CREDIT}{TS}{json.dumps(BODY, separators=(',', ':'), sort_keys=True)}")
    finding = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, sig, SECRET)
    assert finding.code == "no-known-variant"  # spacing, then the flags' walk: no room left
    monkeypatch.setattr(variants, "MAX_WALKED_BYTES", 3 * size)
    assert diagnose("POST", CREDIT, "", RIGHT.encode(), TS, sig, SECRET).code == "sorted-keys"


# --------------------------------------------------------------------------- what partners hit


def test_unsent_params_are_the_endpoints_documented_optional_ones() -> None:
    optional = tuple(f.name for f in fields.TRANSACTIONS_QUERY if not f.required)
    assert variants.optional_query_params(TRANSACTIONS) == optional
    assert len(optional) == 7
    assert variants.optional_query_params(BALANCE) == ()  # clientId only, and required
    assert variants.optional_query_params("/api/v1/unknown") == ()
    # each alone, all of them, each pair: the plan's slots hold exactly that many
    assert plan.MAX_UNSENT_SETS == 7 + 1 + 21


def unsent_sets(query: str, path: str = TRANSACTIONS, method: str = "GET") -> list[Any]:
    r = variants.Request(method, path, query, b"", TS, SECRET, {}, False, None)
    return r.unsent_sets


def test_unsent_sets_leave_out_what_was_sent() -> None:
    sets = unsent_sets("clientId=CLIENT_001")
    assert len(sets) == plan.MAX_UNSENT_SETS
    assert sets[:8] == [
        ("limit",),
        ("page",),
        ("type",),
        ("sortBy",),
        ("sortOrder",),
        ("dateFrom",),
        ("dateTo",),
        ("limit", "page", "type", "sortBy", "sortOrder", "dateFrom", "dateTo"),
    ]
    sent = unsent_sets("clientId=C&limit=5&type=&dateFrom=2026-01-01&page=2&sortBy=id")
    assert sent == [("sortOrder",), ("dateTo",), ("sortOrder", "dateTo")]  # a pair is all
    assert unsent_sets("clientId=C", path=BALANCE) == []
    assert unsent_sets("", path=TRANSACTIONS, method="POST") == []


@pytest.mark.parametrize(
    ("signed", "words"),
    [
        ("clientId=CLIENT_001&dateTo=undefined&limit=undefined", "dateTo=undefined"),
        (
            "clientId=CLIENT_001&dateFrom=null&dateTo=null&limit=null&page=null&sortBy=null&"
            "sortOrder=null&type=null",
            "limit=null, page=null, type=null, sortBy=null, sortOrder=null, dateFrom=null and "
            "dateTo=null",
        ),
        ("clientId=CLIENT_001&sortOrder=", "sortOrder= though"),
    ],
    ids=["pair", "all", "one-empty"],
)
def test_each_set_of_unsent_params_is_found(signed: str, words: str) -> None:
    sig = hmac_hex(f"GET{TRANSACTIONS}{TS}{signed}")
    finding = diagnose("GET", TRANSACTIONS, "clientId=CLIENT_001", b"", TS, sig, SECRET)
    assert finding.code.startswith("unsent-param-"), finding.message
    assert words in finding.message
    assert finding.message.endswith("Sign only the parameters the URL carries: clientId=CLIENT_001")


def test_an_undocumented_param_is_no_unsent_one() -> None:
    sig = hmac_hex(f"GET{BALANCE}{TS}clientId=CLIENT_001&type=undefined")
    finding = diagnose("GET", BALANCE, "clientId=CLIENT_001", b"", TS, sig, SECRET)
    assert finding.code == "no-known-variant"


def test_a_form_encoded_plus_is_still_a_space() -> None:
    """With %3A beside it, a '+' comes from a form encoder (URLSearchParams, urlencode,
    http_build_query): it stands for a space, and signing the query as sent is the mistake."""
    query = "clientId=CLIENT_001&dateFrom=2026-01-01T00%3A00%3A00+08%3A00"
    finding = diagnose(
        "GET", TRANSACTIONS, query, b"", TS, hmac_hex(f"GET{TRANSACTIONS}{TS}{query}"), SECRET
    )
    assert finding.code == "url-encoded-query"
    signed_plus = "clientId=CLIENT_001&dateFrom=2026-01-01T00:00:00+08:00"
    sig = hmac_hex(f"GET{TRANSACTIONS}{TS}{signed_plus}")
    assert diagnose("GET", TRANSACTIONS, query, b"", TS, sig, SECRET).code == "unencoded-plus"


def test_unencoded_plus_never_advises_a_space_for_a_plus() -> None:
    case = next(c for c in SINGLE_CASES if c.code == "unencoded-plus")
    message = case.diagnose().message
    assert "'+' as a space" not in message  # M2: that advice gave a 400 on dateFrom
    assert "Send '+' as %2B" in message


def test_a_pretty_body_sent_and_signed_is_still_raw_body() -> None:
    """Only escaping is named over raw-body: for a hand-formatted body, JSON.stringify is the
    fix (the ranking of raw-body against spacing and pretty printing is unchanged)."""
    for body in (json.dumps(BODY, indent=2), '{"clientId": "CLIENT_001", "amount": 100.50}'):
        sig = hmac_hex(f"POST{CREDIT}{TS}{body}")
        assert diagnose("POST", CREDIT, "", body.encode(), TS, sig, SECRET).code == "raw-body"


def test_a_raw_sandbox_names_no_escaping_for_a_body_signed_as_sent() -> None:
    sig = hmac_hex(f"POST{CREDIT}{TS}{PHP_URL_BODY}")
    finding = diagnose("POST", CREDIT, "", PHP_URL_BODY.encode(), TS, sig, SECRET, raw_payload=True)
    assert finding.code == "valid"  # the sandbox signs the bytes as sent: nothing to name


@pytest.mark.parametrize(
    ("text", "dotnet", "go", "gson"),
    [
        ("😀", "\\uD83D\\uDE00", "😀", "😀"),
        ("\x1f\x7f\t", "\\u001F\\u007F\\t", "\\u001f\x7f\\t", "\\u001f\x7f\\t"),
        ("a\\b/c", "a\\\\b/c", "a\\\\b/c", "a\\\\b/c"),
        (
            "\u2028<'=>",
            "\\u2028\\u003C\\u0027=\\u003E",
            "\\u2028\\u003c'=\\u003e",
            "\\u2028\\u003c\\u0027\\u003d\\u003e",
        ),
        ('`+&"', "\\u0060\\u002B\\u0026\\u0022", '`+\\u0026\\"', '`+\\u0026\\"'),
    ],
    ids=["astral", "controls", "backslash", "html", "dotnet-ascii"],
)
def test_go_gson_and_dotnet_escaping(text: str, dotnet: str, go: str, gson: str) -> None:
    """Go's json.Marshal (encoding/json: <, >, &, U+2028, U+2029 escaped; the rest as
    JSON.stringify), Java Gson's (the same and = and ') and System.Text.Json's default encoder
    (JavaScriptEncoder.Default: all but printable ASCII, and "&'+<>`, in upper-case hex)."""
    raw = compact({"clientId": "C", "amount": 1, "d": text}).encode()
    escapes = {JsonFlag.DOTNET_ESCAPE: dotnet, JsonFlag.HTML_ESCAPE: go, JsonFlag.GSON_ESCAPE: gson}
    for flag, expected in escapes.items():
        r = variants.Request("POST", CREDIT, "", raw, TS, SECRET, {}, False, None)
        built = r.payload(plan.JsonStyle(None, frozenset({flag})))
        wanted = f'{{"clientId":"C","amount":1,"d":"{expected}"}}'.encode()
        if wanted == r.canonical:  # as JSON.stringify prints it: the variant does not apply
            assert built is None, flag
        else:
            assert built == (wanted, b""), flag


# --------------------------------------------------------------------------- one parse


def test_a_mismatch_does_not_parse_the_body_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numbers as typed come from the server's one parse (signing.Body.numbers)."""
    body = TYPED.encode()
    parsed = signing.canonical_body(body)

    def no_parse(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the body was parsed again")

    monkeypatch.setattr(json, "loads", no_parse)
    monkeypatch.setattr(json.JSONDecoder, "decode", no_parse)
    monkeypatch.setattr(signing, "parse_json", no_parse)
    sig = hmac_hex(f"POST{CREDIT}{TS}{TYPED}")
    finding = diagnose("POST", CREDIT, "", body, TS, sig, SECRET, PARTNERS, parsed=parsed)
    assert finding.code == "numbers-as-typed"
    assert "100.50" in finding.message


@pytest.mark.parametrize(
    ("raw", "typed"),
    [
        ('{"a":1.50,"a":2.50}', '{"a":2.50}'),  # the last value, at the first position
        ('{"a":"s","b":2.0,"a":2}', '{"a":2,"b":2.0}'),  # not the document's order of numbers
        ('{"a":[1.0],"b":{"c":1e1},"b":3.50}', '{"a":[1.0],"b":3.50}'),
    ],
)
def test_numbers_as_typed_follow_json_parse_on_repeated_keys(raw: str, typed: str) -> None:
    sig = hmac_hex(f"POST{CREDIT}{TS}{typed}")
    finding = diagnose("POST", CREDIT, "", raw.encode(), TS, sig, SECRET)
    assert finding.code == "numbers-as-typed", finding.message


def test_the_one_parse_logs_an_objects_numbers_as_typed() -> None:
    body = signing.canonical_body(b' {"a":1.50,"b":[2,{"c":-0}],"a":3e0}')
    assert body.numbers[1::2] == ["1.50", "2", "-0", "3e0"]
    assert body.data is not None and body.data["a"] is body.numbers[-2]  # the same float
    assert signing.parse_json(b'{"a":1.50}') == {"a": 1.5}  # the parse alone logs nothing,
    assert len(body.numbers) == 8  # not even into the last body's log
    assert signing.canonical_body(b"[1.50, 2]").numbers == ()  # no object: nothing logged
    assert signing.canonical_body(b'{"a":1.50,}').numbers == ()  # invalid JSON


def test_each_thread_logs_its_own_numbers() -> None:
    errors: list[str] = []

    def parse(n: int) -> None:
        raw = ("{" + ",".join(f'"k{i}":{n}.{i}0' for i in range(50)) + "}").encode()
        for _ in range(200):
            texts = signing.canonical_body(raw).numbers[1::2]
            if texts != [f"{n}.{i}0" for i in range(50)]:
                errors.append(f"thread {n}: {texts[:3]}")

    threads = [threading.Thread(target=parse, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --------------------------------------------------------------------------- secrets and headers

SECRETS = ["sandbox-secret", "S3cr3t!with/slash", "ключ-секрет-ü", "short-9"]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("case", ALL_CASES, ids=[case_id(c) for c in ALL_CASES])
def test_no_output_contains_a_secret(case: Case, secret: str) -> None:
    outputs = [case.diagnose(secret), case.diagnose()]
    for finding in outputs:
        text = "\n".join(
            [
                finding.code,
                finding.message,
                header_value(finding),
                repr(finding.signed),
                repr(finding.expected),
            ]
        )
        for s in [secret, case.secret.strip(), *PARTNERS.values()]:
            assert s not in text
            assert s.encode("unicode_escape").decode() not in text


def test_another_partners_secret_names_the_partner_only() -> None:
    finding = diagnose(
        "POST", CREDIT, "", RIGHT.encode(), TS, hmac_hex(STS, PARTNERS["globex"]), SECRET, PARTNERS
    )
    assert finding.code == "partner-secret"
    assert "partner 'globex'" in finding.message
    assert "acme" not in finding.message
    assert PARTNERS["globex"] not in finding.message + header_value(finding)


def test_a_secret_carried_in_the_request_is_masked() -> None:
    body = compact({"clientId": "CLIENT_001", "amount": 1, "note": SECRET})
    sig = hmac_hex(f"POST{CREDIT}{TS}{json.dumps(json.loads(body))}")
    finding = diagnose("POST", CREDIT, "", body.encode(), TS, sig, SECRET)
    assert finding.code == "json-spacing"
    assert SECRET not in finding.message
    assert '"note":"[secret]"' in finding.message


@pytest.mark.parametrize("case", ALL_CASES, ids=[case_id(c) for c in ALL_CASES])
def test_header_value_is_one_short_ascii_line(case: Case) -> None:
    value = header_value(case.diagnose())
    assert value.isascii()
    assert all(" " <= ch <= "~" for ch in value)
    assert len(value) <= doctor.HEADER_LIMIT
    assert value.startswith(case.code + ": You ")


def test_header_value_escapes_unicode_and_cuts_long_messages_cleanly() -> None:
    body = compact({"clientId": "CLIENT_é", "amount": 1, "description": "é\n☕" * 200})
    sig = hmac_hex(f"POST{CREDIT}{TS}{json.dumps(json.loads(body), ensure_ascii=False)}")
    finding = diagnose("POST", CREDIT, "", body.encode(), TS, sig, SECRET)
    assert finding.code == "json-spacing"
    assert "é" in finding.message  # the message itself keeps the text
    value = header_value(finding)
    assert "CLIENT_\\u00e9" in value
    assert len(value) <= 500 and value.endswith("..." + doctor.ESCAPED_NOTE)
    cut = value.removesuffix(doctor.ESCAPED_NOTE)
    assert not re.search(r"\\(u[0-9a-f]{0,3})?\.\.\.$", cut)  # not cut inside an escape
    short = header_value(finding, limit=40 + len(doctor.ESCAPED_NOTE))
    assert short == value[:37] + "..." + doctor.ESCAPED_NOTE


def test_an_escaped_header_says_so_and_cannot_read_as_the_mistake() -> None:
    """The corrected body of a unicode-escape finding is escaped in the header too: the note
    tells one escaped character (\\u00e9) from the six characters the client signed."""
    case = next(c for c in SINGLE_CASES if c.code == "unicode-escape")
    value = header_value(case.diagnose())
    assert value.endswith(" [escaped header: \\uXXXX is one UTF-8 character, \\\\ one backslash]")
    assert "as \\\\uXXXX" in value  # what the client did: a backslash, then uXXXX
    assert '"clientId":"CLIENT_\\u00e9"' in value  # what to sign: one character
    assert header_value(SINGLE_CASES[0].diagnose()).endswith(RIGHT)  # nothing escaped, no note


def test_the_string_to_sign_headers_carry_the_exact_bytes_when_escaped() -> None:
    signed = 'POST/api/v1/credit-balance1{"d":"Café\\\\u00e9\\n"}'.encode()
    headers = doctor.string_to_sign_headers(signed, "The x-signature does not match.")
    assert list(headers) == [
        "X-Sandbox-Signature-Detail",
        "X-Sandbox-String-To-Sign",
        "X-Sandbox-String-To-Sign-Base64",
    ]
    assert headers["X-Sandbox-String-To-Sign"] == (
        'POST/api/v1/credit-balance1{"d":"Caf\\u00e9\\\\\\\\u00e9\\\\n"}'
    )
    assert base64.b64decode(headers["X-Sandbox-String-To-Sign-Base64"]) == signed
    assert headers["X-Sandbox-Signature-Detail"] == (
        "The x-signature does not match. X-Sandbox-String-To-Sign is escaped (\\uXXXX is one "
        "UTF-8 character, \\\\ one backslash); X-Sandbox-String-To-Sign-Base64 has the exact "
        "bytes."
    )
    plain = doctor.string_to_sign_headers(STS.encode(), "detail")
    assert plain == {"X-Sandbox-Signature-Detail": "detail", "X-Sandbox-String-To-Sign": STS}


def test_a_long_string_to_sign_carries_its_first_bytes() -> None:
    signed = ("POST/x1" + "é" * 3000).encode()
    headers = doctor.string_to_sign_headers(signed, "d")
    exact = base64.b64decode(headers["X-Sandbox-String-To-Sign-Base64"])
    assert exact == signed[: doctor.STRING_TO_SIGN_BASE64_LIMIT]
    assert "the exact bytes (its first 2,048 bytes)." in headers["X-Sandbox-Signature-Detail"]
    assert all(len(value) < 3000 for value in headers.values())


# --------------------------------------------------------------------------- properties

json_keys = st.text(string.ascii_letters + "_é", min_size=1, max_size=8)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_keys, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(json_keys, json_values, min_size=1, max_size=4))
def test_any_body_signed_with_python_json_dumps_is_recognized(body: dict[str, Any]) -> None:
    raw = compact(body).encode()
    sig = hmac_hex(f"POST{CREDIT}{TS}".encode() + json.dumps(body).encode())
    finding = diagnose("POST", CREDIT, "", raw, TS, sig, SECRET)
    escaped = json.dumps(body) != json.dumps(body, ensure_ascii=False)
    assert finding.code == ("json-spacing+unicode-escape" if escaped else "json-spacing")


@settings(max_examples=40, deadline=None)
@given(
    st.binary(max_size=200), st.binary(max_size=300), st.sampled_from(["sha256", "sha512", "sha1"])
)
@example(b"k" * 64, b"a block-long key", "sha256")
@example(b"k" * 65, b"a key longer than a block", "sha256")
@example(b"k" * 129, b"a key longer than SHA-512's block", "sha512")
def test_the_one_hmac_is_hmac(key: bytes, message: bytes, name: str) -> None:
    digests = search.Digests(name)
    assert digests.hmac(key, message) == hmac.digest(key, message, name)
    again = message + b"!"  # the key's setup, kept from the first message, is reused
    assert digests.hmac(key, again) == hmac.digest(key, again, name)


def test_the_plan_is_deterministic_and_bounded() -> None:
    assert doctor.PLAN[0] == Candidate()
    assert len(set(doctor.PLAN)) == len(doctor.PLAN)
    assert len(doctor.PLAN) < 2000
    assert plan._build_plan() == doctor.PLAN
    # Each candidate by its codes and order (a frozenset's repr varies with the hash seed).
    program = (
        "from sandbox import doctor\n"
        "for c in doctor.PLAN:\n"
        "    print([d.code for d in c.deviations], c.structure and c.structure.order)"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    here = "".join(
        f"{[d.code for d in c.deviations]} {c.structure and c.structure.order}\n"
        for c in doctor.PLAN
    )
    assert runs == {here}  # the same order whatever the hash seed


def test_the_sent_signature_is_read_in_each_encoding() -> None:
    digest = RIGHT_DIGEST
    cases: dict[Encoding | None, Callable[[bytes], str]] = {
        None: lambda d: d.hex(),
        Encoding.UPPERCASE_HEX: lambda d: d.hex().upper(),
        Encoding.BASE64: lambda d: b64(d),
        Encoding.BASE64_UNPADDED: lambda d: b64(d, pad=False),
    }
    for encoding, encode in cases.items():
        assert search._targets(encode(digest)) == [(digest, encoding)]
    assert search._targets(" " + digest.hex() + " ") == [(digest, None)]
    assert search._targets("g" * 64) == []
    assert search._targets("a=b") == []


def test_a_sandbox_signing_raw_bodies_still_recognizes_json_mistakes() -> None:
    sig = hmac_hex(f"POST{CREDIT}{TS}{json.dumps(BODY)}")
    finding = diagnose("POST", CREDIT, "", RIGHT.encode(), TS, sig, SECRET, raw_payload=True)
    assert finding.code == "json-spacing"
    assert finding.expected == STS.encode()


@pytest.mark.parametrize("case", ALL_CASES[:12], ids=[case_id(c) for c in ALL_CASES[:12]])
def test_a_body_canonicalized_by_the_caller_gives_the_same_finding(case: Case) -> None:
    body = case.body.encode()
    parsed = signing.canonical_body(body)
    again = diagnose(
        case.method,
        case.path,
        case.query,
        body,
        case.timestamp,
        case.signature,
        case.secret,
        PARTNERS,
        raw_payload=case.raw_payload,
        parsed=parsed,
    )
    assert again == case.diagnose()


json_text = st.text(st.sampled_from('aé/☕ \\"<&'), max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(json_keys, json_text, min_size=1, max_size=4))
def test_any_body_sent_as_php_json_encode_prints_it_is_named_so(body: dict[str, Any]) -> None:
    """PHP's json_encode defaults (\\u escapes, '\\/'), sent and signed as such (M3, M4)."""
    utf8 = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    sent = json.dumps(body, separators=(",", ":")).replace("/", "\\/")
    sig = hmac_hex(f"POST{CREDIT}{TS}{sent}")
    finding = diagnose("POST", CREDIT, "", sent.encode(), TS, sig, SECRET)
    escaped = [("unicode-escape", not utf8.isascii()), ("escaped-slashes", "/" in utf8)]
    assert finding.code == ("+".join(code for code, yes in escaped if yes) or "valid")


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from('ab é\\\n"☕\x7f'), max_size=60), st.integers(8, 80))
def test_header_value_cuts_after_the_last_whole_escape(text: str, room: int) -> None:
    finding = Finding(True, "c", text, 0, b"")
    whole = header_value(finding, limit=10**6)
    note = doctor.ESCAPED_NOTE if whole.endswith(doctor.ESCAPED_NOTE) else ""
    line = whole.removesuffix(note)
    value = header_value(finding, limit=room + len(note))
    if len(line) <= room:
        assert value == whole
        return
    kept = ""  # whole escapes (or characters) while they fit before the "..."
    for token in re.findall(r"\\u[0-9a-f]{4}|\\.|.", line, re.DOTALL):
        if len(kept) + len(token) > room - 3:
            break
        kept += token
    assert value == kept + "..." + note
