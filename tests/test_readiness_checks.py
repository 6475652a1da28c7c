"""Every readiness check at its edges, on hand-made histories, down to the exact JSON a partner
sees (status, summary, evidence, details): these kill the mutants of sandbox/readiness.py that
tests/test_readiness.py, which mostly looks at a check's status, lets through."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from readiness_events import check, credit, debit, history, read, status_of

from sandbox import readiness
from sandbox.readiness import Check, History

T0 = "1970-01-01T00:16:40.000Z"  # iso_ms(1000.0): the first event of every history here


def seen(second: int, status: int | str, **kw: Any) -> dict[str, Any]:
    """A credit's evidence entry, for the event ``second`` seconds after the first."""
    return {
        "time": f"1970-01-01T00:16:{40 + second}.000Z",
        "endpoint": "credit-balance",
        "clientId": "P1",
        "status": status,
        "applied": False,
        "amount": 10,
        "reference": "R1",
        **kw,
    }


# --------------------------------------------------------------------------- events


def test_an_event_in_json_says_no_answer_and_shows_money_only_for_a_wallet_call() -> None:
    dropped, polled, unpriced = history(
        credit(0, applied=True), read(status=503), credit(200, reference=None, amount_cents=None)
    )
    assert dropped.to_json() == seen(0, "no answer", applied=True)
    assert polled.to_json() == {
        "time": "1970-01-01T00:16:41.000Z",
        "endpoint": "get-transactions",
        "clientId": "P1",
        "status": 503,
        "applied": False,
    }
    assert unpriced.to_json() == seen(2, 200, amount=None, reference=None)
    debited = history(debit(200, cents=150))[0].to_json()
    assert (debited["endpoint"], debited["amount"]) == ("debit-balance", 1.5)


@pytest.mark.parametrize(
    ("values", "ambiguous"),
    [
        (credit(0), True),
        (credit(500), True),
        (debit(503), True),
        (credit(499), False),
        (credit(200), False),
        (read(status=500), False),  # a read changes nothing: retrying it is harmless
        (read(status=0), False),
    ],
)
def test_what_is_ambiguous(values: dict[str, Any], ambiguous: bool) -> None:
    assert history(values)[0].ambiguous is ambiguous


@pytest.mark.parametrize(
    ("status", "definitive"),
    [
        (400, True),
        (401, True),
        (404, True),
        (409, True),
        (403, False),
        (422, False),
        (429, False),
        (500, False),
        (200, False),
    ],
)
def test_what_is_definitive(status: int, definitive: bool) -> None:
    assert history(credit(status))[0].definitive is definitive


def test_the_default_history_keeps_the_newest_50000_events() -> None:
    h = History()
    for i in range(readiness.MAX_EVENTS + 1):
        h.record(epoch=float(i), endpoint="get-balance", client_id="P", status=200, applied=False)
    events = h.events()
    assert readiness.MAX_EVENTS == 50_000
    assert len(events) == 50_000 and events[0].seq == 2 and h.last_seq() == 50_001


def test_the_history_filters_by_exact_client_prefix_and_inclusive_times() -> None:
    h = History()
    for epoch, client_id in [(1.0, "READY_A"), (2.0, "READY"), (3.0, "XREADY_B"), (4.0, None)]:
        h.record(
            epoch=epoch, endpoint="get-balance", client_id=client_id, status=200, applied=False
        )
    assert [e.client_id for e in h.events(client_id="READY")] == ["READY"]
    assert [e.client_id for e in h.events(client_id="READY_A")] == ["READY_A"]
    assert [e.client_id for e in h.events(client_id="READY*")] == ["READY_A", "READY"]
    assert [e.client_id for e in h.events(client_id="*")] == ["READY_A", "READY", "XREADY_B", None]
    assert [e.epoch for e in h.events(since=2.0, until=3.0)] == [2.0, 3.0]
    assert [e.epoch for e in h.events(until=1.0)] == [1.0]
    assert [e.epoch for e in h.events(since=4.0)] == [4.0]


# --------------------------------------------------------------------------- the checks


