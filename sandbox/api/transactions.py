"""GET /api/v1/get-transactions (SPEC A6, B11)."""

from __future__ import annotations

import math
from typing import Any

from ..dates import parse_bound
from ..errors import UserNotFound
from ..store import money_text
from .exchange import Exchange
from .fields import TRANSACTIONS_QUERY, validate


def get_transactions(call: Exchange) -> dict[str, Any]:
    params = call.params
    values = validate(TRANSACTIONS_QUERY, params, query=True)
    client_id: str = values["clientId"]
    limit: int = values["limit"]
    page: int = values["page"]
    kind: str | None = values["type"]
    sort_by: str = values["sortBy"]
    sort_order: str = values["sortOrder"]
    bounds = {
        name: parse_bound(values[name], end=name == "dateTo")
        for name in ("dateFrom", "dateTo")
        if values[name]
    }

    wallet = call.tenant.store.balance(client_id)
    if wallet is None:
        raise UserNotFound()
    result = call.tenant.store.transactions(
        wallet.wallet_id,
        kind=kind,
        date_from=bounds.get("dateFrom"),
        date_to=bounds.get("dateTo"),
        sort_by=sort_by,
        descending=sort_order == "desc",
        limit=limit,
        offset=(page - 1) * limit,
    )
    filters: dict[str, str] = {}
    if kind is not None:
        filters["type"] = kind
    for name in ("dateFrom", "dateTo"):
        if name in bounds:
            filters[name] = params[name]
    return {
        "clientId": client_id,
        "totalCount": result.total,
        "resultCount": len(result.rows),
        "totalPages": math.ceil(result.total / limit),
        "currentPage": page,
        "limit": limit,
        "filters": filters,
        "sort": {"sortBy": sort_by, "sortOrder": sort_order},
        "data": [
            {
                "id": id_,
                "walletId": wallet_id,
                "amount": money_text(cents),
                "currency": currency,
                "type": type_,
                "referenceId": reference,
                "description": description,
                "createdAt": created_at,
            }
            for id_, wallet_id, cents, currency, type_, reference, description, created_at in (
                result.rows
            )
        ],
    }
