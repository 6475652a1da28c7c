"""One exception tree for every documented failure, and one renderer into the envelope (SPEC A1).

Handlers raise; ``render`` turns any ``ApiError`` into a status code, the exact documented body
and the ``X-Sandbox-*`` headers. Nothing else in the sandbox builds an error body, and nothing
ever puts a stack trace in a response.
"""

from __future__ import annotations

import json
from typing import Any

# The per-endpoint messages of the documented responses (SPEC A3-A6, B10).
SUCCESS_MESSAGES = {
    "generate-auth-token": "Auth token generated successfully",
    "get-balance": "Balance retrieved successfully",
    "credit-balance": "Balance credited successfully",
    "debit-balance": "Balance debited successfully",
    "get-transactions": "Transactions retrieved successfully",
}
FAILURE_MESSAGES = {
    "generate-auth-token": "Failed to generate auth token",
    "get-balance": "Failed to get balance",
    "credit-balance": "Failed to credit balance",
    "debit-balance": "Failed to debit balance",
    "get-transactions": "Failed to get transactions",
}
ENDPOINTS = tuple(SUCCESS_MESSAGES)


def envelope(status: str, message: str, data: Any) -> dict[str, Any]:
    """The one body shape of the API: ``{"status", "message", "data"}`` in that order."""
    return {"status": status, "message": message, "data": data}


def dumps(body: Any) -> bytes:
    """Serialize a response body compactly, UTF-8 kept, as Express's ``res.json`` does."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ApiError(Exception):
    """A documented failure response. Subclasses fix the status and body."""

    status_code = 500

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message"))
        self.body = body
        self.headers = headers or {}


class ValidationFailed(ApiError):
    """400 with every failing field at once (SPEC A1, B12)."""

    status_code = 400

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(envelope("failed", "Validation failed", {"errors": errors}))
        self.errors = errors


class UserNotFound(ApiError):
    """404 ``User not found``."""

    status_code = 404

    def __init__(self) -> None:
        super().__init__(envelope("failed", "User not found", None))


class InvalidSignature(ApiError):
    """401 ``Invalid signature``: the only failure whose status says ``error``.

    The documented body never changes; why it failed travels in ``X-Sandbox-*`` headers.
    """

    status_code = 401

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(envelope("error", "Invalid signature", None), headers)


class ServerError(ApiError):
    """500 with the endpoint's documented message."""

    status_code = 500

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            envelope("failed", FAILURE_MESSAGES[endpoint], {"error": "Database connection failed"})
        )


class InsufficientBalance(ApiError):
    """400 ``Insufficient balance`` with the current balance and the amount asked (SPEC B10)."""

    status_code = 400

    def __init__(self, balance: float, amount: float) -> None:
        super().__init__(
            envelope("failed", "Insufficient balance", {"balance": balance, "amount": amount})
        )


class DuplicateReference(ApiError):
    """409 ``Duplicate reference`` under the ``reject`` policy (SPEC B10)."""

    status_code = 409

    def __init__(self) -> None:
        super().__init__(envelope("failed", "Duplicate reference", None))


class HttpError(ApiError):
    """Routing-level failures (404, 405, 413) in the same envelope (SPEC B13)."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(envelope("failed", message, None), headers)
        self.status_code = status_code
