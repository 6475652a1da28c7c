"""GET /api/v1/get-transactions: pagination, filters, sorting, validation (SPEC A6, B11)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from conftest import Signed
from flask import Flask

PATH = "/api/v1/get-transactions"
CLIENT = "CLIENT_001"


def data(signed: Signed, **params: Any) -> Any:
    r = signed.get(PATH, {"clientId": CLIENT, **params})
    assert r.status_code == 200, r.data
    return json.loads(r.data)["data"]


def all_rows(signed: Signed, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        got = data(signed, limit=100, page=page, **params)
        rows += got["data"]
        if page >= got["totalPages"]:
            return rows
        page += 1


def test_defaults_and_shape(signed: Signed) -> None:
    got = data(signed)
    assert got["clientId"] == CLIENT
    assert (got["totalCount"], got["resultCount"], got["totalPages"]) == (150, 10, 15)
    assert (got["currentPage"], got["limit"], got["filters"]) == (1, 10, {})
    assert got["sort"] == {"sortBy": "createdAt", "sortOrder": "desc"}
    first = got["data"][0]
    assert list(first) == [
        "id",
        "walletId",
        "amount",
        "currency",
        "type",
        "referenceId",
        "description",
        "createdAt",
    ]
    assert first["createdAt"] == "2026-02-01T14:30:00.000Z"
    assert first["walletId"] == 789 and first["currency"] == "USD"
    assert isinstance(first["amount"], str) and first["amount"].count(".") == 1
    assert len(first["amount"].split(".")[1]) == 2


def test_pages_cover_everything_once_and_sum_to_the_balance(signed: Signed) -> None:
    rows = all_rows(signed)
    assert len(rows) == 150 == len({r["id"] for r in rows})
    cents = sum(
        (1 if r["type"] == "credit" else -1) * int(r["amount"].replace(".", "")) for r in rows
    )
    assert cents == 150050


def test_message_and_envelope(signed: Signed) -> None:
    r = signed.get(PATH, {"clientId": CLIENT})
    body = json.loads(r.data)
    assert (body["status"], body["message"]) == ("success", "Transactions retrieved successfully")


@pytest.mark.parametrize("field", ["id", "walletId", "amount", "currency", "type", "createdAt"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_every_field_ties_by_id(signed: Signed, field: str, order: str) -> None:
    rows = all_rows(signed, sortBy=field, sortOrder=order)

    def key(r: dict[str, Any]) -> tuple[Any, int]:
        value = int(r["amount"].replace(".", "")) if field == "amount" else r[field]
        return value, r["id"]

    assert rows == sorted(rows, key=key, reverse=order == "desc")


def test_type_filter_is_echoed(signed: Signed) -> None:
    got = data(signed, type="debit", limit=100)
    assert got["filters"] == {"type": "debit"}
    assert {r["type"] for r in got["data"]} == {"debit"}
    credits = data(signed, type="credit")["totalCount"]
    assert credits + got["totalCount"] == 150


def test_date_only_means_the_whole_utc_day(signed: Signed) -> None:
    got = data(signed, dateFrom="2026-02-01", dateTo="2026-02-01", limit=100)
    assert got["filters"] == {"dateFrom": "2026-02-01", "dateTo": "2026-02-01"}
    assert got["totalCount"] >= 1
    assert all(r["createdAt"].startswith("2026-02-01") for r in got["data"])


def test_date_bounds_are_inclusive(signed: Signed) -> None:
    last = "2026-02-01T14:30:00.000Z"
    assert data(signed, dateFrom=last)["totalCount"] == 1
    assert data(signed, dateFrom="2026-02-01T14:30:00Z", dateTo=last)["totalCount"] == 1
    assert data(signed, dateFrom="2026-02-01T14:30:00.001Z")["totalCount"] == 0
    # An offset is honoured: 22:30 at +08:00 is 14:30 UTC.
    assert data(signed, dateFrom="2026-02-01T22:30:00+08:00")["totalCount"] == 1


def test_date_range_counts_match_the_rows(signed: Signed) -> None:
    rows = all_rows(signed)
    expected = [r for r in rows if "2025-10-01" <= r["createdAt"][:10] <= "2025-12-31"]
    got = all_rows(signed, dateFrom="2025-10-01", dateTo="2025-12-31")
    assert {r["id"] for r in got} == {r["id"] for r in expected}


def test_page_past_the_end_is_empty(signed: Signed) -> None:
    got = data(signed, page=16)
    assert (got["data"], got["resultCount"], got["totalCount"], got["totalPages"]) == (
        [],
        0,
        150,
        15,
    )


def test_no_transactions_has_zero_pages(signed: Signed) -> None:
    r = signed.get(PATH, {"clientId": "CLIENT_008"})
    got = json.loads(r.data)["data"]
    assert (got["totalCount"], got["totalPages"], got["data"]) == (0, 0, [])


def test_limit_100_and_ceil_pages(signed: Signed) -> None:
    got = data(signed, limit=100, page=2)
    assert (got["resultCount"], got["totalPages"]) == (50, math.ceil(150 / 100))
    assert data(signed, limit=7)["totalPages"] == 22


def test_unknown_client_is_404(signed: Signed) -> None:
    r = signed.get(PATH, {"clientId": "GHOST"})
    assert r.status_code == 404
    assert r.data == b'{"status":"failed","message":"User not found","data":null}'


INVALID: list[tuple[str, dict[str, str], dict[str, list[str]]]] = [
    ("no-client", {}, {"clientId": ["The clientId field is required."]}),
    ("limit-0", {"limit": "0"}, {"limit": ["The limit must be at least 1."]}),
    ("limit-101", {"limit": "101"}, {"limit": ["The limit may not be greater than 100."]}),
    ("limit-text", {"limit": "ten"}, {"limit": ["The limit must be an integer."]}),
    ("limit-decimal", {"limit": "1.5"}, {"limit": ["The limit must be an integer."]}),
    ("page-0", {"page": "0"}, {"page": ["The page must be at least 1."]}),
    ("page-negative", {"page": "-2"}, {"page": ["The page must be at least 1."]}),
    ("type", {"type": "refund"}, {"type": ["The selected type is invalid."]}),
    ("type-case", {"type": "CREDIT"}, {"type": ["The selected type is invalid."]}),
    ("sort-by", {"sortBy": "balance"}, {"sortBy": ["The selected sortBy is invalid."]}),
    ("sort-order", {"sortOrder": "DESC"}, {"sortOrder": ["The selected sortOrder is invalid."]}),
    ("date-from", {"dateFrom": "yesterday"}, {"dateFrom": ["The dateFrom is not a valid date."]}),
    ("date-to", {"dateTo": "2026-02-30"}, {"dateTo": ["The dateTo is not a valid date."]}),
    (
        "date-order",
        {"dateFrom": "2026-02-02", "dateTo": "2026-02-01"},
        {"dateTo": ["The dateTo must be a date after or equal to dateFrom."]},
    ),
    (
        "everything",
        {
            "limit": "x",
            "page": "0",
            "type": "x",
            "sortBy": "x",
            "sortOrder": "x",
            "dateFrom": "x",
            "dateTo": "y",
        },
        {
            "limit": ["The limit must be an integer."],
            "page": ["The page must be at least 1."],
            "type": ["The selected type is invalid."],
            "sortBy": ["The selected sortBy is invalid."],
            "sortOrder": ["The selected sortOrder is invalid."],
            "dateFrom": ["The dateFrom is not a valid date."],
            "dateTo": ["The dateTo is not a valid date."],
        },
    ),
]


@pytest.mark.parametrize(
    ("params", "errors"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_parameters_are_400_never_clamped(
    signed: Signed, params: dict[str, str], errors: dict[str, list[str]]
) -> None:
    sent = {"clientId": CLIENT, **params} if "clientId" not in errors else params
    r = signed.get(PATH, sent)
    assert r.status_code == 400
    assert json.loads(r.data) == {
        "status": "failed",
        "message": "Validation failed",
        "data": {"errors": errors},
    }


def test_empty_optional_values_mean_the_default(signed: Signed) -> None:
    got = data(signed, limit="", type="", sortBy="")
    assert (got["limit"], got["filters"], got["sort"]["sortBy"]) == (10, {}, "createdAt")


def test_new_transactions_appear_first(app: Flask, signed: Signed) -> None:
    r = signed.post("/api/v1/debit-balance", {"clientId": CLIENT, "amount": 2.5, "reference": "X"})
    tx = json.loads(r.data)["data"]["transactionId"]
    got = data(signed, limit=1)
    assert got["data"][0]["id"] == tx
    assert got["data"][0]["referenceId"] == "X"
    assert got["data"][0]["amount"] == "2.50"
    assert got["totalCount"] == 151
