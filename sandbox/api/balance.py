"""GET /api/v1/get-balance (SPEC A4)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..errors import UserNotFound
from ..pipeline import Call, endpoint
from ..store import money
from ..validation import Checker

bp = Blueprint("balance", __name__)


@bp.get("/api/v1/get-balance")
@endpoint("get-balance")
def get_balance(call: Call) -> dict[str, Any]:
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
