"""The wallet ledger on SQLite: users, wallets, transactions, tokens. No Flask here.

Money is integer cents everywhere inside; conversion to the API's numbers and 2-decimal strings
happens at the edge (``money``). Every write is one SQLite transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``): the balance, the transaction row and ``updatedAt`` change together or not at all.

One connection serves all threads behind a lock. SQLite work per request is microseconds and
Python holds the GIL anyway, so the lock costs little and buys a simple, provable invariant:
operations on the ledger are serialized. A file database uses WAL with ``synchronous=NORMAL``:
an acknowledged write survives a crash or ``kill -9`` of the sandbox (it is in the WAL, in the
OS page cache); ``--durability full`` would also survive power loss, at an fsync per commit.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id           INTEGER PRIMARY KEY,
    client_id    TEXT NOT NULL UNIQUE,
    username     TEXT NOT NULL,
    display_name TEXT NOT NULL,
    ip_address   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wallets (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL UNIQUE REFERENCES users(id),
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0),
    currency      TEXT NOT NULL DEFAULT 'USD',
    updated_at    TEXT
);
CREATE TABLE IF NOT EXISTS transactions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    wallet_id    INTEGER NOT NULL REFERENCES wallets(id),
    type         TEXT NOT NULL CHECK (type IN ('credit', 'debit')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    currency     TEXT NOT NULL DEFAULT 'USD',
    reference    TEXT,
    description  TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_wallet ON transactions (wallet_id, created_at);
CREATE INDEX IF NOT EXISTS transactions_reference ON transactions (wallet_id, reference);
CREATE TABLE IF NOT EXISTS tokens (
    token      TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    expires_at TEXT NOT NULL
);
"""


def money(cents: int) -> float:
    """Cents as the API's JSON number (``150050`` -> ``1500.5``); exact for every cent value."""
    return cents / 100


def money_text(cents: int) -> str:
    """Cents as the API's 2-decimal string (``150050`` -> ``"1500.50"``)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def parse_cents(text: str) -> int:
    """A fixture's decimal string (``"1500.50"``) as integer cents; exact, no float."""
    whole, _, frac = text.partition(".")
    if len(frac) > 2:
        raise ValueError(f"more than 2 decimals: {text}")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((frac + "00")[:2]))


@dataclass(frozen=True)
class Balance:
    user_id: int
    client_id: str
    wallet_id: int
    cents: int
    updated_at: str | None


class Store:
    """The ledger. Create with a path (or ``:memory:``), then ``load_fixtures`` once."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._fixtures: dict[str, Any] | None = None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or rolls back."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    # ------------------------------------------------------------------ fixtures

    def is_empty(self) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is None

    def load_fixtures(self, fixtures: dict[str, Any], *, only_if_empty: bool = True) -> bool:
        """Insert the seed data; by default only into an empty ledger. Returns True if loaded."""
        self._fixtures = fixtures
        if only_if_empty and not self.is_empty():
            return False
        with self._write() as conn:
            _insert_fixtures(conn, fixtures)
        return True

    def reset(self) -> None:
        """Put the ledger back to the fixtures (or empty when there are none)."""
        with self._write() as conn:
            for table in ("tokens", "transactions", "wallets", "users"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM sqlite_sequence WHERE name = 'transactions'")
            if self._fixtures is not None:
                _insert_fixtures(conn, self._fixtures)

    # ------------------------------------------------------------------ reads

    def balance(self, client_id: str) -> Balance | None:
        """The wallet of ``client_id``, or None when there is no such user."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT u.id, w.id, w.balance_cents, w.updated_at FROM users u "
                "JOIN wallets w ON w.user_id = u.id WHERE u.client_id = ?",
                (client_id,),
            ).fetchone()
        if row is None:
            return None
        return Balance(row[0], client_id, row[1], row[2], row[3])

    def counts(self) -> dict[str, int]:
        """Row counts per table (for health and tests)."""
        with self._read() as conn:
            return {
                t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("users", "wallets", "transactions", "tokens")
            }


def _insert_fixtures(conn: sqlite3.Connection, fixtures: dict[str, Any]) -> None:
    for user in fixtures.get("users", []):
        conn.execute(
            "INSERT INTO users (id, client_id, username, display_name, ip_address, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                user["id"],
                user["clientId"],
                user["username"],
                user["displayName"],
                user["ipAddress"],
                user["createdAt"],
            ),
        )
        wallet = user["wallet"]
        conn.execute(
            "INSERT INTO wallets (id, user_id, balance_cents, currency, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (wallet["id"], user["id"], parse_cents(wallet["balance"]), "USD", wallet["updatedAt"]),
        )
    conn.executemany(
        "INSERT INTO transactions (id, wallet_id, type, amount_cents, currency, reference, "
        "description, created_at) VALUES (?, ?, ?, ?, 'USD', ?, ?, ?)",
        [
            (
                t["id"],
                t["walletId"],
                t["type"],
                parse_cents(t["amount"]),
                t.get("reference"),
                t.get("description"),
                t["createdAt"],
            )
            for t in fixtures.get("transactions", [])
        ],
    )


def read_fixtures(directory: str | Path) -> dict[str, Any]:
    """Read ``users.json`` and ``transactions.json`` from a fixtures directory."""
    directory = Path(directory)
    users = json.loads((directory / "users.json").read_text("utf-8"))
    transactions = json.loads((directory / "transactions.json").read_text("utf-8"))
    return {"users": users["users"], "transactions": transactions["transactions"]}
