"""POST credit-balance / debit-balance: documented bodies, validation, atomicity (SPEC A5, B10)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Signed
from flask import Flask

from sandbox.config import Config

CREDIT = "/api/v1/credit-balance"
DEBIT = "/api/v1/debit-balance"


def body(response: Any) -> Any:
    return json.loads(response.data)


def ledger(app: Flask, client_id: str = "CLIENT_001") -> tuple[int, int]:
    store = app.extensions["sandbox"].store
    balance = store.balance(client_id)
    return balance.cents, store.counts()["transactions"]


def test_credit_exact_body(signed: Signed) -> None:
    r = signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 100})
    assert r.status_code == 200
    assert r.data == (
        b'{"status":"success","message":"Balance credited successfully","data":{"userId":123,'
        b'"clientId":"CLIENT_001","amount":100,"type":"credit","transactionId":10721,'
        b'"balance":1600.5}}'
    )


def test_debit_exact_body(signed: Signed) -> None:
    r = signed.post(DEBIT, {"clientId": "CLIENT_001", "amount": 0.5, "reference": "BET-1"})
    assert r.status_code == 200
    assert r.data == (
        b'{"status":"success","message":"Balance debited successfully","data":{"userId":123,'
        b'"clientId":"CLIENT_001","amount":0.5,"type":"debit","transactionId":10721,'
        b'"balance":1500}}'
    )


def test_balance_updated_at_and_transaction_row(app: Flask, signed: Signed) -> None:
    app.extensions["sandbox"].clock.offset = 0
    signed.post(CREDIT, {"clientId": "CLIENT_002", "amount": 12.34, "description": "Win"})
    data = body(signed.get("/api/v1/get-balance", {"clientId": "CLIENT_002"}))["data"]
    rows = body(signed.get("/api/v1/get-transactions", {"clientId": "CLIENT_002", "limit": 1}))
    item = rows["data"]["data"][0]
    assert item["amount"] == "12.34"
    assert item["description"] == "Win"
    assert item["referenceId"] is None
    assert item["createdAt"] == data["updatedAt"]


def test_money_is_exact_across_many_cents(app: Flask, signed: Signed) -> None:
    # 0.1 + 0.2 style drift cannot happen: cents are integers.
    for _ in range(10):
        signed.post(CREDIT, {"clientId": "CLIENT_008", "amount": 0.1})
    signed.post(CREDIT, {"clientId": "CLIENT_008", "amount": 0.2})
    data = body(signed.get("/api/v1/get-balance", {"clientId": "CLIENT_008"}))["data"]
    assert data["balance"] == 1.2
    assert ledger(app, "CLIENT_008")[0] == 120


def test_insufficient_balance_writes_nothing(app: Flask, signed: Signed) -> None:
    before = ledger(app)
    r = signed.post(DEBIT, {"clientId": "CLIENT_001", "amount": 1500.51})
    assert r.status_code == 400
    assert r.data == (
        b'{"status":"failed","message":"Insufficient balance",'
        b'"data":{"balance":1500.5,"amount":1500.51}}'
    )
    assert ledger(app) == before


def test_debit_of_the_whole_balance_reaches_zero(app: Flask, signed: Signed) -> None:
    r = signed.post(DEBIT, {"clientId": "CLIENT_001", "amount": 1500.50})
    assert body(r)["data"]["balance"] == 0
    assert ledger(app)[0] == 0


@pytest.mark.parametrize("path", [CREDIT, DEBIT], ids=["credit", "debit"])
def test_unknown_client_is_404_and_never_created(app: Flask, signed: Signed, path: str) -> None:
    r = signed.post(path, {"clientId": "GHOST", "amount": 1})
    assert r.status_code == 404
    assert r.data == b'{"status":"failed","message":"User not found","data":null}'
    assert app.extensions["sandbox"].store.user("GHOST") is None


REQ = "The {} field is required."
AMOUNT_CASES: list[tuple[str, dict[str, Any], dict[str, list[str]]]] = [
    (
        "empty-body",
        {},
        {
            "clientId": [REQ.format("clientId")],
            "amount": [REQ.format("amount"), "The amount must be at least 0.01."],
        },
    ),
    (
        "null-amount",
        {"clientId": "CLIENT_001", "amount": None},
        {"amount": [REQ.format("amount"), "The amount must be at least 0.01."]},
    ),
    (
        "zero",
        {"clientId": "CLIENT_001", "amount": 0},
        {"amount": ["The amount must be at least 0.01."]},
    ),
    (
        "negative",
        {"clientId": "CLIENT_001", "amount": -5},
        {"amount": ["The amount must be at least 0.01."]},
    ),
    (
        "below-a-cent",
        {"clientId": "CLIENT_001", "amount": 0.009},
        {"amount": ["The amount must be at least 0.01."]},
    ),
    (
        "string",
        {"clientId": "CLIENT_001", "amount": "100"},
        {"amount": ["The amount must be a number."]},
    ),
    (
        "boolean",
        {"clientId": "CLIENT_001", "amount": True},
        {"amount": ["The amount must be a number."]},
    ),
    (
        "object",
        {"clientId": "CLIENT_001", "amount": {"v": 1}},
        {"amount": ["The amount must be a number."]},
    ),
    (
        "three-decimals",
        {"clientId": "CLIENT_001", "amount": 10.005},
        {"amount": ["The amount must have at most 2 decimal places."]},
    ),
    (
        "too-large",
        {"clientId": "CLIENT_001", "amount": 1_000_000_000},
        {"amount": ["The amount may not be greater than 999999999.99."]},
    ),
    (
        "client-number",
        {"clientId": 7, "amount": 1},
        {"clientId": ["The clientId must be a string."]},
    ),
    ("client-empty", {"clientId": "", "amount": 1}, {"clientId": [REQ.format("clientId")]}),
    (
        "long-description",
        {"clientId": "CLIENT_001", "amount": 1, "description": "d" * 501},
        {"description": ["The description may not be greater than 500 characters."]},
    ),
    (
        "long-reference",
        {"clientId": "CLIENT_001", "amount": 1, "reference": "r" * 256},
        {"reference": ["The reference may not be greater than 255 characters."]},
    ),
    (
        "reference-number",
        {"clientId": "CLIENT_001", "amount": 1, "reference": 5},
        {"reference": ["The reference must be a string."]},
    ),
    (
        "all-at-once",
        {"clientId": 1, "amount": "x", "description": [], "reference": {}},
        {
            "clientId": ["The clientId must be a string."],
            "amount": ["The amount must be a number."],
            "description": ["The description must be a string."],
            "reference": ["The reference must be a string."],
        },
    ),
]


@pytest.mark.parametrize("path", [CREDIT, DEBIT], ids=["credit", "debit"])
@pytest.mark.parametrize(
    ("sent", "errors"), [c[1:] for c in AMOUNT_CASES], ids=[c[0] for c in AMOUNT_CASES]
)
def test_validation(
    app: Flask, signed: Signed, path: str, sent: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    before = ledger(app)
    r = signed.post(path, sent)
    assert r.status_code == 400
    assert body(r) == {
        "status": "failed",
        "message": "Validation failed",
        "data": {"errors": errors},
    }
    assert ledger(app) == before


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("0.01", 1),
        ("100.50", 10050),
        ("50.00", 5000),
        ("999999999.99", 99999999999),
        ("1e2", 10000),
    ],
    ids=["cent", "trailing-zero", "two-zeros", "maximum", "exponent"],
)
def test_amount_as_typed_is_accepted(app: Flask, signed: Signed, amount: str, cents: int) -> None:
    before = ledger(app)[0]
    r = signed.post(CREDIT, f'{{"clientId":"CLIENT_001","amount":{amount}}}')
    assert r.status_code == 200, r.data
    assert ledger(app)[0] == before + cents


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"clientId":', "The body must be valid JSON"),
        (b"[1,2]", "The body must be a JSON object, not an array."),
        (b'"text"', "The body must be a JSON object, not a string."),
        (b'{"amount": NaN}', "The body must be valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
    ],
    ids=["truncated", "array", "string", "nan", "bad-utf8"],
)
def test_body_that_is_not_an_object(signed: Signed, raw: bytes, problem: str) -> None:
    r = signed.post(CREDIT, raw)  # signed over the raw bytes, so the signature passes
    assert r.status_code == 400
    errors = body(r)["data"]["errors"]
    assert list(errors) == ["body"]
    assert problem in errors["body"][0]


def test_signature_first_even_for_invalid_body(signed: Signed) -> None:
    r = signed.post(CREDIT, {"amount": "x"}, secret="wrong")
    assert r.status_code == 401


def test_body_signed_as_compact_but_sent_pretty(signed: Signed) -> None:
    # The partner serializes with spaces; the signature covers the JSON.stringify form.
    r = signed.post(CREDIT, '{ "clientId" : "CLIENT_001",\n  "amount" : 100.50 }')
    assert r.status_code == 200


def test_content_type_is_ignored(signed: Signed) -> None:
    r = signed.post(
        CREDIT, {"clientId": "CLIENT_001", "amount": 1}, headers={"content-type": "text/plain"}
    )
    assert r.status_code == 200


class TestDuplicateReference:
    def make(self, policy: str) -> tuple[Flask, Signed]:
        from sandbox.app import create_app

        app = create_app(Config(db=":memory:", duplicate_reference=policy))
        return app, Signed(app.test_client())

    def test_allow_creates_a_new_transaction_and_flags_it(self) -> None:
        app, signed = self.make("allow")
        first = signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 5, "reference": "R"})
        again = signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 5, "reference": "R"})
        assert "X-Sandbox-Duplicate-Reference" not in first.headers
        assert again.headers["X-Sandbox-Duplicate-Reference"] == "true"
        assert body(again)["data"]["transactionId"] == body(first)["data"]["transactionId"] + 1
        assert ledger(app)[0] == 150050 + 1000

    def test_reject_is_409_and_writes_nothing(self) -> None:
        app, signed = self.make("reject")
        signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 5, "reference": "R"})
        before = ledger(app)
        again = signed.post(DEBIT, {"clientId": "CLIENT_001", "amount": 1, "reference": "R"})
        assert again.status_code == 409
        assert again.data == b'{"status":"failed","message":"Duplicate reference","data":null}'
        assert ledger(app) == before

    def test_reject_is_per_user(self) -> None:
        _, signed = self.make("reject")
        signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 5, "reference": "R"})
        other = signed.post(CREDIT, {"clientId": "CLIENT_002", "amount": 5, "reference": "R"})
        assert other.status_code == 200

    def test_replay_returns_the_original_response(self) -> None:
        app, signed = self.make("replay")
        first = signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 5, "reference": "R"})
        signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 7})
        before = ledger(app)
        again = signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 5, "reference": "R"})
        assert again.status_code == 200
        assert again.data == first.data
        assert again.headers["X-Sandbox-Replayed"] == "true"
        assert ledger(app) == before

    def test_fixture_references_count(self) -> None:
        app, signed = self.make("reject")
        store = app.extensions["sandbox"].store
        page = store.transactions(789, limit=1)
        reference = page.rows[0].reference
        assert reference
        r = signed.post(CREDIT, {"clientId": "CLIENT_001", "amount": 1, "reference": reference})
        assert r.status_code == 409
