"""Field validation in the documented wording (SPEC A1, B12); pure, no Flask.

A ``Checker`` collects every failing field before raising, so a 400 reports all of them at
once, each with its messages in rule order.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
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
        # As Laravel's TrimStrings and ConvertEmptyStringsToNull: blank means missing.
        if value is None or (isinstance(value, str) and value.strip() == ""):
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

    def integer(
        self, field: str, value: str | None, *, minimum: int, maximum: int | None = None
    ) -> int | None:
        """A query-string integer (``-?\\d+``) within bounds; None when absent or failing."""
        if value is None or value == "":
            return None
        if not _INTEGER.fullmatch(value):
            self.add(field, f"The {field} must be an integer.")
            return None
        number = _bounded_int(value)
        if number < minimum:
            self.add(field, f"The {field} must be at least {minimum}.")
            return None
        if maximum is not None and number > maximum:
            self.add(field, f"The {field} may not be greater than {maximum}.")
            return None
        return number

    def choice(self, field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
        if value is None or value == "":
            return None
        if value not in allowed:
            self.add(field, f"The selected {field} is invalid.")
            return None
        return value

    def amount(self, field: str, value: Any) -> int | None:
        """A JSON number of money (SPEC B10): > 0.01, <= 999,999,999.99, at most 2 decimals.

        Returns exact integer cents (no float arithmetic), or None when it fails.
        """
        if value is None or (isinstance(value, str) and value.strip() == ""):
            self.add(field, f"The {field} field is required.")
            self.add(field, f"The {field} must be at least 0.01.")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(field, f"The {field} must be a number.")
            return None
        if math.isnan(value):
            self.add(field, f"The {field} must be a number.")
            return None
        if value < 0.01:
            self.add(field, f"The {field} must be at least 0.01.")
            return None
        if value > MAX_AMOUNT:
            self.add(field, f"The {field} may not be greater than 999999999.99.")
            return None
        # repr() is the shortest decimal that reads back as this double: the number as the
        # client most plausibly wrote it (100.50 arrives as 100.5).
        exact = Decimal(repr(float(value)))
        if exact.as_tuple().exponent < -2:  # type: ignore[operator]
            self.add(field, f"The {field} must have at most 2 decimal places.")
            return None
        return int(exact * 100)

    def optional_string(self, field: str, value: Any, *, max_length: int) -> str | None:
        """An optional string field; ``null`` counts as absent."""
        if value is None:
            return None
        if self.string(field, value, max_length=max_length):
            return str(value)
        return None

    def body_integer(self, field: str, value: Any, *, minimum: int, maximum: int) -> int | None:
        """An optional JSON integer (an integral number, or a string of digits, as Laravel's
        ``integer`` rule accepts) within bounds."""
        if value is None:
            return None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, int):
            number = value
        elif isinstance(value, str) and _INTEGER.fullmatch(value):
            number = _bounded_int(value)
        else:
            number = None
        if number is None:
            self.add(field, f"The {field} must be an integer.")
            return None
        if number < minimum:
            self.add(field, f"The {field} must be at least {minimum}.")
            return None
        if number > maximum:
            self.add(field, f"The {field} may not be greater than {maximum}.")
            return None
        return number


MAX_AMOUNT = 999_999_999.99
_HUGE = 10**18


def _bounded_int(text: str) -> int:
    """``int(text)`` without Python's 4300-digit limit: longer numbers are only "huge"."""
    digits = text.lstrip("-").lstrip("0")
    if len(digits) > 18:
        return -_HUGE if text.startswith("-") else _HUGE
    return int(text)


_INTEGER = re.compile(r"-?[0-9]+")
