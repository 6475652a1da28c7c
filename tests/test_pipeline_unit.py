"""The API pipeline's bookkeeping for the readiness report, called without Flask.

``handle`` records one readiness event per routed request (``remember``); the golden corpus
pins answers and journal entries but not these events. Found by mutation testing: what kind
of refusal an answer was, and the credit/debit a request asked for when a forced scenario
answered it before validation.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import signing
from sandbox.api.exchange import Request
from sandbox.api.pipeline import handle, text_of
from sandbox.config import DEFAULT_SECRET, Config
from sandbox.limits import MAX_BODY_BYTES
from sandbox.readiness import Event
from sandbox.state import Holds, Sandbox

CREDIT = "/api/v1/credit-balance"
DEBIT = "/api/v1/debit-balance"
BALANCE = "/api/v1/get-balance"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox.open(Config(db=":memory:"))  # the built-in scenarios.yaml is active
    yield box
    box.close()


def signed(method: str, path: str, *, query: str = "", body: bytes = b"") -> Request:
    """A request signed as a correct client signs it, now."""
    ts = str(int(time.time()))
    sig = signing.sign(DEFAULT_SECRET, method, path, ts, query=query, body=body)
    return Request(
        method=method,
        path=path,
        route_path=path,
        query=query,
        headers={"x-timestamp": ts, "x-signature": sig},
        body=body,
        content_length=len(body),
        header_bytes=0,
        host_url="http://sandbox.test/",
    )


def last_event(sandbox: Sandbox) -> Event:
    return sandbox.default.history.events()[-1]


def get_balance(client_id: str) -> Request:
    return signed("GET", BALANCE, query=f"clientId={client_id}")


def debit(body: dict[str, object]) -> Request:
    return signed("POST", DEBIT, body=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("request_", "status", "refusal"),
    [
        (get_balance("CLIENT_001"), 200, None),
        (get_balance("CLIENT_VALIDATION"), 400, "validation"),
        (get_balance("CLIENT_NOT_FOUND"), 404, "not-found"),
        (get_balance("CLIENT_BAD_SIGNATURE"), 401, "invalid-signature"),
        (debit({"clientId": "CLIENT_INSUFFICIENT", "amount": 1}), 400, "insufficient-balance"),
        # Failures without a name of their own are their status: a server error, and the 502
        # an in-process client gets for a drop (there is no socket to close).
        (get_balance("CLIENT_SERVER_ERROR"), 500, "http-500"),
        (get_balance("CLIENT_DROP"), 502, "http-502"),
    ],
    ids=["ok", "validation", "not-found", "signature", "insufficient", "500", "drop"],
)
def test_each_refusal_is_recorded_by_its_kind(
    sandbox: Sandbox, request_: Request, status: int, refusal: str | None
) -> None:
    # The readiness report counts refusals by these names.
    assert handle(sandbox, request_).status == status
    event = last_event(sandbox)
    assert (event.status, event.refusal) == (status, refusal)


def test_a_rejected_duplicate_reference_is_recorded_as_such() -> None:
    box = Sandbox.open(Config(db=":memory:", duplicate_reference="reject"))
    try:
        body = b'{"clientId": "CLIENT_001", "amount": 1, "reference": "DUP-1"}'
        assert handle(box, signed("POST", CREDIT, body=body)).status == 200
        assert handle(box, signed("POST", CREDIT, body=body)).status == 409
        event = box.default.history.events()[-1]
        assert (event.refusal, event.applied) == ("duplicate-reference", False)
    finally:
        box.close()


def test_a_scenario_answer_still_records_the_debit_asked_for(sandbox: Sandbox) -> None:
    # CLIENT_INSUFFICIENT's debits are refused by a scenario, before validation: the event
    # still says what was asked (kind, exact cents, the reference).
    handle(sandbox, debit({"clientId": "CLIENT_INSUFFICIENT", "amount": 1.5, "reference": "R-9"}))
    event = last_event(sandbox)
    assert (event.kind, event.amount_cents, event.reference) == ("debit", 150, "R-9")
    assert event.applied is False


def test_a_scenario_answer_records_a_credit_and_drops_a_non_text_reference(
    sandbox: Sandbox,
) -> None:
    body = b'{"clientId": "CLIENT_NOT_FOUND", "amount": 2.25, "reference": 7}'
    assert handle(sandbox, signed("POST", CREDIT, body=body)).status == 404
    event = last_event(sandbox)
    assert (event.kind, event.amount_cents, event.reference) == ("credit", 225, None)


SCENARIOS = """\
version: 1
clients:
  CLIENT_RICH: {balance: 12.5}