def test_retry_new_reference_evidence_and_summaries() -> None:
    failed = check("retry-new-reference", history(credit(500), credit(200, reference="R2")))
    assert failed == {
        "id": "retry-new-reference",
        "status": "fail",
        "summary": "1 retry(ies) of an ambiguous failure under a new or no reference, without "
        "checking first: a double credit or debit where the first was applied.",
        "evidence": [[seen(0, 500), seen(1, 200, reference="R2")]],
    }
    passed = check("retry-new-reference", history(credit(500), credit(0), credit(200)))
    assert passed["status"] == "pass"
    assert passed["summary"] == "No retry under a new reference after 2 ambiguous failure(s)."
    assert check("retry-new-reference", history(read())) == {
        "id": "retry-new-reference",
        "status": "n/a",
        "summary": "No ambiguous credit or debit failure yet.",
        "evidence": [],
    }


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # a failed read is no reconciliation
        ([credit(500), read(status=500), credit(200, reference="R2")], "fail"),
        # another type (or amount) is another operation: the retry that follows still counts
        ([credit(500), debit(200, reference="R2"), credit(200, reference="R2")], "fail"),
        # an ambiguous failure after a success of the same client is still looked at
        ([credit(200, reference="R0"), credit(500), credit(200, reference="R2")], "fail"),
        # the first same operation decides: an idempotent retry, then a new operation
        ([credit(500), credit(200), credit(200, reference="R2")], "pass"),
        # another client's credit is not this client's retry
        ([credit(500), credit(200, reference="R2", client_id="P2")], "pass"),
    ],
    ids=["failed-read", "other-type-between", "after-a-success", "first-decides", "other-client"],
)
def test_retry_new_reference_edges(events: list[dict[str, Any]], expected: str) -> None:
    assert status_of("retry-new-reference", history(*events)) == expected


def test_reconcile_after_ambiguous_counts_and_summaries() -> None:
    events = history(
        credit(500),
        read(status=500),  # a failed read is no reconciliation
        credit(200, reference="R2", cents=5),
        credit(0, reference="R3"),
        read("get-balance"),
        credit(500, reference="R4", client_id="P2"),  # never reconciled by P1's reads
        read(client_id="P1"),
    )
    assert check("reconcile-after-ambiguous", events) == {
        "id": "reconcile-after-ambiguous",
        "status": "warn",
        "summary": "2 of 3 ambiguous failure(s) not followed by a get-transactions or "
        "get-balance before moving on.",
        "evidence": [
            [seen(0, 500)],
            [seen(5, 500, clientId="P2", reference="R4")],
        ],
    }
    # a read after a non-wallet request still reconciles
    reconciled = history(credit(500), read(status=404), read(), credit(0), read("get-balance"))
    assert check("reconcile-after-ambiguous", reconciled)["summary"] == (
        "Every one of 2 ambiguous failure(s) was reconciled."
    )
    assert check("reconcile-after-ambiguous", history(credit(200)))["summary"] == (
        "No ambiguous failure yet."
    )


def test_missing_reference_ignores_refused_calls_and_counts_empty_references() -> None:
    events = history(
        credit(200, reference=""),
        credit(400, reference=None),  # refused before any money moved: not counted
        credit(401, reference=None),
        credit(200),
        read(),
    )
    assert check("missing-reference", events) == {
        "id": "missing-reference",
        "status": "warn",
        "summary": "1 of 2 credit(s)/debit(s) sent without a reference: no way to tell a retry "
        "from a new operation.",
        "evidence": [[seen(0, 200, reference="")]],
    }
    assert check("missing-reference", history(credit(200), debit(500)))["summary"] == (
        "All 2 carry a reference."
    )
    assert check("missing-reference", history(credit(400, reference=None))) == {
        "id": "missing-reference",
        "status": "n/a",
        "summary": "No credit or debit yet.",
        "evidence": [],
    }


def test_reference_reuse_compares_type_amount_and_client() -> None:
    reused = history(credit(200), debit(200), credit(200), credit(401, cents=7))
    assert check("reference-reuse", reused) == {
        "id": "reference-reuse",
        "status": "fail",
        "summary": "1 reference(s) reused for a different amount, type or clientId.",
        "evidence": [[seen(0, 200), seen(1, 200, endpoint="debit-balance")]],
    }
    same = history(read(reference="R1"), credit(500), credit(200), credit(200, reference="R2"))
    assert check("reference-reuse", same)["summary"] == "2 reference(s), each for one operation."
    # refused on its signature, or without a reference: nothing to compare
    unused = history(credit(401), credit(200, reference=""), read(reference="R1"))
    assert check("reference-reuse", unused) == {
        "id": "reference-reuse",
        "status": "n/a",
        "summary": "No reference sent yet.",
        "evidence": [],
    }


