"""Unexpected failures are counted every time and logged once per interval and kind
(sandbox/incidents.py), on a clock the tests move by hand."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from sandbox import incidents
from sandbox.incidents import Incidents


class Clock:
    """Stands in for the ``time`` module: ``monotonic`` for the interval, ``time`` for health."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(incidents, "time", fake)
    return fake


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.ERROR, logger="sandbox")
    return caplog


FULL = sqlite3.OperationalError("database or disk is full")
LINE = "unhandled error on POST /api/v1/credit-balance: OperationalError: database or disk is full"


def test_a_database_error_is_one_line_without_a_traceback(
    clock: Clock, log: pytest.LogCaptureFixture
) -> None:
    seen = Incidents()
    seen.report("POST /api/v1/credit-balance", FULL)
    (record,) = log.records
    assert record.name == "sandbox" and record.levelno == logging.ERROR
    assert record.getMessage() == LINE
    assert record.exc_info is None
    assert (seen.total, seen.database_errors) == (1, 1)
    assert seen.last == "POST /api/v1/credit-balance: OperationalError: database or disk is full"
    assert seen.last_at == 1_700_000_100.0


def test_any_other_error_keeps_its_traceback_and_is_no_database_error(
    clock: Clock, log: pytest.LogCaptureFixture
) -> None:
    seen = Incidents()
    bug = KeyError("wallet")
    seen.report("GET /api/v1/get-balance", bug)
    (record,) = log.records
    assert record.getMessage() == "unhandled error on GET /api/v1/get-balance"
    assert record.exc_info is not None and record.exc_info[1] is bug
    assert (seen.total, seen.database_errors) == (1, 0)
    assert seen.last == "GET /api/v1/get-balance: KeyError: 'wallet'"


def test_repeats_are_counted_then_told_once_the_interval_is_over(
    clock: Clock, log: pytest.LogCaptureFixture
) -> None:
    seen = Incidents()
    where = "POST /api/v1/credit-balance"
    seen.report(where, FULL)
    clock.now += 9.999
    seen.report(where, FULL)
    seen.report(where, FULL)
    assert len(log.records) == 1  # within the interval: counted, not logged
    assert (seen.total, seen.database_errors) == (3, 3)
    clock.now = 110.0  # exactly the interval after the first line
    seen.report(where, FULL)
    assert [r.getMessage() for r in log.records] == [
        LINE,
        LINE + " (2 more like it in the last 10 s)",
    ]
    clock.now += 10.0
    seen.report(where, FULL)  # none since the last line: no count
    assert log.records[-1].getMessage() == LINE
    assert len(log.records) == 3


def test_the_count_of_a_traceback_line_is_in_its_message(
    clock: Clock, log: pytest.LogCaptureFixture
) -> None:
    seen = Incidents(interval=0.5)
    seen.report("GET /x", ValueError("bad"))
    seen.report("GET /x", ValueError("bad"))
    clock.now += 0.5
    seen.report("GET /x", ValueError("bad"))
    assert [r.getMessage() for r in log.records] == [
        "unhandled error on GET /x",
        "unhandled error on GET /x (1 more like it in the last 0.5 s)",
    ]


def test_a_kind_is_the_type_and_the_first_200_characters_of_the_message(
    clock: Clock, log: pytest.LogCaptureFixture
) -> None:
    seen = Incidents()
    head = "x" * 199
    seen.report("w", ValueError(head + "a"))
    seen.report("w", ValueError(head + "b"))  # differs within 200 characters: another kind
    seen.report("w", TypeError(head + "b"))  # another type: another kind
    seen.report("w", ValueError(head + "b" + "tail"))  # the same 200 characters: a repeat
    seen.report("w", ValueError(head + "a" + "tail"))
    assert len(log.records) == 3
    assert seen.total == 5


def test_the_kinds_remembered_are_bounded(clock: Clock, log: pytest.LogCaptureFixture) -> None:
    seen = Incidents()
    for i in range(1000):
        seen.report("w", ValueError(str(i)))
    seen.report("w", ValueError("0"))  # 1000 kinds are remembered: a repeat
    assert len(log.records) == 1000
    seen.report("w", ValueError("1000"))  # one more: only the newest is kept
    seen.report("w", ValueError("1000"))
    assert len(log.records) == 1001
    seen.report("w", ValueError("0"))  # forgotten: logged again
    assert len(log.records) == 1002
    assert log.records[-1].getMessage() == "unhandled error on w"  # and no count carried over
