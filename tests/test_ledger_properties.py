"""Property tests of the ledger (``sandbox.store``) against a plain Python model, no HTTP.

For any sequence of credits and debits (large and small amounts, debits beyond the balance,
unknown clients, reused references under a duplicate policy chosen per call) the store must
agree with the model after every step: balances, counts, what each call returned or raised,
the rows written and their ``balance_after``. Plus the money conversions at the edge
round-trip exactly."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sandbox.store import (
    DUPLICATE_POLICIES,
    Applied,
    DuplicateReference,
    InsufficientFunds,
    Store,
    UnknownClient,
    money,
    money_text,
    parse_cents,
)
from sandbox.validation import MAX_AMOUNT, Checker

FIXTURE_CLIENTS = ("ALICE", "BOB")
UPSERTED = "CAROL"
CLIENTS = (*FIXTURE_CLIENTS, UPSERTED)
UNKNOWN = "NOBODY"
CREATED = "2026-01-01T00:00:00.000Z"
MAX_CENTS = 10**11  # a little above the API's maximum amount, 999,999,999.99

amounts = st.one_of(st.integers(1, 10_000), st.integers(1, MAX_CENTS))
# "drain" is a debit of exactly the current balance (to reach 0 without overdrawing).
operations = st.lists(
    st.tuples(
        st.sampled_from(["credit", "debit", "drain"]),
        st.sampled_from([*CLIENTS, *CLIENTS, UNKNOWN]),
        amounts,
        st.one_of(st.none(), st.sampled_from(["ref-1", "ref-2"])),
        st.sampled_from(DUPLICATE_POLICIES),
    ),
    min_size=5,
    max_size=50,
)


def fixture_user(user_id: int, client_id: str, wallet_id: int, cents: int) -> dict[str, Any]:
    """One user in the format of fixtures/users.json."""
    return {
        "id": user_id,
        "clientId": client_id,
        "username": client_id.lower(),
        "displayName": client_id.title(),
        "ipAddress": "10.0.0.1",
        "createdAt": CREATED,
        "wallet": {"id": wallet_id, "balance": money_text(cents), "updatedAt": CREATED},
    }


def stamp(i: int) -> str:
    """A distinct, increasing ``now`` for the i-th operation."""
    return f"2026-02-01T00:{i // 60:02d}:{i % 60:02d}.000Z"


@dataclass
class Row:
    id: int
    kind: str
    amount: int
    reference: str | None
    description: str | None
    created_at: str
    balance_after: int


@dataclass
class Wallet:
    user_id: int
    wallet_id: int
    balance: int
    updated_at: str | None
    rows: list[Row] = field(default_factory=list)

    def first_with(self, reference: str | None) -> Row | None:
        if reference is None:
            return None
        return next((r for r in self.rows if r.reference == reference), None)


def balance_after_column(store: Store, wallet_id: int) -> list[tuple[int, int]]:
    """(id, balance_after_cents) of a wallet's rows; the column has no public reader."""
    with store._read() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                "SELECT id, balance_after_cents FROM transactions WHERE wallet_id = ? ORDER BY id",
                (wallet_id,),
            )
        ]


def check_agrees(store: Store, model: dict[str, Wallet]) -> None:
    for client_id, wallet in model.items():
        found = store.balance(client_id)
        assert found is not None
        assert (found.user_id, found.wallet_id) == (wallet.user_id, wallet.wallet_id)
        assert found.cents == wallet.balance >= 0
        assert found.updated_at == wallet.updated_at
    assert store.balance(UNKNOWN) is None