def test_retry_after_definitive_pairs_each_refusal_with_its_next_copy() -> None:
    events = history(credit(400), credit(400), credit(400))
    assert check("retry-after-definitive", events) == {
        "id": "retry-after-definitive",
        "status": "warn",
        "summary": "2 request(s) re-sent unchanged after a definitive answer.",
        "evidence": [[seen(0, 400), seen(1, 400)], [seen(1, 400), seen(2, 400)]],
    }
    changed = history(
        credit(409),
        credit(200, client_id="P2"),  # the same request from another client
        debit(200, fingerprint="1000-R1"),  # the same payload to another endpoint
        credit(200, reference="R2"),
        credit(500, reference="R3"),  # not definitive: its copy is no finding
        credit(500, reference="R3"),
    )
    assert check("retry-after-definitive", changed)["summary"] == (
        "None of 1 definitive refusal(s) was re-sent unchanged."
    )
    assert check("retry-after-definitive", history(credit(500), credit(500)))["summary"] == (
        "No definitive refusal yet."
    )


def burst(count: int, step: float = 0.05, **kw: Any) -> list[dict[str, Any]]:
    return [credit(500, epoch=2000.0 + i * step, **kw) for i in range(count)]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (burst(2), "pass"),  # below STORM_WARN (3)
        (burst(9), "warn"),  # below STORM_FAIL (10)
        (burst(3, step=0.5), "warn"),  # the last exactly 1 s after the first: inside
        (burst(3, step=0.6), "pass"),  # the last 1.2 s after the first: outside
        (burst(2) + burst(2, client_id="P2"), "pass"),  # two clients, two runs
        ([*burst(2), read(epoch=2000.1, status=500, fingerprint="1000-R1")], "pass"),
    ],
    ids=["2", "9", "window-edge", "past-window", "two-clients", "other-endpoint"],
)
def test_retry_storm_thresholds_and_runs(events: list[dict[str, Any]], expected: str) -> None:
    assert readiness.STORM_WARN == 3 and readiness.STORM_FAIL == 10
    assert status_of("retry-storm", history(*events)) == expected


def test_a_success_ends_a_storm() -> None:
    events = [
        credit(500, epoch=2000.0),
        credit(500, epoch=2000.1),
        credit(200, epoch=2000.2),  # the end of the first run (which it joins)
        credit(500, epoch=2000.3),
        credit(500, epoch=2000.4),
    ]
    assert status_of("retry-storm", history(*events)) == "warn"  # 500, 500, 200
    events[1] = credit(500, epoch=2000.1, fingerprint="other")
    assert status_of("retry-storm", history(*events)) == "pass"


def test_retry_storm_evidence_and_summary() -> None:
    stormed = check("retry-storm", history(*burst(3)))
    assert stormed["summary"] == ("3 identical requests within 1 s: retries without back-off.")
    assert [e["time"] for (entry,) in [stormed["evidence"]] for e in entry] == [
        "1970-01-01T00:33:20.000Z",
        "1970-01-01T00:33:20.050Z",
        "1970-01-01T00:33:20.100Z",
    ]
    assert check("retry-storm", history(read())) == {
        "id": "retry-storm",
        "status": "pass",
        "summary": "No burst of identical requests.",
        "evidence": [],
    }
    assert check("retry-storm", [])["summary"] == "No request yet."


def test_clock_skew_edges_worst_and_summaries() -> None:
    assert readiness.CLOCK_MARGIN_SECONDS == 120
    assert status_of("clock-skew", history(read(skew=120.0), read(skew=-120.0))) == "pass"
    assert status_of("clock-skew", history(read(skew=-120.5))) == "warn"
    skewed = check("clock-skew", history(read(skew=130.4), read(skew=-500.0), read(skew=3.0)))
    assert skewed["status"] == "warn"
    assert skewed["summary"] == (
        "2 request(s) with a timestamp more than 120 s from the sandbox clock (worst -500 s; "
        "the window is 300 s)."
    )
    assert [entry["skewSeconds"] for (entry,) in skewed["evidence"]] == [130, -500]
    passed = check("clock-skew", history(read(skew=-119.0), read(skew=5.0), read()))
    assert passed["summary"] == "Every timestamp within 119 s of the clock."
    assert check("clock-skew", history(read())) == {
        "id": "clock-skew",
        "status": "n/a",
        "summary": "No timestamped request yet.",
        "evidence": [],
    }


