"""GET /api/v1/get-balance (SPEC A4)."""

from __future__ import annotations

from typing import Any

from ..errors import UserNotFound
from ..store import money
from .exchange import Exchange
from .fields import BALANCE_QUERY, validate


def get_balance(call: Exchange) -> dict[str, Any]:
    client_id: str = validate(BALANCE_QUERY, call.params, query=True)["clientId"]
    wallet = call.tenant.store.balance(client_id)
    if wallet is None:
        raise UserNotFound()
    return {
        "userId": wallet.user_id,
        "clientId": wallet.client_id,
        "balance": money(wallet.cents),
        "updatedAt": wallet.updated_at,
    }
