"""An acknowledged write survives ``kill -9`` of the sandbox (file database, WAL).

Several threads send signed credits to a real ``sabong-sandbox serve``; the server is killed
with SIGKILL in the middle of that load and restarted on the same database file. Every credit
that was answered 200 must be there, with its amount; a request in flight at the kill may or
may not have been committed, but nothing else may appear, and the balance must equal the sum
of the transactions that are there.
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
import uuid
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

from sandbox.client import SandboxClient
from sandbox.process import ServerProcess
from sandbox.store import money, money_text, parse_cents

TOKEN = "/api/v1/generate-auth-token"
CREDIT = "/api/v1/credit-balance"
BALANCE = "/api/v1/get-balance"
TRANSACTIONS = "/api/v1/get-transactions"

THREADS = 4
LOAD_SECONDS = 1.0
MIN_ACKNOWLEDGED = 50


def cents(number: int | float) -> int:
    exact = Decimal(repr(number)) * 100
    assert exact == exact.to_integral_value(), number
    return int(exact)


def serve(db: Path) -> ServerProcess:
    return ServerProcess(["--port", "0", "--db", str(db), "--quiet", "--threads", "4"])


def all_transactions(client: SandboxClient, client_id: str) -> list[dict[str, Any]]:
    total, rows = client.transactions(client_id)
    assert len(rows) == total
    return rows


class Load:
    """Threads crediting one wallet until the server goes away, recording what was answered."""

    def __init__(self, client: SandboxClient, client_id: str) -> None:
        self.client = client
        self.client_id = client_id
        self.acknowledged: dict[str, tuple[int, int]] = {}  # reference -> (transactionId, cents)
        self.attempted: dict[str, int] = {}  # reference -> cents
        self.in_flight: list[str] = []  # the reference each thread was sending when it failed
        self.unexpected: list[Any] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(THREADS)]

    def run(self, t: int) -> None:
        i = 0
        while not self.stop.is_set():
            reference = f"durable-{t}-{i}"
            amount = 1 + (t * 7919 + i * 104_729) % 99_999
            with self.lock:
                self.attempted[reference] = amount
            body = {"clientId": self.client_id, "amount": money(amount), "reference": reference}
            try:
                reply = self.client.post(CREDIT, body)
            except (OSError, http.client.HTTPException):
                # The server is gone; this request may or may not have been committed.
                with self.lock:
                    self.in_flight.append(reference)
                return
            if reply.status != 200:
                with self.lock:
                    self.unexpected.append((reference, reply.status, reply.body))
                return
            data = reply.json()["data"]
            with self.lock:
                if cents(data["amount"]) != amount or data["type"] != "credit":
                    self.unexpected.append((reference, amount, data))
                    return
                self.acknowledged[reference] = (data["transactionId"], amount)
            i += 1

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def test_acknowledged_credits_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    client_id = f"DURABLE_{uuid.uuid4().hex[:12]}"

    first = serve(db)
    client = SandboxClient(first.url, timeout=5)
    load = Load(client, client_id)
    try:
        reply = client.post(
            TOKEN,
            {
                "clientId": client_id,
                "username": "durable",
                "displayName": "Durability Test",
                "ipAddress": "127.0.0.1",
            },
        )
        assert reply.status == 200, reply.body
        for thread in load.threads:
            thread.start()
        started = time.monotonic()
        while time.monotonic() - started < LOAD_SECONDS or load.count() < MIN_ACKNOWLEDGED:
            assert time.monotonic() - started < 10, "the load is far too slow"
            assert all(t.is_alive() for t in load.threads), load.unexpected
            time.sleep(0.02)
        first.proc.kill()  # SIGKILL, mid-load: no shutdown code runs
        first.proc.wait(timeout=10)
        # Each thread now fails on the request it is sending (or on its next one) and ends.
        for thread in load.threads:
            thread.join(timeout=15)
            assert not thread.is_alive()
    finally:
        load.stop.set()  # only matters when something above failed
        first.stop()  # reaps the process and closes its pipes
    assert first.proc.returncode == -9
    assert load.unexpected == []
    assert len(load.acknowledged) >= MIN_ACKNOWLEDGED
    # Every thread was still sending when the server died.
    assert len(load.in_flight) == THREADS

    second = serve(db)
    try:
        client = SandboxClient(second.url, timeout=5)
        rows = all_transactions(client, client_id)
        reply = client.get(BALANCE, {"clientId": client_id})
        assert reply.status == 200, reply.body
        final = cents(reply.json()["data"]["balance"])
    finally:
        # Stopping under load must be clean (test_serve.py checks the exit code under load).
        second.stop(timeout=3)

    present = {row["referenceId"]: row for row in rows}
    assert len(present) == len(rows)  # one row per reference: nothing applied twice
    for reference, (transaction_id, amount) in load.acknowledged.items():
        row = present.get(reference)
        assert row is not None, f"acknowledged {reference} (id {transaction_id}) was lost"
        assert (row["id"], row["type"], row["amount"]) == (
            transaction_id,
            "credit",
            money_text(amount),
        )
    unacknowledged = set(present) - set(load.acknowledged)
    assert unacknowledged <= set(load.in_flight), "a row appeared that nobody sent"
    for reference in unacknowledged:
        assert present[reference]["amount"] == money_text(load.attempted[reference])
    assert len(load.acknowledged) <= len(rows) <= len(load.acknowledged) + THREADS

    # The new user started at 0, so its balance is exactly the sum of what survived.
    assert final == sum(parse_cents(row["amount"]) for row in rows)

    # The file itself is sound, and every row's balance_after chains from the previous one.
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        chain = conn.execute(
            "SELECT t.amount_cents, t.balance_after_cents FROM transactions t "
            "JOIN wallets w ON w.id = t.wallet_id JOIN users u ON u.id = w.user_id "
            "WHERE u.client_id = ? ORDER BY t.id",
            (client_id,),
        ).fetchall()
    running = 0
    for amount, after in chain:
        running += amount
        assert after == running
    assert running == final