def test_signature_failures_summaries_evidence_and_details() -> None:
    events = history(
        read(status=401, verdict="mismatch", finding="json-spacing"),
        read(status=401, verdict="mismatch"),
        read(status=401, verdict="mismatch"),
        read(status=401, verdict="expired-timestamp"),
        read(status=401, verdict=""),  # no verdict recorded: not a signature failure
        read(status=200, verdict="mismatch", finding="odd"),  # answered: not refused
        read(),
        read(),
    )
    failed = check("signature-failures", events)
    assert failed["status"] == "warn"
    assert failed["summary"] == ("4 of 8 request(s) (50%) failed the signature; most often: none.")
    assert failed["details"] == {"rate": 0.5, "findings": {"json-spacing": 1, "none": 2, "odd": 1}}
    assert [(e["status"], e["verdict"], e["finding"]) for (e,) in failed["evidence"]] == [
        (401, "mismatch", "json-spacing"),
        (401, "mismatch", None),
        (401, "mismatch", None),
        (401, "expired-timestamp", None),
    ]
    expired = check("signature-failures", history(read(status=401, verdict="bad"), read(), read()))
    assert expired["summary"] == "1 of 3 request(s) (33%) failed the signature."
    assert expired["details"] == {"rate": 0.3333, "findings": {}}
    assert check("signature-failures", history(read(), read())) == {
        "id": "signature-failures",
        "status": "pass",
        "summary": "All 2 request(s) verified.",
        "evidence": [],
    }
    assert check("signature-failures", [])["summary"] == "No request yet."


def test_outcome_coverage_matrix() -> None:
    events = history(
        credit(0, applied=True),
        credit(0),
        credit(500, applied=True),
        credit(503),
        credit(400, refusal="insufficient-balance"),
        credit(409),
        read(),
        read(client_id="P2"),  # P2's last (and only) request: received, not survived
    )
    assert check("outcome-coverage", events) == {
        "id": "outcome-coverage",
        "status": "pass",
        "summary": "7 endpoint x outcome pair(s) received.",
        "evidence": [],
        "details": {
            "matrix": {
                "credit-balance": {
                    "no answer (applied)": {"received": 1, "survived": 1},
                    "no answer": {"received": 1, "survived": 1},
                    "server error (applied)": {"received": 1, "survived": 1},
                    "server error": {"received": 1, "survived": 1},
                    "insufficient-balance": {"received": 1, "survived": 1},
                    "409": {"received": 1, "survived": 1},
                },
                "get-transactions": {"success": {"received": 2, "survived": 0}},
            }
        },
    }
    assert check("outcome-coverage", []) == {
        "id": "outcome-coverage",
        "status": "n/a",
        "summary": "No request yet.",
        "evidence": [],
    }


# --------------------------------------------------------------------------- the report


def test_evidence_is_capped_at_ten_with_a_count_of_the_rest() -> None:
    ten = Check("x", "warn", "s", [[{"n": i}] for i in range(10)])
    assert ten.to_json() == {"id": "x", "status": "warn", "summary": "s", "evidence": ten.evidence}
    eleven = Check("x", "warn", "s", [[{"n": i}] for i in range(12)], {"k": 1})
    assert eleven.to_json() == {
        "id": "x",
        "status": "warn",
        "summary": "s",
        "evidence": eleven.evidence[:10],
        "moreEvidence": 2,
        "details": {"k": 1},
    }


