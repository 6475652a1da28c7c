"""Field validation in the documented wording (SPEC A1, B12); pure, no Flask.

A ``Checker`` collects every failing field before raising, so a 400 reports all of them at
once, each with its messages in rule order.
"""

from __future__ import annotations

from typing import Any

from .errors import ValidationFailed


class Checker:
    """Collect field errors; ``done()`` raises ``ValidationFailed`` if there were any."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)

    # The rules, in the Laravel/validatorjs family of the docs. Each returns True when the
    # value passed (so callers can chain rules that only make sense on a valid type).

    def required(self, field: str, value: Any) -> bool:
        if value is None or (isinstance(value, str) and value == ""):
            self.add(field, f"The {field} field is required.")
            return False
        return True

    def string(self, field: str, value: Any, *, max_length: int | None = None) -> bool:
        if not isinstance(value, str):
            self.add(field, f"The {field} must be a string.")
            return False
        if max_length is not None and len(value) > max_length:
            self.add(field, f"The {field} may not be greater than {max_length} characters.")
            return False
        return True
