"""The API: the one route table of the five endpoints, and their handlers.

Everything that lists the endpoints reads ``ROUTES``: the pipeline's routing, the scenario
model (which endpoints a rule may name), the OpenAPI document and the documented 500 messages.
Each handler lives in the module of its family (``balance``, ``tokens``, ``transactions``,
``wallet``); it validates, looks up, operates and returns the success ``data``, raising an
``ApiError`` for every documented failure. Handlers import no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import balance, tokens, transactions, wallet
from .exchange import Handler

PREFIX = "/api/v1/"
# The documented responses a scenario can force (SPEC C); each endpoint allows its own.
RESPONSES = (
    "success",
    "validation",
    "not-found",
    "invalid-signature",
    "server-error",
    "insufficient-balance",
)


@dataclass(frozen=True)
class Route:
    """One endpoint: how it is called, who answers it, and its documented messages."""

    name: str
    method: str  # GET or POST; a GET route answers HEAD too
    handler: Handler
    success: str  # the documented success message (SPEC A3-A6)
    failure: str  # the documented 500 message (SPEC A4, B10)
    failures: tuple[str, ...]  # the documented failure responses besides 401
    # The field errors a forced ``validation`` scenario answers: the docs' own example.
    example_errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return PREFIX + self.name

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The documented responses a scenario may force here: success, the 401 every
        endpoint has, and the endpoint's own failures (a forced not-found on
        generate-auth-token, which creates users, would be an answer the API never gives)."""
        own = tuple(f for f in self.failures if f in RESPONSES)
        return ("success", "invalid-signature", *own)

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this route answers, as the Allow header lists them."""
        return ("GET", "HEAD") if self.method == "GET" else (self.method,)


AMOUNT_ERRORS = {"amount": ["The amount field is required.", "The amount must be at least 0.01."]}
CLIENT_ID_ERRORS = {"clientId": ["The clientId field is required."]}

ROUTES: tuple[Route, ...] = (
    Route(
        "generate-auth-token",
        "POST",
        tokens.generate_auth_token,
        "Auth token generated successfully",
        "Failed to generate auth token",
        ("validation", "server-error"),
        CLIENT_ID_ERRORS,
    ),
    Route(
        "get-balance",
        "GET",
        balance.get_balance,
        "Balance retrieved successfully",
        "Failed to get balance",
        ("validation", "not-found", "server-error"),
        CLIENT_ID_ERRORS,
    ),
    Route(
        "credit-balance",
        "POST",
        wallet.credit_balance,
        "Balance credited successfully",
        "Failed to credit balance",
        ("validation", "not-found", "duplicate-reference", "server-error"),
        AMOUNT_ERRORS,
    ),
    Route(
        "debit-balance",
        "POST",
        wallet.debit_balance,
        "Balance debited successfully",
        "Failed to debit balance",
        ("validation", "insufficient-balance", "not-found", "duplicate-reference", "server-error"),
        AMOUNT_ERRORS,
    ),
    Route(
        "get-transactions",
        "GET",
        transactions.get_transactions,
        "Transactions retrieved successfully",
        "Failed to get transactions",
        ("validation", "not-found", "server-error"),
        {"limit": ["The limit may not be greater than 100."]},
    ),
)
BY_NAME: dict[str, Route] = {route.name: route for route in ROUTES}
BY_PATH: dict[str, Route] = {route.path: route for route in ROUTES}
ENDPOINTS: tuple[str, ...] = tuple(BY_NAME)
