"""The OpenAPI 3.1 document of the five endpoints, built from the response catalog.

Examples come from ``sandbox/responses.json`` (the same bodies the server renders),
so the document cannot drift from what the sandbox answers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import __version__, limits, responses
from .api import ROUTES, Route, fields
from .errors import HTTP_MESSAGES, envelope
from .store import SORT_COLUMNS

MONEY = {"type": "number", "examples": [1500.5]}
ISO = {"type": "string", "format": "date-time", "examples": ["2026-02-01T14:30:00.000Z"]}
NULLABLE_ISO = {"type": ["string", "null"], "format": "date-time"}


def _envelope(title: str, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The envelope schema of the documented ``body``, titled.

    Its status and message are fixed strings (SPEC A1), so each is a ``const``; that also keeps
    the two 400s of debit-balance apart (validation, insufficient balance) for tools that check
    that a ``oneOf`` is exclusive. The title names the response in rendered docs and the model
    in generated clients (openapi-python-client: ``DebitBalanceInsufficientBalance``, not
    ``DebitBalanceResponse400Type1``)."""
    return {
        "title": title,
        "type": "object",
        "required": ["status", "message", "data"],
        "additionalProperties": False,
        "properties": {
            "status": {"type": "string", "const": body["status"]},
            "message": {"type": "string", "const": body["message"]},
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
        "type": {"type": "string", "enum": ["credit", "debit"]},
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
                    "type": {"type": "string", "enum": ["credit", "debit"]},
                    "dateFrom": {"type": "string"},
                    "dateTo": {"type": "string"},
                },
            },
            "sort": _obj(
                {
                    "sortBy": {"type": "string", "enum": list(SORT_COLUMNS)},
                    "sortOrder": {"type": "string", "enum": ["asc", "desc"]},
                }
            ),
            "data": {
                "type": "array",
                "items": _obj(
                    {
                        "id": {"type": "integer"},
                        "walletId": {"type": "integer"},
                        "amount": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$"},
                        "currency": {"type": "string", "const": "USD"},
                        "type": {"type": "string", "enum": ["credit", "debit"]},
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
# Both keywords: with the const alone, openapi-typescript types the field ``unknown`` and
# openapi-python-client ``Any``; with the type they say ``null`` and ``None``.
NULL = {"type": "null", "const": None}
FAILURE_DATA: dict[str, dict[str, Any]] = {
    "validation": ERRORS,
    "not-found": NULL,
    "invalid-signature": NULL,
    "server-error": _obj({"error": {"type": "string"}}),
    "insufficient-balance": _obj({"balance": MONEY, "amount": MONEY}),
    "duplicate-reference": NULL,
}

# A request over a size limit is refused first, in the envelope (SPEC B13); the document
# allows such requests (unknown body fields and query parameters are allowed, and JSON Schema
# cannot bound a whole body's size), so it lists these answers too. (kind, methods) by status.
LIMITS: dict[int, tuple[str, tuple[str, ...]]] = {
    413: (f"body-over-{limits.MAX_BODY_BYTES // 1024}-KiB", ("POST",)),
    414: (f"query-over-{limits.MAX_QUERY_BYTES // 1024}-KiB", ("GET", "POST")),
    431: (f"headers-over-{limits.MAX_HEADER_BYTES // 1024}-KiB", ("GET", "POST")),
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
        (
            "X-Sandbox-String-To-Sign-Base64",
            "Its exact bytes in base64 (first 2,048), when the escaped form escaped anything.",
        ),
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
# Tags group the operations in rendered docs and in generated clients (openapi-python-client
# puts each tag's operations in a module of its own).
TAGS = [
    {
        "name": "Login",
        "description": "Log an end user in: the user and its wallet are created on first "
        "use, and a time-limited login link is returned.",
    },
    {"name": "Wallet", "description": "A user's balance, and the credits and debits on it."},
    {"name": "Transactions", "description": "A user's transaction history."},
]
DUPLICATES = (
    "A `reference` the same user sent before is a new transaction by default; a sandbox "
    "started with `--duplicate-reference reject` answers 409 `Duplicate reference`, one "
    "started with `replay` answers the original response again (`X-Sandbox-Replayed: true`)."
)
# (tag, summary, description) of each endpoint (SPEC A3-A6, B9-B11).
OPERATION_TEXT: dict[str, tuple[str, str, str]] = {
    "generate-auth-token": (
        "Login",
        "Generate a login token",
        "Creates a time-limited login token for an end user. An unknown `clientId` creates "
        "the user with a new wallet (balance 0, `isNewUser: true`); a known one has its "
        "`username`, `displayName` and `ipAddress` updated (`isNewUser: false`). The token is "
        "reusable until `expiration`; `expiresIn` is the lifetime in seconds and `loginLink` "
        "is `<login base>/login/<token>`.",
    ),
    "get-balance": (
        "Wallet",
        "Get the balance",
        "The current balance of the user's wallet; `updatedAt` is `null` while the wallet "
        "never changed. An unknown `clientId` is a 404.",
    ),
    "credit-balance": (
        "Wallet",
        "Credit the balance",
        "Adds `amount` to the balance and records one credit transaction, atomically. An "
        "unknown `clientId` is a 404 (only generate-auth-token creates users). " + DUPLICATES,
    ),
    "debit-balance": (
        "Wallet",
        "Debit the balance",
        "Subtracts `amount` from the balance and records one debit transaction, atomically. "
        "A debit beyond the balance is a 400 `Insufficient balance` naming the current "
        "balance and the amount asked: the balance never goes negative. An unknown "
        "`clientId` is a 404. " + DUPLICATES,
    ),
    "get-transactions": (
        "Transactions",
        "List the transactions",
        "The user's transactions, `limit` a page, sorted by `sortBy` then `id` in "
        "`sortOrder`. `filters` holds exactly the filters given; `totalPages` is 0 when "
        "there is none, and a page past the end has an empty `data`. `dateFrom` and "
        "`dateTo` are inclusive; a date alone is the whole UTC day. An item's `amount` is a "
        "string with two decimals.",
    ),
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

    success = _envelope("Success", SUCCESS_DATA[endpoint], success_body)
    add(success_status, "success", success, success_body)
    for kind in ["invalid-signature", *route.failures]:
        status, body = _render(kind, route, errors={}, balance=0, amount=0)
        title = kind.replace("-", " ").capitalize()
        add(status, kind, _envelope(title, FAILURE_DATA[kind], body), _example(kind, route))
    for status, (kind, methods) in LIMITS.items():
        if route.method in methods:
            body = envelope("failed", HTTP_MESSAGES[status], None)
            add(status, kind, _envelope(HTTP_MESSAGES[status], NULL, body), body)
    for entry in by_status.values():
        schemas = entry["content"]["application/json"]["schema"]["oneOf"]
        if len(schemas) == 1:
            entry["content"]["application/json"]["schema"] = schemas[0]
    first, *rest = endpoint.split("-")
    tag, summary, description = OPERATION_TEXT[endpoint]
    operation: dict[str, Any] = {
        "operationId": first + "".join(word.capitalize() for word in rest),  # getBalance
        "tags": [tag],
        "summary": summary,
        "description": description,
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
        "tags": TAGS,
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