def test_the_report_in_full() -> None:
    events = history(read(skew=500.0), credit(500), credit(200, reference="R2"))
    report = readiness.report(events)
    assert report["verdict"] == "fail"  # a fail outweighs the warnings
    assert report["requests"] == 3
    assert (report["from"], report["to"]) == (T0, "1970-01-01T00:16:42.000Z")
    assert [(c["id"], c["status"]) for c in report["checks"]] == [
        ("retry-new-reference", "fail"),
        ("reconcile-after-ambiguous", "warn"),
        ("missing-reference", "pass"),
        ("reference-reuse", "pass"),
        ("retry-after-definitive", "n/a"),
        ("retry-storm", "pass"),
        ("clock-skew", "warn"),
        ("signature-failures", "pass"),
        ("outcome-coverage", "pass"),
    ]
    assert readiness.report(history(credit(500), read()))["verdict"] == "pass"
    empty = readiness.report([])
    assert empty == {
        "verdict": "n/a",
        "requests": 0,
        "from": None,
        "to": None,
        "checks": empty["checks"],
    }
    assert {c["status"] for c in empty["checks"]} == {"n/a"}


def test_an_event_recorded_without_a_verdict_is_no_signature_failure() -> None:
    """An event's verdict defaults to none recorded, which is no signature failure."""
    h = History()
    h.record(epoch=1.0, endpoint="get-balance", client_id="P1", status=401, applied=False)
    assert check("signature-failures", h.events())["status"] == "pass"


def test_record_returns_the_frozen_event_it_stored() -> None:
    h = History()
    event = h.record(epoch=1.0, endpoint="get-balance", client_id=None, status=200, applied=False)
    assert event.seq == 1 and h.events() == [event]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.status = 500  # type: ignore[misc]


def test_an_event_with_only_the_required_fields_shows_none_for_the_rest() -> None:
    h = History()
    h.record(
        epoch=1000.0,
        endpoint="debit-balance",
        client_id="P1",
        status=401,
        applied=False,
        verdict="mismatch",
    )
    (check_json,) = [
        c for c in readiness.report(h.events())["checks"] if c["id"] == "signature-failures"
    ]
    assert check_json["evidence"] == [
        [
            {
                "time": T0,
                "endpoint": "debit-balance",
                "clientId": "P1",
                "status": 401,
                "applied": False,
                "amount": None,
                "reference": None,
                "verdict": "mismatch",
                "finding": None,
            }
        ]
    ]


def test_a_request_without_client_id_matches_no_prefix() -> None:
    h = History()
    h.record(epoch=1.0, endpoint="get-balance", client_id=None, status=200, applied=False)
    assert h.events(client_id="X*") == [] and len(h.events(client_id="*")) == 1


def test_a_warning_before_a_failure_does_not_hide_it() -> None:
    """missing-reference (warn) comes before reference-reuse (fail) in the report."""
    events = history(credit(200, reference=None), credit(200), credit(200, cents=2000))
    report = readiness.report(events)
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["missing-reference"] == "warn" and statuses["reference-reuse"] == "fail"
    assert statuses["retry-new-reference"] == "n/a"
    assert report["verdict"] == "fail"


def test_retry_storm_slides_its_window_and_shows_the_first_worst_run() -> None:
    # 0, 0.9, 1.5, 1.6: the first falls out of the window at 1.5, three remain at 1.6
    sliding = [credit(500, epoch=2000.0 + offset) for offset in (0.0, 0.9, 1.5, 1.6)]
    assert status_of("retry-storm", history(*sliding)) == "warn"
    # two runs of three (two clients): the evidence is the first one
    tied = history(*burst(3), *burst(3, client_id="P2"))
    (evidence,) = check("retry-storm", tied)["evidence"]
    assert [e["clientId"] for e in evidence] == ["P1", "P1", "P1"]


def test_more_edges_of_the_checks() -> None:
    assert check("clock-skew", history(read(skew=0.0)))["summary"] == (
        "Every timestamp within 0 s of the clock."
    )
    # a 401 whose signature was valid (refused for another reason) is no signature failure
    assert status_of("signature-failures", history(read(status=401, verdict="valid"))) == "pass"
    # a success before a definitive refusal does not end the look at the rest
    repeated = history(credit(200, reference="R0"), credit(400), credit(400))
    assert status_of("retry-after-definitive", repeated) == "warn"
    # a success is no ambiguous failure: a new reference after it is a new operation
    fresh = history(credit(200, reference="R0"), credit(200), credit(500, cents=5, reference="R5"))
    assert status_of("retry-new-reference", fresh) == "pass"
    # a 499 is an answer of its own, not a server error
    matrix = check("outcome-coverage", history(credit(499)))["details"]["matrix"]
    assert matrix == {"credit-balance": {"499": {"received": 1, "survived": 0}}}
