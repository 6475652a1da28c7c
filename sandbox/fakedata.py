"""Deterministic seed data: ``fixtures/users.json`` and ``fixtures/transactions.json``.

Everything comes from one integer seed: a ``Faker("en_US")`` seeded with ``seed_instance`` for
names, usernames and IP addresses, and one ``random.Random(seed)`` for everything else (never the
global ``random``, never the clock). Same seed, same bytes, on every machine.

Money is integer cents inside and a 2-decimal string in the JSON (``150050`` -> ``"1500.50"``).
Every user's wallet balance is exactly its credits minus its debits, and the running balance of
each history, in chronological order, never goes below zero.

The documented example user is fixed: ``CLIENT_001``, user 123, wallet 789, balance ``1500.50``,
wallet ``updatedAt`` ``2026-02-01T14:30:00.000Z``, with a history of exactly 150 transactions
ending at that instant. Regenerate the committed files with::

    python -m sandbox.fakedata fixtures
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faker import Faker

DEFAULT_SEED = 20260201

# The instant every timestamp is at or before: the example wallet's ``updatedAt``.
NOW = datetime(2026, 2, 1, 14, 30, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

EXAMPLE_CLIENT_ID = "CLIENT_001"
EXAMPLE_USER_ID = 123
EXAMPLE_WALLET_ID = 789
EXAMPLE_BALANCE_CENTS = 150050
EXAMPLE_TRANSACTIONS = 150
EXAMPLE_HISTORY_DAYS = 183

GENERATED_USERS = 20
FIRST_USER_ID = 1001
FIRST_WALLET_ID = 2001
FIRST_TRANSACTION_ID = 10001
MAX_TRANSACTIONS = 60
IPV6_USERS = 3

MIN_AMOUNT = 100  # 1.00
MAX_AMOUNT = 500000  # 5000.00
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

STAKES = (100, 200, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000)
DEPOSITS = (1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000, 100000, 200000)
SIDES = ("Meron", "Wala")
DEPOSIT_CHANNELS = (
    "GCash",
    "GCash",
    "Maya",
    "bank transfer (BDO)",
    "bank transfer (BPI)",
    "7-Eleven CLIQQ",
)
WITHDRAWAL_CHANNELS = ("GCash", "GCash", "Maya", "BDO account", "BPI account", "UnionBank account")
ARENAS = (
    "Araneta Coliseum",
    "Pasay City Cockpit",
    "Cebu Coliseum",
    "Bacolod Cockpit Arena",
    "Davao Sabungan",
    "Iloilo Gamefarm Derby",
)

# Kinds of movement with their relative weights, for credits and for debits.
CREDIT_KINDS = (("deposit", 30), ("win", 42), ("refund", 5), ("bonus", 4))
DEBIT_KINDS = (("bet", 80), ("withdrawal", 14))


@dataclass
class _Movement:
    """One transaction before ids and references are known."""

    wallet_id: int
    kind: str
    type: str
    cents: int
    description: str | None
    has_reference: bool
    at_ms: int = 0


def money_text(cents: int) -> str:
    """Integer cents as a 2-decimal string (``150050`` -> ``"1500.50"``)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC)."""
    moment = EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


NOW_MS = _ms(NOW)
DAY_MS = 86_400_000


# ---------------------------------------------------------------------------------- amounts


def _pick(rng: random.Random, kinds: tuple[tuple[str, int], ...]) -> str:
    names = [name for name, _ in kinds]
    weights = [weight for _, weight in kinds]
    return rng.choices(names, weights=weights)[0]


def _fight(rng: random.Random) -> str:
    return f"Fight #{rng.randint(1, 2400)}"


def _credit(rng: random.Random, kind: str) -> tuple[int, str]:
    """A credit of ``kind``: amount in cents and a description."""
    if kind == "deposit":
        cents = rng.choice(DEPOSITS) if rng.random() < 0.75 else rng.randint(1000, 300000)
        return cents, f"Deposit via {rng.choice(DEPOSIT_CHANNELS)}"
    if kind == "win":
        stake = rng.choice(STAKES) if rng.random() < 0.8 else rng.randint(100, 50000)
        payout = stake * rng.randint(170, 195) // 100  # odds 1.70 .. 1.95
        side = rng.choice(SIDES)
        return min(payout, MAX_AMOUNT), f"Bet won - {_fight(rng)} ({side})"
    if kind == "refund":
        stake = rng.choice(STAKES)
        reason = rng.choice(("draw", "cancelled", "no contest"))
        return stake, f"Bet refund - {_fight(rng)} {reason}"
    cents = rng.choice((500, 1000, 2000, 5000)) if rng.random() < 0.6 else rng.randint(100, 5000)
    label = rng.choice(("Weekly cashback", "Loyalty bonus", f"Derby promo - {rng.choice(ARENAS)}"))
    return cents, label


def _debit(rng: random.Random, kind: str, balance: int) -> tuple[int, str]:
    """A debit of ``kind`` no larger than ``balance`` (which is at least ``MIN_AMOUNT``)."""
    if kind == "withdrawal" and balance >= 1000:
        cents = rng.randint(1000, min(balance, MAX_AMOUNT))
        if rng.random() < 0.7:  # people mostly withdraw round sums
            cents -= cents % (10000 if cents >= 10000 else 100)
        return cents, f"Withdrawal to {rng.choice(WITHDRAWAL_CHANNELS)}"
    affordable = [stake for stake in STAKES if stake <= balance]
    if rng.random() < 0.8:
        cents = rng.choice(affordable)
    else:
        cents = rng.randint(MIN_AMOUNT, min(balance, 50000))
    return cents, f"Bet placed - {_fight(rng)} ({rng.choice(SIDES)})"


def _describe(rng: random.Random, description: str) -> tuple[str | None, bool]:
    """Drop some descriptions and some references, as real ledgers do."""
    kept = description if rng.random() >= 0.08 else None
    return kept, rng.random() >= 0.1


def _walk(
    rng: random.Random,
    wallet_id: int,
    count: int,
    target: int | None = None,
) -> list[_Movement]:
    """``count`` movements whose running balance never goes negative.

    With a ``target`` the walk is steered toward it and the last movement lands on it exactly;
    a walk whose closing amount would fall outside ``MIN_AMOUNT..MAX_AMOUNT`` is drawn again.
    """
    while True:
        moves: list[_Movement] = []
        balance = 0
        free = count - 1 if target is not None else count
        for _ in range(free):
            p_debit = 0.4
            if target is not None and balance > target + 200000:
                p_debit = 0.7
            if balance >= MIN_AMOUNT and rng.random() < p_debit:
                kind = _pick(rng, DEBIT_KINDS)
                cents, text = _debit(rng, kind, balance)
                balance -= cents
                kind_type = "debit"
            else:
                kind = "deposit" if balance < MIN_AMOUNT else _pick(rng, CREDIT_KINDS)
                cents, text = _credit(rng, kind)
                balance += cents
                kind_type = "credit"
            description, has_reference = _describe(rng, text)
            moves.append(_Movement(wallet_id, kind, kind_type, cents, description, has_reference))
        if target is None:
            return moves
        gap = target - balance
        if not MIN_AMOUNT <= abs(gap) <= MAX_AMOUNT:
            continue
        if gap > 0:
            kind = "win" if gap <= 100000 else "deposit"
            text = (
                f"Bet won - {_fight(rng)} ({rng.choice(SIDES)})"
                if kind == "win"
                else f"Deposit via {rng.choice(DEPOSIT_CHANNELS)}"
            )
            last = _Movement(wallet_id, kind, "credit", gap, text, True)
        else:
            kind = "bet" if -gap <= 50000 else "withdrawal"
            text = (
                f"Bet placed - {_fight(rng)} ({rng.choice(SIDES)})"
                if kind == "bet"
                else f"Withdrawal to {rng.choice(WITHDRAWAL_CHANNELS)}"
            )
            last = _Movement(wallet_id, kind, "debit", -gap, text, True)
        moves.append(last)
        return moves


def _stamp(rng: random.Random, moves: list[_Movement], start_ms: int, end_ms: int) -> None:
    """Strictly increasing times in ``[start_ms, end_ms)``; ``end_ms`` itself is not used."""
    for move, at_ms in zip(
        moves, sorted(rng.sample(range(start_ms, end_ms), len(moves))), strict=True
    ):
        move.at_ms = at_ms


# ---------------------------------------------------------------------------------- users


def _whole_second(rng: random.Random, start_ms: int, end_ms: int) -> int:
    """A whole-second instant in ``[start_ms, end_ms)`` (user creation times have ``.000``)."""
    return rng.randrange(start_ms // 1000 + 1, end_ms // 1000) * 1000


def _unique(make: Callable[[], str], taken: set[str]) -> str:
    value = make()
    while value in taken:
        value = make()
    taken.add(value)
    return value


def _reference(rng: random.Random, at_ms: int, taken: set[str]) -> str:
    """A fresh ``TXN-YYYYMMDD-XXXXXXXX`` reference, unique among ``taken``."""
    day = iso_ms(at_ms)[:10].replace("-", "")
    return _unique(lambda: f"TXN-{day}-" + "".join(rng.choices(REFERENCE_ALPHABET, k=8)), taken)


def _user(
    user_id: int,
    client_id: str,
    username: str,
    display_name: str,
    ip: str,
    created_ms: int,
    wallet_id: int,
    moves: list[_Movement],
) -> dict[str, Any]:
    balance = sum(m.cents if m.type == "credit" else -m.cents for m in moves)
    return {
        "id": user_id,
        "clientId": client_id,
        "username": username,
        "displayName": display_name,
        "ipAddress": ip,
        "createdAt": iso_ms(created_ms),
        "wallet": {
            "id": wallet_id,
            "balance": money_text(balance),
            "updatedAt": iso_ms(moves[-1].at_ms) if moves else None,
        },
    }


def generate(seed: int = DEFAULT_SEED) -> dict[str, dict[str, Any]]:
    """The fixture documents, by file name: ``users.json`` and ``transactions.json``."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    usernames: set[str] = set()
    users: list[dict[str, Any]] = []
    movements: list[_Movement] = []

    # The documented example: 150 movements over ~6 months, the last exactly at NOW.
    moves = _walk(rng, EXAMPLE_WALLET_ID, EXAMPLE_TRANSACTIONS, EXAMPLE_BALANCE_CENTS)
    history_start = NOW_MS - EXAMPLE_HISTORY_DAYS * DAY_MS
    _stamp(rng, moves[:-1], history_start, NOW_MS)
    moves[-1].at_ms = NOW_MS
    created = _whole_second(rng, _ms(datetime(2025, 3, 1, tzinfo=UTC)), history_start)
    users.append(
        _user(
            EXAMPLE_USER_ID,
            EXAMPLE_CLIENT_ID,
            _unique(fake.user_name, usernames),
            fake.name(),
            fake.ipv4_public(),
            created,
            EXAMPLE_WALLET_ID,
            moves,
        )
    )
    movements.extend(moves)

    # The generated users: CLIENT_002 .. CLIENT_021.
    ipv6 = set(rng.sample(range(GENERATED_USERS), IPV6_USERS))
    empty = rng.randrange(GENERATED_USERS)
    year_start = _ms(datetime(2025, 1, 6, tzinfo=UTC))
    year_end = _ms(datetime(2025, 12, 20, tzinfo=UTC))
    for index in range(GENERATED_USERS):
        user_id = FIRST_USER_ID + index
        wallet_id = FIRST_WALLET_ID + index
        client_id = f"CLIENT_{index + 2:03d}"
        username = _unique(fake.user_name, usernames)
        display_name = fake.name()
        ip = fake.ipv6() if index in ipv6 else fake.ipv4_public()
        created = _whole_second(rng, year_start, year_end)
        count = 0 if index == empty else rng.randint(0, MAX_TRANSACTIONS)
        moves = _walk(rng, wallet_id, count)
        # Activity starts a little after sign-up and ends before NOW (strictly).
        first_ms = created + rng.randint(5, 72 * 60) * 60_000
        last_ms = NOW_MS - rng.randint(1, 20 * 24 * 60) * 60_000
        if count:
            _stamp(rng, moves, first_ms, last_ms)
        users.append(
            _user(user_id, client_id, username, display_name, ip, created, wallet_id, moves)
        )
        movements.extend(moves)

    # Ids in global chronological order; references drawn in that same order, all unique.
    movements.sort(key=lambda m: (m.at_ms, m.wallet_id))
    references: set[str] = set()
    transactions: list[dict[str, Any]] = []
    for number, move in enumerate(movements, start=FIRST_TRANSACTION_ID):
        reference = _reference(rng, move.at_ms, references) if move.has_reference else None
        transactions.append(
            {
                "id": number,
                "walletId": move.wallet_id,
                "amount": money_text(move.cents),
                "type": move.type,
                "reference": reference,
                "description": move.description,
                "createdAt": iso_ms(move.at_ms),
            }
        )
    return {
        "users.json": {"seed": seed, "users": users},
        "transactions.json": {"seed": seed, "transactions": transactions},
    }


def write(directory: str | Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the fixture files into ``directory`` (created if missing); returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, doc in generate(seed).items():
        path = directory / name
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m sandbox.fakedata [DIRECTORY] [SEED]``: regenerate the fixture files."""
    args = sys.argv[1:] if argv is None else argv
    directory = args[0] if args else "fixtures"
    seed = int(args[1]) if len(args) > 1 else DEFAULT_SEED
    for path in write(directory, seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
