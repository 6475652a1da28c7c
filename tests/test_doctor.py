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

ALL_CASES = SINGLE_CASES + PAIR_CASES


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
    named = [*Spacing, *JsonFlag, *QueryFlag, *Form, *Method, *Path, *Timestamp, *Algorithm]
    everything = {m.code for m in [*named, *Secret, *Joiner]} | {"component-order"}
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
    first = ["+".join(d.code for d in c.deviations) for c in doctor.PLAN[:19]]
    assert first == [
        "",
        "json-spacing",
        "url-encoded-query",
        "unsorted-query",
        "stringified-body",
        "json-spacing+unicode-escape",
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
    assert doctor.PLAN[16].structure == Structure(
        (Part.TIMESTAMP, Part.METHOD, Part.PATH, Part.PAYLOAD)
    )
    assert (len(doctor.PLAN), sum(len(c.deviations) == 2 for c in doctor.PLAN)) == (775, 625)


# --------------------------------------------------------------------------- when nothing matches


def test_a_random_signature_is_no_known_variant_with_the_secret_hint() -> None:
    finding = Case("random", "", secrets.token_hex(32), ()).diagnose()
    assert not finding.matched
    assert finding.code == "no-known-variant"
    assert finding.message.startswith("No known signing mistake reproduces this signature")
    assert "secret is the likely cause" in finding.message
    assert f"Tried {finding.tried} variants" in finding.message
    assert finding.tried > 1000
    assert STS in finding.message  # what the sandbox signed


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_wrong_secret_is_no_known_variant(method: str) -> None:
    path, query, body = (TRANSACTIONS, QUERY, "") if method == "GET" else (CREDIT, "", RIGHT)
    payload = QUERY_RIGHT if method == "GET" else RIGHT
    sig = hmac_hex(f"{method}{path}{TS}{payload}", key="some-other-secret")
    finding = diagnose(method, path, query, body.encode(), TS, sig, SECRET, PARTNERS)
    assert (finding.matched, finding.code) == (False, "no-known-variant")
    assert "the secret is the likely cause" in finding.message
    assert "some-other-secret" not in finding.message


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
    assert len(value) <= 500 and value.endswith("...")
    assert not re.search(r"\\(u[0-9a-f]{0,3})?\.\.\.$", value)  # not cut inside an escape
    assert header_value(finding, limit=40) == value[:37] + "..."


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