@settings(max_examples=200, deadline=None)
@given(
    starts=st.tuples(st.integers(0, MAX_CENTS), st.integers(0, 10_000)),
    ops=operations,
)
def test_ledger_agrees_with_model(
    starts: tuple[int, int], ops: list[tuple[str, str, int, str | None, str]]
) -> None:
    store = Store(":memory:")
    try:
        store.load_fixtures(
            {
                "users": [
                    fixture_user(10, "ALICE", 110, starts[0]),
                    fixture_user(20, "BOB", 120, starts[1]),
                ],
                "transactions": [],
            }
        )
        carol, is_new = store.upsert_user(UPSERTED, "carol", "Carol", "10.0.0.3", CREATED)
        assert is_new
        model: dict[str, Wallet] = {
            "ALICE": Wallet(10, 110, starts[0], CREATED),
            "BOB": Wallet(20, 120, starts[1], CREATED),
        }
        carol_wallet = store.balance(UPSERTED)
        assert carol_wallet is not None
        model[UPSERTED] = Wallet(carol.id, carol_wallet.wallet_id, 0, None)
        check_agrees(store, model)
        last_id = 0

        for i, (op, client_id, drawn, reference, policy) in enumerate(ops):
            wallet = model.get(client_id)
            kind = "credit" if op == "credit" else "debit"
            amount = wallet.balance if op == "drain" and wallet and wallet.balance else drawn
            now = stamp(i)
            description = f"op {i}" if i % 2 else None
            before = store.counts()

            def call(
                kind: str = kind,
                client_id: str = client_id,
                amount: int = amount,
                reference: str | None = reference,
                description: str | None = description,
                now: str = now,
                policy: str = policy,
            ) -> Applied:
                return store.apply(
                    client_id,
                    kind,
                    amount,
                    reference=reference,
                    description=description,
                    now=now,
                    duplicates=policy,
                )

            if wallet is None:
                event("unknown client")
                with pytest.raises(UnknownClient):
                    call()
                assert store.counts() == before
                check_agrees(store, model)
                continue

            original = wallet.first_with(reference)
            if original is not None and policy != "allow":
                expected = Applied(
                    wallet.user_id,
                    client_id,
                    original.id,
                    original.kind,
                    original.amount,
                    original.balance_after,
                    replayed=policy == "replay",
                    duplicate=True,
                )
                event(f"duplicate reference, {policy}")
                if policy == "reject":
                    with pytest.raises(DuplicateReference) as raised:
                        call()
                    assert raised.value.original == expected
                else:
                    assert call() == expected
                assert store.counts() == before
                check_agrees(store, model)
                continue

            new_balance = wallet.balance + (amount if kind == "credit" else -amount)
            if new_balance < 0:
                event("insufficient funds")
                with pytest.raises(InsufficientFunds) as refused:
                    call()
                assert (refused.value.balance_cents, refused.value.amount_cents) == (
                    wallet.balance,
                    amount,
                )
                assert store.counts() == before
                check_agrees(store, model)
                continue

            event(f"{kind} committed" + (" (duplicate allowed)" if original else ""))
            if kind == "debit" and new_balance == 0:
                event("debit to exactly zero")
            applied = call()
            assert applied.transaction_id > last_id
            last_id = applied.transaction_id
            assert applied == Applied(
                wallet.user_id,
                client_id,
                applied.transaction_id,
                kind,
                amount,
                new_balance,
                duplicate=original is not None,
            )
            wallet.balance = new_balance
            wallet.updated_at = now
            wallet.rows.append(
                Row(applied.transaction_id, kind, amount, reference, description, now, new_balance)
            )
            assert store.counts() == {**before, "transactions": before["transactions"] + 1}
            check_agrees(store, model)

        # The rows written, read back through the public reader, and their balance_after.
        for client_id, wallet in model.items():
            page = store.transactions(wallet.wallet_id, sort_by="id", descending=False, limit=1000)
            assert page.total == len(wallet.rows)
            assert [
                (r.id, r.wallet_id, r.type, r.amount_cents, r.currency, r.reference)
                for r in page.rows
            ] == [
                (r.id, wallet.wallet_id, r.kind, r.amount, "USD", r.reference) for r in wallet.rows
            ]
            assert [(r.description, r.created_at) for r in page.rows] == [
                (r.description, r.created_at) for r in wallet.rows
            ]
            assert balance_after_column(store, wallet.wallet_id) == [
                (r.id, r.balance_after) for r in wallet.rows
            ]
            start = starts[FIXTURE_CLIENTS.index(client_id)] if client_id != UPSERTED else 0
            credits = sum(r.amount for r in wallet.rows if r.kind == "credit")
            debits = sum(r.amount for r in wallet.rows if r.kind == "debit")
            assert wallet.balance == start + credits - debits
        assert store.counts() == {
            "users": 3,
            "wallets": 3,
            "transactions": sum(len(w.rows) for w in model.values()),
            "tokens": 0,
        }
    finally:
        store.close()


# ---------------------------------------------------------------------- money at the edge


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**15), 10**15))
def test_money_text_round_trips_through_parse_cents(cents: int) -> None:
    text = money_text(cents)
    assert parse_cents(text) == cents
    assert Decimal(text) == Decimal(cents).scaleb(-2)
    assert len(text.partition(".")[2]) == 2


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12))
def test_parse_cents_reads_short_fractions(cents: int) -> None:
    whole, frac = divmod(cents, 100)
    assert parse_cents(f"{whole}.{frac:02d}") == cents
    if frac % 10 == 0:
        assert parse_cents(f"{whole}.{frac // 10}") == cents  # "12.3"
    if frac == 0:
        assert parse_cents(str(whole)) == cents  # "12"
        assert parse_cents(f"{whole}.") == cents  # "12."


@given(st.integers(0, 10**9), st.integers(0, 999))
def test_parse_cents_refuses_three_decimals(whole: int, frac: int) -> None:
    with pytest.raises(ValueError):
        parse_cents(f"{whole}.{frac:03d}")


@settings(max_examples=500, deadline=None)
@given(st.integers(1, round(MAX_AMOUNT * 100)))
def test_money_is_what_the_validator_reads_back(cents: int) -> None:
    """The API's number for ``cents``, through JSON and the amount validator, is ``cents``
    again: what the sandbox prints, a client can send back unchanged."""
    number = money(cents)
    assert isinstance(number, int) == (cents % 100 == 0)
    wire = json.dumps(number)
    assert not wire.endswith(".0")
    assert Decimal(wire) * 100 == cents
    check = Checker()
    assert check.amount("amount", json.loads(wire)) == cents
    assert check.errors == {}


@given(st.integers(0, 10**12))
def test_money_and_money_text_agree(cents: int) -> None:
    assert Decimal(repr(money(cents))) == Decimal(money_text(cents))
