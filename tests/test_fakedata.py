"""The seed data generator: committed fixtures are reproducible and the ledger adds up."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from sandbox import fakedata

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = "2026-02-01T14:30:00.000Z"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MONEY = re.compile(r"^\d+\.\d{2}$")
CLIENT_ID = re.compile(r"^CLIENT_0\d\d$")


def cents(text: str) -> int:
    assert MONEY.match(text), text
    whole, frac = text.split(".")
    return int(whole) * 100 + int(frac)


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    return fakedata.generate()


@pytest.fixture(scope="module")
def users(docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = docs["users.json"]["users"]
    return result


@pytest.fixture(scope="module")
def transactions(docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = docs["transactions.json"]["transactions"]
    return result


@pytest.fixture(scope="module")
def histories(transactions: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Transactions per wallet, in id order (which is chronological order)."""
    result: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for txn in transactions:
        result[txn["walletId"]].append(txn)
    return result


def running(history: list[dict[str, Any]]) -> list[int]:
    balance, seen = 0, []
    for txn in history:
        balance += cents(txn["amount"]) if txn["type"] == "credit" else -cents(txn["amount"])
        seen.append(balance)
    return seen


@pytest.mark.parametrize("name", ["users.json", "transactions.json"])
def test_committed_fixtures_are_regenerated_byte_for_byte(tmp_path: Path, name: str) -> None:
    written = fakedata.write(tmp_path)
    assert [p.name for p in written] == ["users.json", "transactions.json"]
    assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes()


def test_documents_carry_the_seed(docs: dict[str, dict[str, Any]]) -> None:
    assert set(docs) == {"users.json", "transactions.json"}
    assert docs["users.json"]["seed"] == fakedata.DEFAULT_SEED == 20260201
    assert docs["transactions.json"]["seed"] == fakedata.DEFAULT_SEED


def test_example_user(
    users: list[dict[str, Any]],
    histories: dict[int, list[dict[str, Any]]],
) -> None:
    example = next(u for u in users if u["clientId"] == "CLIENT_001")
    assert example["id"] == 123
    assert example["wallet"]["id"] == 789
    assert example["wallet"]["balance"] == "1500.50"
    assert example["wallet"]["updatedAt"] == NOW
    history = histories[789]
    assert len(history) == 150
    credits = sum(cents(t["amount"]) for t in history if t["type"] == "credit")
    debits = sum(cents(t["amount"]) for t in history if t["type"] == "debit")
    assert credits - debits == 150050
    assert min(running(history)) >= 0
    assert running(history)[-1] == 150050
    assert history[-1]["createdAt"] == NOW
    assert {t["type"] for t in history} == {"credit", "debit"}
    assert any(t["reference"] is None for t in history)
    assert any(t["description"] is None for t in history)
    times = [t["createdAt"] for t in history]
    assert times == sorted(set(times))
    assert times[0] < "2025-09-01" < "2025-12-01" < times[-1]  # spread over ~6 months


def test_every_wallet_adds_up(
    users: list[dict[str, Any]],
    histories: dict[int, list[dict[str, Any]]],
) -> None:
    assert 18 <= len(users) <= 25
    wallet_ids = {u["wallet"]["id"] for u in users}
    assert set(histories) <= wallet_ids
    empty = 0
    for user in users:
        wallet = user["wallet"]
        history = histories.get(wallet["id"], [])
        balances = running(history)
        assert cents(wallet["balance"]) == (balances[-1] if balances else 0), user["clientId"]
        assert all(b >= 0 for b in balances), user["clientId"]
        if history:
            assert wallet["updatedAt"] == history[-1]["createdAt"]
            assert user["createdAt"] < history[0]["createdAt"]
            times = [t["createdAt"] for t in history]
            assert times == sorted(set(times)), user["clientId"]
        else:
            empty += 1
            assert wallet["balance"] == "0.00"
            assert wallet["updatedAt"] is None
        assert len(history) <= (150 if user["clientId"] == "CLIENT_001" else 60)
    assert empty >= 1


def test_users_are_well_formed(users: list[dict[str, Any]]) -> None:
    for field in ("id", "clientId", "username"):
        values = [u[field] for u in users]
        assert len(values) == len(set(values)), field
    assert len({u["wallet"]["id"] for u in users}) == len(users)
    assert all(CLIENT_ID.match(u["clientId"]) for u in users)
    assert [u["clientId"] for u in users] == [f"CLIENT_{n:03d}" for n in range(1, len(users) + 1)]
    assert any(":" in u["ipAddress"] for u in users)
    assert all(u["username"] and u["displayName"] and u["ipAddress"] for u in users)
    for user in users:
        assert TIMESTAMP.match(user["createdAt"])
        assert user["createdAt"].startswith("2025-")
        updated = user["wallet"]["updatedAt"]
        assert updated is None or (TIMESTAMP.match(updated) and updated <= NOW)


def test_transactions_are_well_formed(transactions: list[dict[str, Any]]) -> None:
    ids = [t["id"] for t in transactions]
    assert ids == list(range(10001, 10001 + len(transactions)))  # unique, increasing
    order = [(t["createdAt"], t["walletId"]) for t in transactions]
    assert order == sorted(order)  # ids follow global chronological order
    references = [t["reference"] for t in transactions if t["reference"] is not None]
    assert len(references) == len(set(references))
    assert all(r.startswith("TXN-") for r in references)
    for txn in transactions:
        assert set(txn) == {
            "id",
            "walletId",
            "amount",
            "type",
            "reference",
            "description",
            "createdAt",
        }
        assert txn["type"] in {"credit", "debit"}
        assert 100 <= cents(txn["amount"]) <= 500000
        assert TIMESTAMP.match(txn["createdAt"])
        assert txn["createdAt"] <= NOW
        assert txn["description"] is None or txn["description"].strip()


def test_deterministic() -> None:
    assert fakedata.generate() == fakedata.generate()
    assert fakedata.generate(fakedata.DEFAULT_SEED) == fakedata.generate()
    other = fakedata.generate(7)
    assert other != fakedata.generate()
    # The documented example holds for every seed.
    example = other["users.json"]["users"][0]
    assert example["clientId"] == "CLIENT_001"
    assert example["wallet"]["balance"] == "1500.50"
    assert example["wallet"]["updatedAt"] == NOW
