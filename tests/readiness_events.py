"""Hand-made readiness histories, shared by tests/test_readiness.py (the checks' statuses and
the surfaces) and tests/test_readiness_checks.py (each check at its edges)."""

from __future__ import annotations

from typing import Any

from sandbox import readiness
from sandbox.readiness import Event, History


def history(*events: dict[str, Any]) -> list[Event]:
    """Events in order, one second apart unless ``epoch`` says otherwise."""
    h = History()
    for i, values in enumerate(events):
        h.record(**{"epoch": 1000.0 + i, "client_id": "P1", "applied": False, **values})
    return h.events()


def credit(
    status: int, cents: int = 1000, reference: str | None = "R1", **kw: Any
) -> dict[str, Any]:
    values = {
        "endpoint": "credit-balance",
        "status": status,
        "kind": "credit",
        "amount_cents": cents,
        "reference": reference,
        "fingerprint": f"{cents}-{reference}",
        "verdict": "valid",
    }
    return {**values, **kw}


def debit(
    status: int, cents: int = 1000, reference: str | None = "R1", **kw: Any
) -> dict[str, Any]:
    return credit(status, cents, reference, endpoint="debit-balance", kind="debit", **kw)


def read(endpoint: str = "get-transactions", **kw: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "status": 200, "fingerprint": "q", "verdict": "valid", **kw}


def check(check_id: str, events: list[Event]) -> dict[str, Any]:
    """The check's JSON, as the report gives it."""
    (found,) = [c for c in readiness.report(events)["checks"] if c["id"] == check_id]
    return dict(found)


def status_of(check_id: str, events: list[Event]) -> str:
    return str(check(check_id, events)["status"])
