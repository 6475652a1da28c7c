"""Concurrent credits and debits against a real ``sabong-sandbox serve`` over HTTP.

Many client threads hit one wallet at once through waitress's worker threads. Whatever the
interleaving, the ledger must behave as if the operations ran one at a time: every 200 is one
transaction row, the balances the responses report chain exactly in transaction-id order, a
debit is refused only when the balance really is too small, and the final balance is exact to
the cent. Runs against an in-memory database and against a file database (WAL).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from sandbox.client import SandboxClient
from sandbox.process import ServerProcess
from sandbox.store import money, money_text

TOKEN = "/api/v1/generate-auth-token"
CREDIT = "/api/v1/credit-balance"
DEBIT = "/api/v1/debit-balance"
BALANCE = "/api/v1/get-balance"
TRANSACTIONS = "/api/v1/get-transactions"

THREADS = 8
STOP_GRACE = 3  # seconds


@dataclass(frozen=True)
class Outcome:
    kind: str
    amount: int  # cents
    status: int
    body: dict[str, Any]


def cents(number: int | float) -> int:
    """An API money number (``1500.5``, ``201``) as exact integer cents."""
    exact = Decimal(repr(number)) * 100
    assert exact == exact.to_integral_value(), number
    return int(exact)


@pytest.fixture(scope="module", params=["memory", "file"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    if request.param == "memory":
        db = ":memory:"
    else:
        db = str(tmp_path_factory.mktemp("concurrency") / "sandbox.db")
    proc = ServerProcess(["--port", "0", "--db", db, "--quiet", "--threads", "4"])
    try:
        yield proc
    finally:
        # Stopping under load must be clean (test_serve.py checks the exit code under load).
        proc.stop(timeout=STOP_GRACE)


@pytest.fixture
def client(server: ServerProcess) -> SandboxClient:
    return SandboxClient(server.url)


def new_user(client: SandboxClient) -> str:
    """A fresh user (balance 0) that no other test touches."""
    client_id = f"CONC_{uuid.uuid4().hex[:16]}"
    reply = client.post(
        TOKEN,
        {
            "clientId": client_id,
            "username": client_id.lower(),
            "displayName": "Concurrency Test",
            "ipAddress": "127.0.0.1",
        },
    )
    assert reply.status == 200, reply.body
    assert reply.json()["data"]["isNewUser"] is True
    assert balance(client, client_id) == 0
    return client_id


def balance(client: SandboxClient, client_id: str) -> int:
    reply = client.get(BALANCE, {"clientId": client_id})
    assert reply.status == 200, reply.body
    return cents(reply.json()["data"]["balance"])


def send(client: SandboxClient, client_id: str, kind: str, amount: int) -> Outcome:
    path = CREDIT if kind == "credit" else DEBIT
    reply = client.post(path, {"clientId": client_id, "amount": money(amount)})
    return Outcome(kind, amount, reply.status, reply.json())


def credit(client: SandboxClient, client_id: str, amount: int) -> int:
    """Credit synchronously; returns the transaction id."""
    outcome = send(client, client_id, "credit", amount)
    assert outcome.status == 200, outcome.body
    return outcome.body["data"]["transactionId"]


def run_threads(
    client: SandboxClient, client_id: str, plans: list[list[tuple[str, int]]]
) -> list[Outcome]:
    """One thread per plan, all released together by a barrier; every outcome, flattened."""
    barrier = threading.Barrier(len(plans))

    def worker(plan: list[tuple[str, int]]) -> list[Outcome]:
        barrier.wait(timeout=10)
        return [send(client, client_id, kind, amount) for kind, amount in plan]

    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        futures = [pool.submit(worker, plan) for plan in plans]
        return [outcome for future in futures for outcome in future.result()]


def all_transactions(client: SandboxClient, client_id: str) -> tuple[int, list[dict[str, Any]]]:
    """(totalCount, every row) of a wallet, paged 100 at a time in id order."""
    return client.transactions(client_id)


def mixed_plans(debit_scale: int) -> list[list[tuple[str, int]]]:
    """A fixed mix per thread: every third operation a debit, odd-cent amounts throughout."""
    plans = []
    for t in range(THREADS):
        plan = []
        for i in range(24):
            if (i + t) % 3 == 0:
                plan.append(("debit", debit_scale * (1 + (t * 31 + i * 17) % 97)))
            else:
                plan.append(("credit", 1 + (t * 53 + i * 29) % 4999))
        plans.append(plan)
    return plans


def check_ledger(
    client: SandboxClient,
    client_id: str,
    start: int,
    first_id: int,
    outcomes: list[Outcome],
) -> int:
    """Everything the acknowledged responses imply about the ledger; returns the final balance."""
    acked = [o for o in outcomes if o.status == 200]
    refused = [o for o in outcomes if o.status != 200]

    for o in acked:
        data = o.body["data"]
        assert o.body["status"] == "success"
        assert (data["clientId"], data["type"], cents(data["amount"])) == (
            client_id,
            o.kind,
            o.amount,
        )
        assert cents(data["balance"]) >= 0

    # Only debits may fail, and only for insufficient balance, which then really was too small.
    for o in refused:
        assert (o.kind, o.status) == ("debit", 400), o
        assert o.body["status"] == "failed"
        assert o.body["message"] == "Insufficient balance"
        assert cents(o.body["data"]["amount"]) == o.amount
        assert 0 <= cents(o.body["data"]["balance"]) < o.amount

    # Serializability: in transaction-id order, each reported balance is the previous one
    # plus or minus this amount, starting from the balance after the initial credit.
    ids = [o.body["data"]["transactionId"] for o in acked]
    assert len(set(ids)) == len(ids)
    running = start
    previous = first_id
    for o in sorted(acked, key=lambda o: o.body["data"]["transactionId"]):
        assert o.body["data"]["transactionId"] > previous
        previous = o.body["data"]["transactionId"]
        running += o.amount if o.kind == "credit" else -o.amount
        assert running >= 0
        assert cents(o.body["data"]["balance"]) == running

    credited = sum(o.amount for o in acked if o.kind == "credit")
    debited = sum(o.amount for o in acked if o.kind == "debit")
    final = balance(client, client_id)
    assert final == start + credited - debited == running

    total, rows = all_transactions(client, client_id)
    assert total == len(rows) == len(acked) + 1
    assert [row["id"] for row in rows] == sorted([first_id, *ids])
    by_id = {o.body["data"]["transactionId"]: o for o in acked}
    assert (rows[0]["type"], rows[0]["amount"]) == ("credit", money_text(start))
    for row in rows[1:]:
        o = by_id[row["id"]]
        assert (row["type"], row["amount"]) == (o.kind, money_text(o.amount))
    return final


def test_mixed_load_with_ample_balance_is_exact(client: SandboxClient) -> None:
    """Start with more than all debits together: no debit can fail in any interleaving, so the
    final balance is known in advance."""
    plans = mixed_plans(debit_scale=100)
    ops = [op for plan in plans for op in plan]
    start = sum(amount for kind, amount in ops if kind == "debit")
    client_id = new_user(client)
    first_id = credit(client, client_id, start)

    outcomes = run_threads(client, client_id, plans)

    assert len(outcomes) == len(ops) >= THREADS * 20
    assert all(o.status == 200 for o in outcomes), [o for o in outcomes if o.status != 200][:3]
    expected = (
        start + sum(a for k, a in ops if k == "credit") - sum(a for k, a in ops if k == "debit")
    )
    assert check_ledger(client, client_id, start, first_id, outcomes) == expected


def test_mixed_load_with_tight_balance_matches_acknowledgements(client: SandboxClient) -> None:
    """Start small with large debits: some are refused, depending on the interleaving; the
    ledger must still match exactly what was acknowledged."""
    plans = mixed_plans(debit_scale=250)
    start = 5000
    client_id = new_user(client)
    first_id = credit(client, client_id, start)

    outcomes = run_threads(client, client_id, plans)

    ops = [op for plan in plans for op in plan]
    # Debits exceed the start plus every credit, so some must be refused in any interleaving.
    assert sum(a for k, a in ops if k == "debit") > start + sum(a for k, a in ops if k == "credit")
    assert len(outcomes) == len(ops)
    assert any(o.status == 400 for o in outcomes)
    check_ledger(client, client_id, start, first_id, outcomes)


@pytest.mark.parametrize(("start", "amount"), [(10_000, 700), (12_345, 333)])
def test_racing_debits_never_overdraw(client: SandboxClient, start: int, amount: int) -> None:
    """Six debits per thread, together far more than the balance: exactly
    floor(balance / amount) succeed, every other one is refused with the remainder."""
    client_id = new_user(client)
    first_id = credit(client, client_id, start)
    plans = [[("debit", amount)] * 6 for _ in range(THREADS)]
    assert THREADS * 6 * amount > start

    outcomes = run_threads(client, client_id, plans)

    succeeded = [o for o in outcomes if o.status == 200]
    refused = [o for o in outcomes if o.status != 200]
    assert len(succeeded) == start // amount
    assert len(refused) == THREADS * 6 - start // amount
    remainder = start - (start // amount) * amount
    for o in refused:
        # The balance only goes down, so once too small it is the final remainder.
        assert o.status == 400
        assert o.body == {
            "status": "failed",
            "message": "Insufficient balance",
            "data": {"balance": money(remainder), "amount": money(amount)},
        }
    assert check_ledger(client, client_id, start, first_id, outcomes) == remainder
