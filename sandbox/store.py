"""The wallet ledger on SQLite: users, wallets, transactions, tokens. No Flask here.

Money is integer cents everywhere inside; conversion to the API's numbers and 2-decimal strings
happens at the edge (``money``). Every write is one SQLite transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``): the balance, the transaction row and ``updatedAt`` change together or not at all.

One connection serves all threads behind a lock. SQLite work per request is microseconds and
Python holds the GIL anyway, so the lock costs little and buys a simple, provable invariant:
operations on the ledger are serialized. A file database uses WAL with ``synchronous=NORMAL``:
an acknowledged write survives a crash or ``kill -9`` of the sandbox (it is in the WAL, in the
OS page cache). Surviving power loss too would need
``synchronous=FULL``, an fsync per commit; the sandbox does not offer it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

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
    created_at   TEXT NOT NULL,
    balance_after_cents INTEGER NOT NULL CHECK (balance_after_cents >= 0)
);
CREATE INDEX IF NOT EXISTS transactions_wallet ON transactions (wallet_id, created_at);
CREATE INDEX IF NOT EXISTS transactions_reference ON transactions (wallet_id, reference);
CREATE TABLE IF NOT EXISTS tokens (
    token      TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens (expires_at);
"""


# Every balance must print exactly as a JSON number (a double): with at most 15 significant
# digits a decimal survives the round trip through a double. 999,999,999,999.99 has 14.
MAX_BALANCE_CENTS = 999_999_999_999_99


def money(cents: int) -> int | float:
    """Cents as the API's JSON number, printed as JavaScript would: ``150050`` -> ``1500.5``,
    ``20100`` -> ``201`` (an int, so that JSON says ``201``, not ``201.0``)."""
    whole, frac = divmod(cents, 100)
    return whole if frac == 0 else cents / 100


def money_text(cents: int) -> str:
    """Cents as the API's 2-decimal string (``150050`` -> ``"1500.50"``)."""
    if cents >= 0:  # every ledger amount: the short way (a page formats up to 100 of them)
        return f"{cents // 100}.{cents % 100:02d}"
    whole, frac = divmod(-cents, 100)
    return f"-{whole}.{frac:02d}"


_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]{0,2})?")


