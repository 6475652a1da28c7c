"""The request rules of ``sandbox.api.fields`` on their own: ``validate`` called directly.

These pin the date rules that the endpoint tests leave open (found by mutation testing): an
empty date filter, the last millisecond of the calendar, and which end of a date-only day each
bound means when the range is compared.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.api.fields import TRANSACTIONS_QUERY, validate
from sandbox.errors import ValidationFailed


def transactions(**params: str) -> dict[str, Any]:
    """The checked query of a get-transactions request (query-string text, as sent)."""
    return validate(TRANSACTIONS_QUERY, {"clientId": "CLIENT_001", **params}, query=True)


def refusal(**params: str) -> dict[str, list[str]]:
    """The field errors of a get-transactions query that fails validation."""
    with pytest.raises(ValidationFailed) as failed:
        transactions(**params)
    return failed.value.errors


def test_an_empty_date_filter_is_no_filter() -> None:
    # `dateFrom=&dateTo=` (a form left blank) means "no bound", as an absent one does: it is
    # not checked as a date, so it is no 400 "not a valid date".
    checked = transactions(dateFrom="", dateTo="")
    assert checked["dateFrom"] is None
    assert checked["dateTo"] is None


def test_date_to_is_read_as_an_upper_bound_when_checked() -> None:
    # A sub-millisecond upper bound rounds down; as a lower bound it would round up past the
    # last representable millisecond. So the very end of the calendar is a valid dateTo...
    end = "9999-12-31T23:59:59.9995Z"
    assert transactions(dateTo=end)["dateTo"] == end
    # ...and not a valid dateFrom.
    assert refusal(dateFrom=end) == {"dateFrom": ["The dateFrom is not a valid date."]}


def test_a_date_only_date_from_starts_its_day() -> None:
    # dateFrom=2024-01-01 is 00:00:00.000 of that day, so noon of the same day is after it.
    checked = transactions(dateFrom="2024-01-01", dateTo="2024-01-01T12:00:00Z")
    assert (checked["dateFrom"], checked["dateTo"]) == ("2024-01-01", "2024-01-01T12:00:00Z")


def test_a_date_only_date_to_ends_its_day() -> None:
    # dateTo=2024-01-01 is 23:59:59.999 of that day (inclusive), so it is after its noon.
    checked = transactions(dateFrom="2024-01-01T12:00:00Z", dateTo="2024-01-01")
    assert (checked["dateFrom"], checked["dateTo"]) == ("2024-01-01T12:00:00Z", "2024-01-01")


def test_a_range_ending_before_it_starts_is_refused_on_date_to() -> None:
    # The other side of the two tests above: the next day's start is after the day's end.
    assert refusal(dateFrom="2024-01-02", dateTo="2024-01-01") == {
        "dateTo": ["The dateTo must be a date after or equal to dateFrom."]
    }


def test_a_range_of_one_instant_is_allowed() -> None:
    # Both bounds are inclusive: dateTo equal to dateFrom is "after or equal".
    moment = "2024-01-01T12:00:00Z"
    assert transactions(dateFrom=moment, dateTo=moment)["dateTo"] == moment