scenarios:
  CLIENT_RICH:
    outcome: insufficient-balance
  CLIENT_QUICK:
    delay: 50ms
  CLIENT_BRIEF:
    outcome: timeout
    after: 0.05
  CLIENT_MANGLED:
    outcome: malformed
    body: truncated
"""


@pytest.fixture
def custom(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox with the built-in scenarios and a few quick ones of these tests."""
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(SCENARIOS)
    box = Sandbox.open(Config(db=":memory:", scenarios=str(scenarios)))
    yield box
    box.close()


@pytest.mark.parametrize(
    ("amount", "echoed"),
    [
        ("5.0", "5"),  # JSON says 5, as JavaScript prints it
        ("-3.0", "-3"),
        ("1.5", "1.5"),
        ("1e300", "1e+300"),  # past 2**53 a float stays a float
        ("4503599627370496.0", "4503599627370496"),  # 2**52: still exact as an integer
        ("9007199254740992.0", "9007199254740992.0"),  # 2**53: no longer
        ('"7"', "0"),  # not a JSON number: no amount to echo
        ("true", "0"),
        ("null", "0"),
    ],
)
def test_a_forced_insufficient_balance_gives_the_real_balance_and_the_amount_asked(
    custom: Sandbox, amount: str, echoed: str
) -> None:
    body = f'{{"clientId": "CLIENT_RICH", "amount": {amount}}}'.encode()
    answer = handle(custom, signed("POST", DEBIT, body=body))
    assert answer.status == 400
    assert answer.body == (
        b'{"status":"failed","message":"Insufficient balance",'
        b'"data":{"balance":12.5,"amount":' + echoed.encode() + b"}}"
    )


def test_a_journaled_string_to_sign_is_cut_at_2048_characters_saying_how_many_more() -> None:
    assert text_of(b"x" * 2048) == "x" * 2048  # at the limit: whole
    assert text_of(b"x" * 2049) == "x" * 2048 + "...[1 more]"
    assert text_of(b"abcdef", 4) == "abcd...[2 more]"
    assert text_of(b"caf\xc3\xa9 \xff", 100) == "caf\u00e9 \ufffd"  # real characters, or U+FFFD


def test_a_refused_request_journals_its_string_to_sign_cut(sandbox: Sandbox) -> None:
    query = "clientId=CLIENT_001&pad=" + "x" * 3000
    sent = signed("GET", BALANCE, query=query)
    timestamp = sent.headers["x-timestamp"]
    wrong = Request(
        **{**sent.__dict__, "headers": {"x-timestamp": timestamp, "x-signature": "0" * 64}}
    )
    answer = handle(sandbox, wrong)
    assert answer.status == 401
    full = signing.string_to_sign("GET", BALANCE, timestamp, signing.canonical_query(query))
    assert answer.entry is not None and answer.entry.signature is not None
    journaled = answer.entry.signature.string_to_sign
    assert journaled == full.decode()[:2048] + f"...[{len(full) - 2048} more]"


NOT_FOUND = b'{"status":"failed","message":"User not found","data":null}'


@pytest.mark.parametrize("client_id", ["CLIENT_QUICK", "CLIENT_BRIEF"])
def test_a_held_request_is_answered_normally_once_the_client_waited(
    custom: Sandbox, client_id: str
) -> None:
    # A delay, or a timeout the client outlasts (no socket here: it never leaves), ends in
    # the normal answer: for these clientIds, which are no users, the 404. Not before: the
    # request is really held for the 50 ms.
    started = time.monotonic()
    answer = handle(custom, get_balance(client_id))
    assert time.monotonic() - started >= 0.05
    assert (answer.status, answer.body) == (404, NOT_FOUND)
    assert last_event(custom).status == 404


