"""One exception tree for every documented failure, and the envelope (SPEC A1).

Handlers raise; the app's one renderer turns any ``ApiError`` into its status code, body and
``X-Sandbox-*`` headers. The bodies come from ``sandbox.responses`` (the documented bodies as
data). Nothing else builds an error body, and no response ever carries a stack trace.
"""

from __future__ import annotations

import json
from typing import Any

from . import responses

# The API's own messages for routing-level failures (SPEC B13).
HTTP_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    414: "URI too long",
    431: "Request header fields too large",
}


def envelope(status: str, message: str, data: Any) -> dict[str, Any]:
    """The one body shape of the API: ``{"status", "message", "data"}`` in that order."""
    return {"status": status, "message": message, "data": data}


def dumps(body: Any) -> bytes:
    """Serialize a response body compactly, UTF-8 kept, as Express's ``res.json`` does."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate can only be echoed from a request: write it escaped, never crash.
    return text.encode("utf-8", "backslashreplace")


class ApiError(Exception):
    """A documented failure response."""

    status_code = 500

    def __init__(
        self, body: dict[str, Any], headers: dict[str, str] | None = None, status: int | None = None
    ) -> None:
        super().__init__(body.get("message"))
        self.body = body
        self.headers = headers or {}
        if status is not None:
            self.status_code = status


class ValidationFailed(ApiError):
    """400 with every failing field at once (SPEC A1, B12)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        status, body = responses.render("validation", errors=errors)
        super().__init__(body, status=status)
        self.errors = errors


class UserNotFound(ApiError):
    """404 ``User not found``."""

    def __init__(self) -> None:
        status, body = responses.render("not-found")
        super().__init__(body, status=status)


class InvalidSignature(ApiError):
    """401 ``Invalid signature``: the only failure whose status says ``error``.

    The documented body never changes; why it failed travels in ``X-Sandbox-*`` headers.
    """

    def __init__(self, headers: dict[str, str], explanation: dict[str, Any] | None = None):
        status, body = responses.render("invalid-signature")
        if explanation is not None:  # only when the operator turned explanations on
            body = {**body, "data": explanation}
        super().__init__(body, headers, status)


class ServerError(ApiError):
    """500 with the endpoint's documented message (``Route.failure``)."""

    def __init__(self, message: str) -> None:
        status, body = responses.render("server-error", failure=message)
        super().__init__(body, status=status)


class InsufficientBalance(ApiError):
    """400 ``Insufficient balance`` with the current balance and the amount asked (SPEC B10)."""

    def __init__(self, balance: float, amount: float) -> None:
        status, body = responses.render("insufficient-balance", balance=balance, amount=amount)
        super().__init__(body, status=status)


class DuplicateReference(ApiError):
    """409 ``Duplicate reference`` under the ``reject`` policy (SPEC B10)."""

    def __init__(self) -> None:
        status, body = responses.render("duplicate-reference")
        super().__init__(body, status=status)


class HttpError(ApiError):
    """Routing-level failures (404, 405, 413) in the same envelope (SPEC B13)."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(envelope("failed", message, None), headers, status_code)


class HeldCapacity(ApiError):
    """503: a delay or timeout scenario would hold the request, but every slot for held
    requests (overall, or the partner's) is taken; nothing is performed."""

    def __init__(self) -> None:
        super().__init__(
            envelope("failed", "Too many requests held by scenarios", None),
            {"X-Sandbox-Fault": "held-capacity", "Retry-After": "1"},
            503,
        )
