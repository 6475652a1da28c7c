"""get-transactions' totalCount is exact after every kind of write, from any connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sandbox.state import load_fixture_data
from sandbox.store import InsufficientFunds, Store

WALLET = 789  # CLIENT_001's wallet in the fixtures
FILTERS = [
    {},
    {"kind": "credit"},
    {"kind": "debit"},
    {"date_from": "2026-01-01T00:00:00.000Z"},
    {"date_to": "2026-01-15T23:59:59.999Z"},
    {"kind": "credit", "date_from": "2030-01-01T00:00:00.000Z"},
    {"kind": "debit", "date_from": "2026-01-01", "date_to": "2031-01-01"},
]


def counted(path: Path, **f: str) -> int:
    """The total, straight from the file."""
    where, args = ["wallet_id = ?"], [WALLET]
    for name, column, op in (
        ("kind", "type", "="),
        ("date_from", "created_at", ">="),
        ("date_to", "created_at", "<="),
    ):
        if name in f:
            where.append(f"{column} {op} ?")
            args.append(f[name])  # type: ignore[arg-type]
    with sqlite3.connect(path) as conn:
        sql = f"SELECT COUNT(*) FROM transactions WHERE {' AND '.join(where)}"
        return int(conn.execute(sql, args).fetchone()[0])


def totals(store: Store) -> list[int]:
    return [store.transactions(WALLET, **f, limit=1).total for f in FILTERS]  # type: ignore[arg-type]


def expected(path: Path) -> list[int]:
    return [counted(path, **f) for f in FILTERS]


def open_store(path: Path) -> Store:
    store = Store(str(path))
    store.load_fixtures(load_fixture_data(None))
    return store


def test_credits_and_debits_keep_every_total_exact(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = open_store(path)
    assert totals(store) == expected(path)
    for i, (kind, now) in enumerate(
        [
            ("credit", "2026-11-22T10:00:00.000Z"),
            ("debit", "2026-11-22T10:00:01.000Z"),
            ("credit", "2030-06-01T00:00:00.000Z"),
            ("debit", "2026-01-10T00:00:00.000Z"),
            ("credit", "2031-01-01"),
        ]
    ):
        store.apply("CLIENT_001", kind, 100 + i, reference=None, description=None, now=now)
        assert totals(store) == expected(path), (kind, now)


def test_nothing_counted_when_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = open_store(path)
    before = totals(store)
    with pytest.raises(InsufficientFunds):
        store.apply("CLIENT_001", "debit", 10**12, reference=None, description=None, now="2027")
    store.apply("CLIENT_001", "credit", 5, reference="R", description=None, now="2027")
    replayed = store.apply(
        "CLIENT_001", "credit", 5, reference="R", description=None, now="2027", duplicates="replay"
    )
    assert replayed.replayed
    assert totals(store) == expected(path)
    assert totals(store)[0] == before[0] + 1


def test_another_connection_s_writes_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    first, second = open_store(path), open_store(path)
    assert totals(first) == expected(path)
    second.apply("CLIENT_001", "credit", 7, reference=None, description=None, now="2027")
    assert totals(first) == expected(path)
    second.reset()
    assert totals(first) == expected(path)


def test_reset_forgets_the_totals(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = open_store(path)
    fixture_totals = totals(store)
    store.apply("CLIENT_001", "credit", 7, reference=None, description=None, now="2027")
    assert totals(store)[0] == fixture_totals[0] + 1
    store.reset()
    assert totals(store) == fixture_totals == expected(path)