@pytest.mark.parametrize("client_id", ["CLIENT_SLOW", "CLIENT_TIMEOUT"])
def test_a_request_to_hold_without_a_free_slot_is_refused_at_once(
    sandbox: Sandbox, client_id: str
) -> None:
    sandbox.holds = Holds(0, 0)  # every slot for held requests is taken
    started = time.monotonic()
    answer = handle(sandbox, get_balance(client_id))
    assert time.monotonic() - started < 1.5  # neither the 2 s delay nor the 35 s timeout
    assert answer.status == 503
    assert json.loads(answer.body) == {
        "status": "failed",
        "message": "Too many requests held by scenarios",
        "data": None,
    }
    assert ("X-Sandbox-Fault", "held-capacity") in answer.headers
    assert ("Retry-After", "1") in answer.headers
    assert last_event(sandbox).refusal == "held-capacity"


def test_a_scenario_that_holds_nothing_needs_no_slot(sandbox: Sandbox) -> None:
    sandbox.holds = Holds(0, 0)
    assert handle(sandbox, get_balance("CLIENT_NOT_FOUND")).status == 404


class Socket:
    """A client connection as the server has it: one that can be closed, or whose client left."""

    def __init__(self, *, left: bool = False) -> None:
        self.left = left
        self.closed = False

    def gone(self) -> bool:
        return self.left

    def drop(self) -> bool:
        self.closed = True
        return True

    def local_url(self) -> str | None:
        return None


def on(request: Request, connection: Socket) -> Request:
    return Request(**{**request.__dict__, "connection": connection})


def test_a_dropped_connection_is_status_0_in_the_event_and_the_journal(sandbox: Sandbox) -> None:
    socket = Socket()
    answer = handle(sandbox, on(get_balance("CLIENT_DROP"), socket))
    assert socket.closed
    assert answer.status == 0
    assert answer.entry is not None
    assert (answer.entry.status, answer.entry.flags) == (0, ["dropped"])
    assert last_event(sandbox).status == 0  # no answer: the client cannot know the outcome


def test_a_client_that_left_while_held_is_status_0_in_the_event(custom: Sandbox) -> None:
    answer = handle(custom, on(get_balance("CLIENT_QUICK"), Socket(left=True)))
    assert (answer.status, answer.body) == (200, b"")  # nobody to hear it
    assert answer.entry is not None and answer.entry.flags == ["client-gone"]
    assert last_event(custom).status == 0


def test_the_event_gives_the_clock_skew_of_a_numeric_timestamp(sandbox: Sandbox) -> None:
    sent = get_balance("CLIENT_001")
    now = sandbox.default.clock.now()
    behind = str(int(now) - 100)
    for stamp, skew in [(behind, 100.0), ("100000000000", now - 100_000_000_000)]:
        headers = {**sent.headers, "x-timestamp": stamp}
        handle(sandbox, Request(**{**sent.__dict__, "headers": headers}))
        assert last_event(sandbox).skew == pytest.approx(skew, abs=5)
    # Not a number of seconds the clock could compare: milliseconds (13 digits), or text.
    for stamp in ["1780000000000", "soon"]:
        headers = {**sent.headers, "x-timestamp": stamp}
        handle(sandbox, Request(**{**sent.__dict__, "headers": headers}))
        assert last_event(sandbox).skew is None


def test_the_event_fingerprints_the_signed_payload(sandbox: Sandbox) -> None:
    # The same request re-sent has the same fingerprint; another body another one.
    first = b'{"clientId": "CLIENT_001", "amount": 1, "reference": "F-1"}'
    other = b'{"clientId": "CLIENT_001", "amount": 1, "reference": "F-2"}'
    prints = []
    for body in (first, first, other):
        handle(sandbox, signed("POST", CREDIT, body=body))
        prints.append(last_event(sandbox).fingerprint)
    assert prints[0] == prints[1] != prints[2]
    handle(sandbox, get_balance("CLIENT_001"))
    query = b"clientId=CLIENT_001"
    assert last_event(sandbox).fingerprint == hashlib.blake2b(query, digest_size=8).hexdigest()