def parse_cents(text: str) -> int:
    """A fixture's decimal string (``"1500.50"``) as integer cents; exact, no float."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a decimal with at most 2 decimals: {text!r}")
    whole, _, frac = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((frac + "00")[:2]))


class StoreError(RuntimeError):
    """The database cannot be used."""


class UnknownClient(LookupError):
    """No user has this clientId."""


class InsufficientFunds(Exception):
    """A debit larger than the balance; nothing was written."""

    def __init__(self, balance_cents: int, amount_cents: int, duplicate: bool = False) -> None:
        super().__init__("insufficient balance")
        self.balance_cents = balance_cents
        self.amount_cents = amount_cents
        self.duplicate = duplicate  # the reference had been used before


class BalanceCap(Exception):
    """A credit that would take the balance past ``MAX_BALANCE_CENTS``; nothing was written."""

    def __init__(self, balance_cents: int) -> None:
        super().__init__("balance cap")
        self.room_cents = MAX_BALANCE_CENTS - balance_cents  # the largest credit still allowed


class DuplicateReference(Exception):
    """The reference was used before for this user (policy ``reject``); nothing was written."""

    def __init__(self, original: Applied) -> None:
        super().__init__("duplicate reference")
        self.original = original


DUPLICATE_POLICIES = ("allow", "reject", "replay")
SORT_COLUMNS = {
    "id": "id",
    "walletId": "wallet_id",
    "amount": "amount_cents",
    "currency": "currency",
    "type": "type",
    "createdAt": "created_at",
}


@dataclass(frozen=True)
class User:
    id: int
    client_id: str
    username: str
    display_name: str
    ip_address: str


@dataclass(frozen=True)
class Applied:
    """One committed credit or debit (or, replayed, the original one)."""

    user_id: int
    client_id: str
    transaction_id: int
    kind: str
    amount_cents: int
    balance_cents: int  # the balance right after this transaction
    replayed: bool = False  # the original answer to a duplicate reference (policy replay)
    duplicate: bool = False  # the reference had been used before by this user


class TransactionRow(NamedTuple):
    """One row of a page (a named tuple: a page builds up to 100 of them per request)."""

    id: int
    wallet_id: int
    amount_cents: int
    currency: str
    type: str
    reference: str | None
    description: str | None
    created_at: str


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[TransactionRow]


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
        self._lock = threading.Lock()
        try:
            self._conn = self._open(path)
        except sqlite3.Error as exc:
            # Not a database, truncated, corrupted, read-only, unreadable: one clear line.
            raise StoreError(
                f"cannot use the database {path}: {exc}. Move the file away (a new one is made "
                "and filled from the fixtures), fix its permissions, or pass another --db "
                "(:memory: for a throwaway ledger)"
            ) from None
        except OSError as exc:
            raise StoreError(
                f"cannot use the database {path}: {exc.strerror}. Pass another --db "
                "(:memory: for a throwaway ledger)"
            ) from None
        self._fixtures: dict[str, Any] | None = None

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        """Connect, check the file is a usable database of this version, create the schema."""
        if path != ":memory:":
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            if path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                # A damaged file must fail now, not on every request after SANDBOX_URL.
                rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check(10)")]
                if rows != ["ok"]:
                    found = [line for row in rows for line in row.splitlines() if "***" not in line]
                    raise sqlite3.DatabaseError(
                        f"it is corrupted (quick_check: {found[0] if found else rows[0]}, "
                        f"{len(found)} problem(s) found)"
                    )
                conn.execute("BEGIN IMMEDIATE")  # fails at once on a read-only file
                conn.execute("ROLLBACK")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(
                    f"it was written by another version of the sandbox (schema {version}, this "
                    f"one uses {SCHEMA_VERSION})"
                )
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        return conn

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

    def user(self, client_id: str) -> User | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT id, client_id, username, display_name, ip_address FROM users "
                "WHERE client_id = ?",
                (client_id,),
            ).fetchone()
        return User(*row) if row else None

    # ------------------------------------------------------------------ writes

    def upsert_user(
        self, client_id: str, username: str, display_name: str, ip_address: str, now: str
    ) -> tuple[User, bool]:
        """Create the user with an empty wallet, or update its profile. Returns (user, is_new)."""
        with self._write() as conn:
            row = conn.execute("SELECT id FROM users WHERE client_id = ?", (client_id,)).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE users SET username = ?, display_name = ?, ip_address = ? WHERE id = ?",
                    (username, display_name, ip_address, row[0]),
                )
                return User(row[0], client_id, username, display_name, ip_address), False
            user_id = conn.execute(
                "INSERT INTO users (client_id, username, display_name, ip_address, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (client_id, username, display_name, ip_address, now),
            ).lastrowid
            conn.execute(
                "INSERT INTO wallets (user_id, balance_cents, currency, updated_at) "
                "VALUES (?, 0, 'USD', NULL)",
                (user_id,),
            )
            assert user_id is not None
            return User(user_id, client_id, username, display_name, ip_address), True

    def ensure_client(self, setup: Any, now: str) -> bool:
        """Create a scenarios.yaml named client with its starting balance, unless it exists.

        A starting balance is written as an opening credit, so that balance = credits - debits
        holds for every wallet. Returns True when the client was created.
        """
        with self._write() as conn:
            if conn.execute(
                "SELECT 1 FROM users WHERE client_id = ?", (setup.client_id,)
            ).fetchone():
                return False
            name = setup.client_id.lower()
            user_id = conn.execute(
                "INSERT INTO users (client_id, username, display_name, ip_address, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    setup.client_id,
                    setup.username or name,
                    setup.display_name or setup.client_id,
                    setup.ip_address,
                    now,
                ),
            ).lastrowid
            cents = setup.balance_cents
            wallet_id = conn.execute(
                "INSERT INTO wallets (user_id, balance_cents, currency, updated_at) "
                "VALUES (?, ?, 'USD', ?)",
                (user_id, cents, now if cents else None),
            ).lastrowid
            if cents:
                conn.execute(
                    "INSERT INTO transactions (wallet_id, type, amount_cents, currency, "
                    "reference, description, created_at, balance_after_cents) "
                    "VALUES (?, 'credit', ?, 'USD', NULL, ?, ?, ?)",
                    (wallet_id, cents, "Opening balance (scenarios.yaml)", now, cents),
                )
            return True

    def add_token(self, token: str, user_id: int, expires_at: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO tokens (token, user_id, expires_at) VALUES (?, ?, ?)",
                (token, user_id, expires_at),
            )

    def prune_tokens(self, now: str) -> int:
        """Delete the tokens that expired before ``now``; returns how many."""
        with self._write() as conn:
            return conn.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,)).rowcount

    def token_user(self, token: str, now: str) -> tuple[User, str] | None:
        """The user of a token that has not expired at ``now``, with its expiry."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT u.id, u.client_id, u.username, u.display_name, u.ip_address, "
                "t.expires_at FROM tokens t JOIN users u ON u.id = t.user_id "
                "WHERE t.token = ? AND t.expires_at > ?",
                (token, now),
            ).fetchone()
        return (User(*row[:5]), row[5]) if row else None

    def apply(
        self,
        client_id: str,
        kind: str,
        amount_cents: int,
        *,
        reference: str | None,
        description: str | None,
        now: str,
        duplicates: str = "allow",
    ) -> Applied:
        """Credit or debit one wallet atomically: the transaction row, the balance and
        ``updatedAt`` are written in one SQLite transaction, or nothing is.

        Raises ``UnknownClient``, ``InsufficientFunds`` (a debit beyond the balance) or, under
        the ``reject`` policy, ``DuplicateReference``. Under ``replay`` a reused reference
        returns the original transaction's result and writes nothing.
        """
        if kind not in ("credit", "debit"):
            raise ValueError(kind)
        with self._write() as conn:
            row = conn.execute(
                "SELECT u.id, w.id, w.balance_cents FROM users u "
                "JOIN wallets w ON w.user_id = u.id WHERE u.client_id = ?",
                (client_id,),
            ).fetchone()
            if row is None:
                raise UnknownClient(client_id)
            user_id, wallet_id, balance = row
            duplicate = False
            if reference is not None:
                original = conn.execute(
                    "SELECT id, type, amount_cents, balance_after_cents FROM transactions "
                    "WHERE wallet_id = ? AND reference = ? ORDER BY id LIMIT 1",
                    (wallet_id, reference),
                ).fetchone()
                if original is not None:
                    duplicate = True
                    first_id, first_kind, first_cents, first_balance = original
                    first = Applied(
                        user_id,
                        client_id,
                        first_id,
                        first_kind,
                        first_cents,
                        first_balance,
                        replayed=duplicates == "replay",
                        duplicate=True,
                    )
                    if duplicates == "reject":
                        raise DuplicateReference(first)
                    if duplicates == "replay":
                        return first
            new_balance = balance + amount_cents if kind == "credit" else balance - amount_cents
            if new_balance < 0:
                raise InsufficientFunds(balance, amount_cents, duplicate)
            if new_balance > MAX_BALANCE_CENTS:
                raise BalanceCap(balance)
            transaction_id = conn.execute(
                "INSERT INTO transactions (wallet_id, type, amount_cents, currency, reference, "
                "description, created_at, balance_after_cents) VALUES (?, ?, ?, 'USD', ?, ?, ?, ?)",
                (wallet_id, kind, amount_cents, reference, description, now, new_balance),
            ).lastrowid
            conn.execute(
                "UPDATE wallets SET balance_cents = ?, updated_at = ? WHERE id = ?",
                (new_balance, now, wallet_id),
            )
            assert transaction_id is not None
            return Applied(
                user_id,
                client_id,
                transaction_id,
                kind,
                amount_cents,
                new_balance,
                duplicate=duplicate,
            )

    def transactions(
        self,
        wallet_id: int,
        *,
        kind: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        sort_by: str = "createdAt",
        descending: bool = True,
        limit: int = 10,
        offset: int = 0,
    ) -> Page:
        """One page of a wallet's transactions, filtered and sorted (ties broken by id in the
        same direction), with the total count of the filtered set."""
        where = ["wallet_id = ?"]
        args: list[Any] = [wallet_id]
        if kind is not None:
            where.append("type = ?")
            args.append(kind)
        if date_from is not None:
            where.append("created_at >= ?")
            args.append(date_from)
        if date_to is not None:
            where.append("created_at <= ?")
            args.append(date_to)
        column = SORT_COLUMNS[sort_by]
        direction = "DESC" if descending else "ASC"
        clause = " AND ".join(where)
        order = f"{column} {direction}" + (f", id {direction}" if column != "id" else "")
        with self._read() as conn:
            # An exact COUNT(*) on every page: about 5 us for a wallet of 150 transactions.
            total = conn.execute(
                f"SELECT COUNT(*) FROM transactions WHERE {clause}", args
            ).fetchone()[0]
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples, made into TransactionRows at once
            rows = cursor.execute(
                "SELECT id, wallet_id, amount_cents, currency, type, reference, description, "
                f"created_at FROM transactions WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return Page(total, list(map(TransactionRow._make, rows)))

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
    running: dict[int, int] = {}
    rows = []
    for t in sorted(fixtures.get("transactions", []), key=lambda t: t["id"]):
        cents = parse_cents(t["amount"])
        after = running.get(t["walletId"], 0) + (cents if t["type"] == "credit" else -cents)
        running[t["walletId"]] = after
        rows.append(
            (
                t["id"],
                t["walletId"],
                t["type"],
                cents,
                t.get("reference"),
                t.get("description"),
                t["createdAt"],
                after,
            )
        )
    conn.executemany(
        "INSERT INTO transactions (id, wallet_id, type, amount_cents, currency, reference, "
        "description, created_at, balance_after_cents) VALUES (?, ?, ?, ?, 'USD', ?, ?, ?, ?)",
        rows,
    )


def read_fixtures(directory: str | Path) -> dict[str, Any]:
    """Read ``users.json`` and ``transactions.json`` from a fixtures directory."""
    directory = Path(directory)
    users = json.loads((directory / "users.json").read_text("utf-8"))
    transactions = json.loads((directory / "transactions.json").read_text("utf-8"))
    return {"users": users["users"], "transactions": transactions["transactions"]}
