"""The OpenAPI 3.1 document of the five endpoints, built from the response catalog.

Examples come from ``sandbox/responses.json`` (the same bodies the server renders),
so the document cannot drift from what the sandbox answers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import __version__, responses
from .api import ROUTES, Route, fields
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
            "status": {"type": "string", "const": status},
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

ERRORS = _obj(
    {
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    }
)
NULL = {"const": None}  # not {"type": "null"}: client generators handle const better
FAILURE_SCHEMAS: dict[str, dict[str, Any]] = {
    "validation": _envelope(ERRORS, "failed"),
    "not-found": _envelope(NULL, "failed"),
    "invalid-signature": _envelope(NULL, "error"),
    "server-error": _envelope(_obj({"error": {"type": "string"}}), "failed"),
    "insufficient-balance": _envelope(_obj({"balance": MONEY, "amount": MONEY}), "failed"),
    "duplicate-reference": _envelope(NULL, "failed"),
}

SECURITY_SCHEMES = {
    "signature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-signature",
        "description": "Lowercase hex HMAC-SHA256 of METHOD + PATH + TIMESTAMP + PAYLOAD under "
        "the partner's secret (PAYLOAD: the JSON.stringify form of the body, or the decoded "
        "query sorted by key).",
    },
    "timestamp": {
        "type": "apiKey",
        "in": "header",
        "name": "x-timestamp",
        "description": "Unix time in seconds (1 to 12 digits); accepted within 300 s of the "
        "sandbox's clock.",
    },
}
SCENARIO_HEADER = {
    "X-Sandbox-Scenario": {
        "description": "The scenario that decided this answer, or none.",
        "schema": {"type": "string"},
    }
}
SIGNATURE_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in (
        ("X-Sandbox-Signature-Reason", "Why the signature failed: missing-signature, ..."),
        ("X-Sandbox-Signature-Detail", "The reason in plain words."),
        ("X-Sandbox-String-To-Sign", "The StringToSign the sandbox built (escaped)."),
        ("X-Sandbox-Signature-Finding", "The doctor's code of the likely mistake."),
        ("X-Sandbox-Signature-Doctor", "The doctor's finding in plain words (escaped)."),
    )
}
WALLET_HEADERS = {
    "X-Sandbox-Duplicate-Reference": {
        "description": "true: the reference was used before by this user.",
        "schema": {"type": "string"},
    },
    "X-Sandbox-Replayed": {
        "description": "true: the original answer, replayed (policy replay).",
        "schema": {"type": "string"},
    },
}
BODIES = {
    "generate-auth-token": fields.TOKEN_BODY,
    "credit-balance": fields.WALLET_BODY,
    "debit-balance": fields.WALLET_BODY,
}
QUERIES = {"get-balance": fields.BALANCE_QUERY, "get-transactions": fields.TRANSACTIONS_QUERY}


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
        headers = dict(SCENARIO_HEADER)
        if status == 401:
            headers.update(SIGNATURE_HEADERS)
        if status == 200 and endpoint in ("credit-balance", "debit-balance"):
            headers.update(WALLET_HEADERS)
        entry = by_status.setdefault(
            str(status),
            {
                "description": "",
                "headers": headers,
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
    first, *rest = endpoint.split("-")
    operation: dict[str, Any] = {
        "operationId": first + "".join(word.capitalize() for word in rest),  # getBalance
        "summary": route.success.replace(" successfully", ""),
        "responses": by_status,
    }
    if endpoint in QUERIES:
        operation["parameters"] = fields.query_parameters(QUERIES[endpoint])
    if endpoint in BODIES:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": fields.body_schema(BODIES[endpoint])}},
        }
    return operation


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once): the route table and the request rules of
    ``sandbox.api``, the documented bodies of ``sandbox/responses.json``."""
    return {
        "openapi": "3.1.0",
        "servers": [
            {"url": "http://127.0.0.1:8080", "description": "sabong-sandbox on its defaults"}
        ],
        "security": [{"signature": [], "timestamp": []}],
        "components": {"securitySchemes": SECURITY_SCHEMES},
        "info": {
            "title": "Sabong wallet API v1 (sabong-sandbox)",
            "version": __version__,
            "license": {"name": "MIT", "identifier": "MIT"},
            "description": (
                "Every request is signed: x-signature = lowercase hex HMAC-SHA256 of "
                "METHOD + PATH + TIMESTAMP + PAYLOAD (POST: the JSON.stringify form of the body; "
                "GET: the decoded query sorted by key). The sandbox's default secret is "
                "sandbox-secret."
            ),
        },
        "paths": {route.path: {route.method.lower(): _operation(route)} for route in ROUTES},
    }
