"""GET /api/v1/get-balance (SPEC A4)."""

from __future__ import annotations

from typing import Any

from ..errors import UserNotFound
from ..store import money
from ..validation import Checker
from .exchange import Exchange


def get_balance(call: Exchange) -> dict[str, Any]:
    client_id = call.params.get("clientId")
    check = Checker()
    check.required("clientId", client_id)
    check.done()
    assert client_id is not None
    wallet = call.tenant.store.balance(client_id)
    if wallet is None:
        raise UserNotFound()
    return {
        "userId": wallet.user_id,
        "clientId": wallet.client_id,
        "balance": money(wallet.cents),
        "updatedAt": wallet.updated_at,
    }
