"""The OpenAPI 3.1 document of the five endpoints, built from the response catalog.

Examples come from ``sandbox/responses.json`` (the same bodies the server renders),
so the document cannot drift from what the sandbox answers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import __version__, responses
from .api import ROUTES, Route
from .store import SORT_COLUMNS

MONEY = {"type": "number", "examples": [1500.5]}
ISO = {"type": "string", "format": "date-time", "examples": ["2026-02-01T14:30:00.000Z"]}
NULLABLE_ISO = {"type": ["string", "null"], "format": "date-time"}


def _envelope(data: dict[str, Any], status: str = "success") -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "message", "data"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": status},
            "message": {"type": "string"},
            "data": data,
        },
    }


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required if required is not None else list(props),
        "additionalProperties": False,
        "properties": props,
    }


USER = _obj(
    {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "displayId": {"type": "string"},
        "displayName": {"type": "string"},
    }
)
APPLIED = _obj(
    {
        "userId": {"type": "integer"},
        "clientId": {"type": "string"},
        "amount": MONEY,
        "type": {"enum": ["credit", "debit"]},
        "transactionId": {"type": "integer"},
        "balance": MONEY,
    }
)
SUCCESS_DATA: dict[str, dict[str, Any]] = {
    "generate-auth-token": _obj(
        {
            "token": {"type": "string", "pattern": "^[A-Za-z0-9]{64}$"},
            "expiration": ISO,
            "expiresIn": {"type": "integer"},
            "loginLink": {"type": "string"},
            "user": USER,
            "isNewUser": {"type": "boolean"},
        }
    ),
    "get-balance": _obj(
        {
            "userId": {"type": "integer"},
            "clientId": {"type": "string"},
            "balance": MONEY,
            "updatedAt": NULLABLE_ISO,
        }
    ),
    "credit-balance": APPLIED,
    "debit-balance": APPLIED,
    "get-transactions": _obj(
        {
            "clientId": {"type": "string"},
            "totalCount": {"type": "integer", "minimum": 0},
            "resultCount": {"type": "integer", "minimum": 0},
            "totalPages": {"type": "integer", "minimum": 0},
            "currentPage": {"type": "integer", "minimum": 1},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "filters": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["credit", "debit"]},
                    "dateFrom": {"type": "string"},
                    "dateTo": {"type": "string"},
                },
            },
            "sort": _obj(
                {
                    "sortBy": {"enum": list(SORT_COLUMNS)},
                    "sortOrder": {"enum": ["asc", "desc"]},
                }
            ),
            "data": {
                "type": "array",
                "items": _obj(
                    {
                        "id": {"type": "integer"},
                        "walletId": {"type": "integer"},
                        "amount": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$"},
                        "currency": {"const": "USD"},
                        "type": {"enum": ["credit", "debit"]},
                        "referenceId": {"type": ["string", "null"]},
                        "description": {"type": ["string", "null"]},
                        "createdAt": ISO,
                    }
                ),
            },
        }
    ),
}
SUCCESS_EXAMPLES: dict[str, Any] = {
    "generate-auth-token": {
        "token": "k" * 64,
        "expiration": "2026-02-01T14:32:00.000Z",
        "expiresIn": 120,
        "loginLink": "http://127.0.0.1:8080/login/" + "k" * 64,
        "user": {"id": 123, "username": "player1", "displayId": "CLIENT_001", "displayName": "P1"},
        "isNewUser": False,
    },
    "get-balance": {
        "userId": 123,
        "clientId": "CLIENT_001",
        "balance": 1500.5,
        "updatedAt": "2026-02-01T14:30:00.000Z",
    },
    "credit-balance": {
        "userId": 123,
        "clientId": "CLIENT_001",
        "amount": 100,
        "type": "credit",
        "transactionId": 10717,
        "balance": 1600.5,
    },
    "debit-balance": {
        "userId": 123,
        "clientId": "CLIENT_001",
        "amount": 100,
        "type": "debit",
        "transactionId": 10717,
        "balance": 1400.5,
    },
    "get-transactions": {
        "clientId": "CLIENT_001",
        "totalCount": 150,
        "resultCount": 1,
        "totalPages": 150,
        "currentPage": 1,
        "limit": 1,
        "filters": {"type": "credit"},
        "sort": {"sortBy": "createdAt", "sortOrder": "desc"},
        "data": [
            {
                "id": 10716,
                "walletId": 789,
                "amount": "100.50",
                "currency": "USD",
                "type": "credit",
                "referenceId": "TXN-20260201-ABCDEFGH",
                "description": "Deposit",
                "createdAt": "2026-02-01T14:30:00.000Z",
            }
        ],
    },
}

ERRORS = _obj({"errors": {"type": "object", "additionalProperties": {"type": "array"}}})
FAILURE_SCHEMAS: dict[str, dict[str, Any]] = {
    "validation": _envelope(ERRORS, "failed"),
    "not-found": _envelope({"type": "null"}, "failed"),
    "invalid-signature": _envelope({"type": "null"}, "error"),
    "server-error": _envelope(_obj({"error": {"type": "string"}}), "failed"),
    "insufficient-balance": _envelope(_obj({"balance": MONEY, "amount": MONEY}), "failed"),
    "duplicate-reference": _envelope({"type": "null"}, "failed"),
}

SIGNATURE_HEADERS = [
    {
        "name": "x-signature",
        "in": "header",
        "required": True,
        "description": "Lowercase hex HMAC-SHA256 of METHOD + PATH + TIMESTAMP + PAYLOAD.",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
    {
        "name": "x-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix time in seconds; accepted within 300 s of the server's clock.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    },
]

REQUEST_BODIES: dict[str, dict[str, Any]] = {
    "generate-auth-token": _obj(
        {
            "clientId": {"type": "string", "maxLength": 255},
            "username": {"type": "string", "maxLength": 100},
            "displayName": {"type": "string", "maxLength": 100},
            "ipAddress": {"type": "string", "maxLength": 45},
            "expiration": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 2},
        },
        ["clientId", "username", "displayName", "ipAddress"],
    ),
    "credit-balance": _obj(
        {
            "clientId": {"type": "string", "minLength": 1},
            "amount": {"type": "number", "minimum": 0.01, "maximum": 999999999.99},
            "description": {"type": "string", "maxLength": 500},
            "reference": {"type": "string", "maxLength": 255},
        },
        ["clientId", "amount"],
    ),
}
REQUEST_BODIES["debit-balance"] = REQUEST_BODIES["credit-balance"]

QUERY_PARAMS: dict[str, list[dict[str, Any]]] = {
    "get-balance": [
        {"name": "clientId", "in": "query", "required": True, "schema": {"type": "string"}}
    ],
    "get-transactions": [
        {"name": "clientId", "in": "query", "required": True, "schema": {"type": "string"}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        },
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "type", "in": "query", "schema": {"enum": ["credit", "debit"]}},
        {
            "name": "sortBy",
            "in": "query",
            "schema": {"enum": list(SORT_COLUMNS), "default": "createdAt"},
        },
        {
            "name": "sortOrder",
            "in": "query",
            "schema": {"enum": ["asc", "desc"], "default": "desc"},
        },
        {"name": "dateFrom", "in": "query", "schema": {"type": "string"}},
        {"name": "dateTo", "in": "query", "schema": {"type": "string"}},
    ],
}


def _render(kind: str, route: Route, **values: Any) -> tuple[int, Any]:
    return responses.render(kind, success=route.success, failure=route.failure, **values)


def _example(kind: str, route: Route) -> Any:
    values = {"errors": route.example_errors, "balance": 0, "amount": 100.5}
    return _render(kind, route, **values)[1]


def _operation(route: Route) -> dict[str, Any]:
    endpoint = route.name
    success_status, success_body = _render("success", route, data=SUCCESS_EXAMPLES[endpoint])
    by_status: dict[str, dict[str, Any]] = {}

    def add(status: int, kind: str, schema: dict[str, Any], example: Any) -> None:
        entry = by_status.setdefault(
            str(status),
            {
                "description": "",
                "content": {"application/json": {"schema": {"oneOf": []}, "examples": {}}},
            },
        )
        content = entry["content"]["application/json"]
        content["schema"]["oneOf"].append(schema)
        content["examples"][kind] = {"value": example}
        entry["description"] = ", ".join(filter(None, [entry["description"], kind]))

    add(success_status, "success", _envelope(SUCCESS_DATA[endpoint]), success_body)
    for kind in ["invalid-signature", *route.failures]:
        status, _ = _render(kind, route, errors={}, balance=0, amount=0)
        add(status, kind, FAILURE_SCHEMAS[kind], _example(kind, route))
    for entry in by_status.values():
        schemas = entry["content"]["application/json"]["schema"]["oneOf"]
        if len(schemas) == 1:
            entry["content"]["application/json"]["schema"] = schemas[0]
    operation: dict[str, Any] = {
        "operationId": endpoint.replace("-", "_"),
        "summary": route.success.replace(" successfully", ""),
        "parameters": [*SIGNATURE_HEADERS, *QUERY_PARAMS.get(endpoint, [])],
        "responses": by_status,
    }
    if endpoint in REQUEST_BODIES:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": REQUEST_BODIES[endpoint]}},
        }
    return operation


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sabong wallet API v1 (sabong-sandbox)",
            "version": __version__,
            "description": (
                "Every request is signed: x-signature = lowercase hex HMAC-SHA256 of "
                "METHOD + PATH + TIMESTAMP + PAYLOAD (POST: the JSON.stringify form of the body; "
                "GET: the decoded query sorted by key). The sandbox's default secret is "
                "sandbox-secret."
            ),
        },
        "paths": {route.path: {route.method.lower(): _operation(route)} for route in ROUTES},
    }
