"""GET /api/v1/get-transactions (SPEC A6, B11)."""

from __future__ import annotations

import math
from typing import Any

from ..dates import parse_bound
from ..errors import UserNotFound
from ..store import SORT_COLUMNS, money_text
from ..validation import Checker
from .exchange import Exchange

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_PAGE = 1_000_000_000  # beyond it the offset leaves SQLite's integers: a 400, not a clamp


def get_transactions(call: Exchange) -> dict[str, Any]:
    params = call.params
    check = Checker()
    client_id = params.get("clientId")
    check.required("clientId", client_id)
    limit = check.integer("limit", params.get("limit"), minimum=1, maximum=MAX_LIMIT)
    page = check.integer("page", params.get("page"), minimum=1, maximum=MAX_PAGE)
    kind = check.choice("type", params.get("type"), ("credit", "debit"))
    sort_by = check.choice("sortBy", params.get("sortBy"), tuple(SORT_COLUMNS))
    sort_order = check.choice("sortOrder", params.get("sortOrder"), ("asc", "desc"))
    bounds: dict[str, str] = {}
    for name, end in (("dateFrom", False), ("dateTo", True)):
        text = params.get(name)
        if text:
            bound = parse_bound(text, end=end)
            if bound is None:
                check.add(name, f"The {name} is not a valid date.")
            else:
                bounds[name] = bound
    if "dateFrom" in bounds and "dateTo" in bounds and bounds["dateFrom"] > bounds["dateTo"]:
        check.add("dateTo", "The dateTo must be a date after or equal to dateFrom.")
    check.done()
    assert client_id is not None
    limit = limit or DEFAULT_LIMIT
    page = page or 1
    sort_by = sort_by or "createdAt"
    sort_order = sort_order or "desc"

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
