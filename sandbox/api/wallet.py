"""POST /api/v1/credit-balance and /api/v1/debit-balance (SPEC A5, B10)."""

from __future__ import annotations

from typing import Any

from .. import store
from ..dates import iso_ms
from ..errors import DuplicateReference, InsufficientBalance, UserNotFound, ValidationFailed
from ..store import money
from .exchange import Exchange
from .fields import WALLET_BODY, validate


def _apply(call: Exchange, kind: str) -> dict[str, Any]:
    values = validate(WALLET_BODY, call.json_object(), query=False)
    client_id: str = values["clientId"]
    cents: int = values["amount"]
    description, reference = values["description"], values["reference"]
    call.operation = (kind, cents, reference)
    tenant = call.tenant
    try:
        applied = tenant.store.apply(
            client_id,
            kind,
            cents,
            reference=reference,
            description=description,
            now=iso_ms(tenant.clock.now()),
            duplicates=call.sandbox.config.duplicate_reference,
        )
    except store.UnknownClient:
        raise UserNotFound() from None
    except store.InsufficientFunds as exc:
        if exc.duplicate:
            call.flags = ["duplicate-reference"]
        raise InsufficientBalance(money(exc.balance_cents), money(exc.amount_cents)) from None
    except store.DuplicateReference:
        call.flags = ["duplicate-reference"]
        raise DuplicateReference() from None
    except store.BalanceCap as exc:
        cap = store.money_text(store.MAX_BALANCE_CENTS)
        room = store.money_text(max(0, exc.room_cents))
        message = f"The amount may not be greater than {room} (a balance may not exceed {cap})."
        raise ValidationFailed({"amount": [message]}) from None
    call.applied = not applied.replayed
    if applied.duplicate:
        call.headers["X-Sandbox-Duplicate-Reference"] = "true"
        call.flags = ["duplicate-reference"]
    if applied.replayed:
        call.headers["X-Sandbox-Replayed"] = "true"
        call.message = f"Balance {applied.kind}ed successfully"
    return {
        "userId": applied.user_id,
        "clientId": applied.client_id,
        "amount": money(applied.amount_cents),
        "type": applied.kind,
        "transactionId": applied.transaction_id,
        "balance": money(applied.balance_cents),
    }


def credit_balance(call: Exchange) -> dict[str, Any]:
    return _apply(call, "credit")


def debit_balance(call: Exchange) -> dict[str, Any]:
    return _apply(call, "debit")