def test_the_event_says_what_was_applied_and_the_signature_verdict(sandbox: Sandbox) -> None:
    body = b'{"clientId": "CLIENT_001", "amount": 2.5, "reference": "A-1"}'
    handle(sandbox, signed("POST", CREDIT, body=body))
    event = last_event(sandbox)
    assert (event.applied, event.kind, event.amount_cents, event.reference) == (
        True,
        "credit",
        250,
        "A-1",
    )
    assert (event.verdict, event.finding, event.refusal) == ("valid", None, None)


def test_a_malformed_scenario_breaks_the_documented_failure_too(custom: Sandbox) -> None:
    # CLIENT_MANGLED is no user: the 404 it would get is what is cut in half, as a 200.
    answer = handle(custom, get_balance("CLIENT_MANGLED"))
    assert (answer.status, answer.body) == (200, b'{"status":"failed","message":')
    assert ("X-Sandbox-Fault", "malformed") in answer.headers


def test_the_event_of_a_refused_signature_has_the_verdict_and_the_doctors_finding(
    sandbox: Sandbox,
) -> None:
    sent = get_balance("CLIENT_001")
    stamp = sent.headers["x-timestamp"]
    wrong = signing.sign("not-the-secret", "GET", BALANCE, stamp, query="clientId=CLIENT_001")
    handle(
        sandbox,
        Request(**{**sent.__dict__, "headers": {"x-timestamp": stamp, "x-signature": wrong}}),
    )
    event = last_event(sandbox)
    assert (event.verdict, event.finding, event.refusal) == (
        "mismatch",
        "no-known-variant",
        "invalid-signature",
    )
    # No timestamp at all: no skew to give (not the clock's distance from 0).
    handle(sandbox, Request(**{**sent.__dict__, "headers": {"x-signature": wrong}}))
    event = last_event(sandbox)
    assert (event.verdict, event.finding, event.skew) == ("missing-timestamp", None, None)


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("0.29", 29),  # 0.29 * 100 is 28.999999999999996: rounded, not cut
        ("999999999999.99", 99999999999999),
        ("1e12", None),  # no amount a wallet could take: nothing asked
        ("0", None),
        ("-1", None),
        ("true", None),
        ('"5"', None),
    ],
)
def test_the_amount_a_scenario_answered_request_asked_for(
    sandbox: Sandbox, amount: str, cents: int | None
) -> None:
    body = f'{{"clientId": "CLIENT_NOT_FOUND", "amount": {amount}, "reference": "Q"}}'
    assert handle(sandbox, signed("POST", CREDIT, body=body.encode())).status == 404
    event = last_event(sandbox)
    asked = None if cents is None else ("credit", cents, "Q")
    assert (event.kind, event.amount_cents, event.reference) == (asked or (None, None, None))


def test_a_body_of_exactly_the_limit_is_journaled_not_skipped(sandbox: Sandbox) -> None:
    # 64 KiB is allowed (only a larger body is a 413), so it was read: the journal shows it.
    head = b'{"clientId": "CLIENT_001", "amount": 1, "pad": "'
    body = head + b"z" * (MAX_BODY_BYTES - len(head) - 2) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    answer = handle(sandbox, signed("POST", CREDIT, body=body))
    assert answer.status == 200
    assert answer.entry is not None
    shown = answer.entry.to_json()["requestBody"]
    assert shown == body[:2048].decode() + f"...[{MAX_BODY_BYTES - 2048} more bytes]"


def test_a_scenario_answered_normally_with_a_failure_records_that_failure(
    sandbox: Sandbox,
) -> None:
    """applied-then-failed runs the request first: a debit over the balance is refused then
    (nothing applied) and must count as that refusal, as the same debit of any other client."""
    over = {"clientId": "CLIENT_APPLIED_THEN_FAILED", "amount": 5000}
    answer = handle(sandbox, debit(over))
    assert (answer.status, json.loads(answer.body)["message"]) == (400, "Insufficient balance")
    event = last_event(sandbox)
    assert (event.status, event.refusal, event.applied) == (400, "insufficient-balance", False)
