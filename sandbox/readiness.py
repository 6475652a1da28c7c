"""The readiness report: how a partner's integration reacted to what breaks wallets in
production (ambiguous failures, definitive refusals, its clock, its signing). Pure, no Flask.

The pipeline records one ``Event`` per API request of a tenant (a bounded history of its own,
kept whole when the request journal's ring buffer wraps); ``report`` runs every check over the
events in scope and gives each a fixed id, a status (``pass``, ``warn``, ``fail``, ``n/a``), a
one-line summary and the evidence. The rules and thresholds are the README's ("Readiness").
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dates import iso_ms
from .store import money

WALLET = ("credit-balance", "debit-balance")
READS = ("get-balance", "get-transactions")
MAX_EVENTS = 50_000  # per tenant: about 10 MB at most; the oldest go first
CLOCK_MARGIN_SECONDS = 120  # a timestamp this far from the sandbox clock is close to the window
STORM_WINDOW_SECONDS = 1.0  # retries closer together than this have no back-off
STORM_WARN = 3  # this many identical requests within the window: warn
STORM_FAIL = 10  # this many: fail
EVIDENCE_LIMIT = 10  # requests shown per check


@dataclass(frozen=True, slots=True)
class Event:
    """One API request, as the report needs it."""

    seq: int
    epoch: float  # sandbox clock
    endpoint: str
    client_id: str | None
    status: int  # 0: the connection was dropped (or the client left while held)
    applied: bool  # the ledger changed (a credit or debit was committed)
    kind: str | None = None  # credit / debit
    amount_cents: int | None = None
    reference: str | None = None
    fingerprint: str = ""  # the signed PAYLOAD's digest: "the same request, re-sent"
    skew: float | None = None  # sandbox clock minus x-timestamp, when it was a number
    verdict: str = ""  # the signature verdict
    finding: str | None = None  # the doctor's code, for a mismatch
    refusal: str | None = None  # "insufficient-balance", "validation", ... for a 4xx

    @property
    def ambiguous(self) -> bool:
        """A credit/debit whose outcome the client cannot know: a 5xx or no answer."""
        return self.endpoint in WALLET and (self.status == 0 or self.status >= 500)

    @property
    def definitive(self) -> bool:
        """An answer that will not change if the same request is sent again."""
        return self.status in (400, 401, 404, 409)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": iso_ms(self.epoch),
            "endpoint": self.endpoint,
            "clientId": self.client_id,
            "status": self.status or "no answer",
            "applied": self.applied,
        }
        if self.endpoint in WALLET:
            out["amount"] = None if self.amount_cents is None else money(self.amount_cents)
            out["reference"] = self.reference
        return out


class History:
    """A tenant's events, bounded; thread-safe."""

    def __init__(self, size: int = MAX_EVENTS) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, **values: Any) -> Event:
        with self._lock:
            self._seq += 1
            event = Event(seq=self._seq, **values)
            self._events.append(event)
        return event

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def last_seq(self) -> int:
        """The number of the newest event (a reset does not restart the count)."""
        with self._lock:
            return self._seq

    def events(
        self,
        *,
        client_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[Event]:
        with self._lock:
            events = list(self._events)
        return [
            e
            for e in events
            if _matches(e.client_id, client_id)
            and (since is None or e.epoch >= since)
            and (until is None or e.epoch <= until)
        ]


def _matches(client_id: str | None, wanted: str | None) -> bool:
    """``wanted`` is a clientId, or a prefix ending with ``*`` (``READY_*``)."""
    if wanted is None:
        return True
    if wanted.endswith("*"):
        return (client_id or "").startswith(wanted[:-1])
    return client_id == wanted


# --------------------------------------------------------------------------- the checks


@dataclass
class Check:
    id: str
    status: str  # pass | warn | fail | n/a
    summary: str
    evidence: list[list[dict[str, Any]]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status, "summary": self.summary}
        out["evidence"] = self.evidence[:EVIDENCE_LIMIT]
        if len(self.evidence) > EVIDENCE_LIMIT:
            out["moreEvidence"] = len(self.evidence) - EVIDENCE_LIMIT
        if self.details:
            out["details"] = self.details
        return out


def _by_client(events: Iterable[Event]) -> dict[str | None, list[Event]]:
    out: dict[str | None, list[Event]] = {}
    for event in events:
        out.setdefault(event.client_id, []).append(event)
    return out


def _judged(
    check_id: str,
    judged: int,
    nothing: str,
    found: list[list[dict[str, Any]]],
    status: str,
    problem: str,
    fine: str,
) -> Check:
    """The shape most checks share: ``n/a`` saying ``nothing`` when there was nothing to
    judge, ``status`` saying ``problem`` with the evidence when anything was ``found``, else
    ``pass`` saying ``fine``."""
    if not judged:
        return Check(check_id, "n/a", nothing)
    if found:
        return Check(check_id, status, problem, found)
    return Check(check_id, "pass", fine)


def retry_new_reference(events: Sequence[Event]) -> Check:
    """After an ambiguous failure of a credit/debit, another one of the same clientId, type
    and amount under a different or missing reference, with no get-balance/get-transactions
    of that clientId in between: if the first was applied, the money moves twice."""
    found: list[list[dict[str, Any]]] = []
    ambiguous = [e for e in events if e.ambiguous]
    for client_events in _by_client(events).values():
        for i, first in enumerate(client_events):
            if not first.ambiguous:
                continue
            for later in client_events[i + 1 :]:
                if later.endpoint in READS and later.status == 200:
                    break  # it reconciled first
                same = later.kind == first.kind and later.amount_cents == first.amount_cents
                if later.endpoint in WALLET and same:
                    if later.reference is None or later.reference != first.reference:
                        found.append([first.to_json(), later.to_json()])
                    break
    return _judged(
        "retry-new-reference",
        len(ambiguous),
        "No ambiguous credit or debit failure yet.",
        found,
        "fail",
        f"{len(found)} retry(ies) of an ambiguous failure under a new or no reference, "
        "without checking first: a double credit or debit where the first was applied.",
        f"No retry under a new reference after {len(ambiguous)} ambiguous failure(s).",
    )


def reconcile_after_ambiguous(events: Sequence[Event]) -> Check:
    """After an ambiguous failure, a get-transactions or get-balance of that clientId before
    its next credit or debit (or at all)."""
    missing: list[list[dict[str, Any]]] = []
    count = 0
    for client_events in _by_client(events).values():
        for i, first in enumerate(client_events):
            if not first.ambiguous:
                continue
            count += 1
            checked = False
            for later in client_events[i + 1 :]:
                if later.endpoint in READS and later.status == 200:
                    checked = True
                    break
                if later.endpoint in WALLET:
                    break
            if not checked:
                missing.append([first.to_json()])
    return _judged(
        "reconcile-after-ambiguous",
        count,
        "No ambiguous failure yet.",
        missing,
        "warn",
        f"{len(missing)} of {count} ambiguous failure(s) not followed by a get-transactions "
        "or get-balance before moving on.",
        f"Every one of {count} ambiguous failure(s) was reconciled.",
    )


def missing_reference(events: Sequence[Event]) -> Check:
    wallet = [e for e in events if e.endpoint in WALLET and e.status not in (400, 401)]
    missing = [[e.to_json()] for e in wallet if not e.reference]
    return _judged(
        "missing-reference",
        len(wallet),
        "No credit or debit yet.",
        missing,
        "warn",
        f"{len(missing)} of {len(wallet)} credit(s)/debit(s) sent without a reference: "
        "no way to tell a retry from a new operation.",
        f"All {len(wallet)} carry a reference.",
    )


def reference_reuse(events: Sequence[Event]) -> Check:
    """One reference for different operations (amount, type or clientId): a retry must be the
    same operation, a new operation needs a new reference."""
    first_use: dict[str, Event] = {}
    found: list[list[dict[str, Any]]] = []
    for event in events:
        if event.endpoint not in WALLET or not event.reference or event.status == 401:
            continue
        first = first_use.setdefault(event.reference, event)
        if first is not event and (first.kind, first.amount_cents, first.client_id) != (
            event.kind,
            event.amount_cents,
            event.client_id,
        ):
            found.append([first.to_json(), event.to_json()])
    return _judged(
        "reference-reuse",
        len(first_use),
        "No reference sent yet.",
        found,
        "fail",
        f"{len(found)} reference(s) reused for a different amount, type or clientId.",
        f"{len(first_use)} reference(s), each for one operation.",
    )


def retry_after_definitive(events: Sequence[Event]) -> Check:
    """A request answered definitively (400, 401, 404, 409, insufficient balance) sent again
    unchanged: the answer cannot change."""
    found: list[list[dict[str, Any]]] = []
    definitive = 0
    for client_events in _by_client(events).values():
        for i, first in enumerate(client_events):
            if not first.definitive:
                continue
            definitive += 1
            for later in client_events[i + 1 :]:
                if later.fingerprint == first.fingerprint and later.endpoint == first.endpoint:
                    found.append([first.to_json(), later.to_json()])
                    break
    return _judged(
        "retry-after-definitive",
        definitive,
        "No definitive refusal yet.",
        found,
        "warn",
        f"{len(found)} request(s) re-sent unchanged after a definitive answer.",
        f"None of {definitive} definitive refusal(s) was re-sent unchanged.",
    )


def retry_storm(events: Sequence[Event]) -> Check:
    """A failed request sent again and again with no back-off: the failure and its retries
    (the same request, each after a failure of it) within ``STORM_WINDOW_SECONDS``: at least
    ``STORM_WARN`` of them warns, ``STORM_FAIL`` fails."""
    worst: list[Event] = []
    runs: dict[tuple[str, str | None, str], list[Event]] = {}
    for event in events:
        key = (event.endpoint, event.client_id, event.fingerprint)
        run = runs.get(key, [])
        if not run or run[-1].status == 200:  # not a retry: a new run starts
            run = []
        run.append(event)
        while run and event.epoch - run[0].epoch > STORM_WINDOW_SECONDS:
            run.pop(0)
        runs[key] = run
        if len(run) > len(worst):
            worst = list(run)
    if not events:
        return Check("retry-storm", "n/a", "No request yet.")
    status = "fail" if len(worst) >= STORM_FAIL else "warn" if len(worst) >= STORM_WARN else "pass"
    if status == "pass":
        return Check("retry-storm", "pass", "No burst of identical requests.")
    return Check(
        "retry-storm",
        status,
        f"{len(worst)} identical requests within {STORM_WINDOW_SECONDS:g} s: retries without "
        "back-off.",
        [[e.to_json() for e in worst]],
    )


def clock_skew(events: Sequence[Event]) -> Check:
    skewed = [e for e in events if e.skew is not None and abs(e.skew) > CLOCK_MARGIN_SECONDS]
    timed = [e for e in events if e.skew is not None]
    if not timed:
        return Check("clock-skew", "n/a", "No timestamped request yet.")
    if skewed:
        worst = max(skewed, key=lambda e: abs(e.skew or 0))
        return Check(
            "clock-skew",
            "warn",
            f"{len(skewed)} request(s) with a timestamp more than {CLOCK_MARGIN_SECONDS} s "
            f"from the sandbox clock (worst {worst.skew:+.0f} s; the window is 300 s).",
            [[{**e.to_json(), "skewSeconds": round(e.skew or 0)}] for e in skewed],
        )
    largest = max(abs(e.skew or 0) for e in timed)
    return Check("clock-skew", "pass", f"Every timestamp within {largest:.0f} s of the clock.")


def signature_failures(events: Sequence[Event]) -> Check:
    if not events:
        return Check("signature-failures", "n/a", "No request yet.")
    mismatches = [e for e in events if e.verdict == "mismatch"]
    refused = [e for e in events if e.status == 401 and e.verdict not in ("valid", "")]
    if not refused:
        return Check("signature-failures", "pass", f"All {len(events)} request(s) verified.")
    findings = Counter(e.finding or "none" for e in mismatches)
    dominant = findings.most_common(1)[0][0] if findings else None
    rate = len(refused) / len(events)
    summary = f"{len(refused)} of {len(events)} request(s) ({rate:.0%}) failed the signature"
    if dominant:
        summary += f"; most often: {dominant}"
    return Check(
        "signature-failures",
        "warn",
        summary + ".",
        [[e.to_json() | {"verdict": e.verdict, "finding": e.finding}] for e in refused],
        {"rate": round(rate, 4), "findings": dict(findings)},
    )


def outcome_coverage(events: Sequence[Event]) -> Check:
    """Which outcomes of each endpoint the client received and then carried on after
    (a later request of the same clientId)."""
    matrix: dict[str, dict[str, dict[str, int]]] = {}
    for client_events in _by_client(events).values():
        for i, event in enumerate(client_events):
            outcome = _outcome(event)
            cell = matrix.setdefault(event.endpoint, {}).setdefault(
                outcome, {"received": 0, "survived": 0}
            )
            cell["received"] += 1
            cell["survived"] += i + 1 < len(client_events)
    if not matrix:
        return Check("outcome-coverage", "n/a", "No request yet.")
    kinds = sum(len(v) for v in matrix.values())
    return Check(
        "outcome-coverage",
        "pass",
        f"{kinds} endpoint x outcome pair(s) received.",
        details={"matrix": matrix},
    )


def _outcome(event: Event) -> str:
    applied = " (applied)" if event.applied else ""
    if event.status == 0:
        return "no answer" + applied
    if event.status == 200:
        return "success"
    if event.status >= 500:
        return "server error" + applied
    return event.refusal or str(event.status)


CHECKS = (
    retry_new_reference,
    reconcile_after_ambiguous,
    missing_reference,
    reference_reuse,
    retry_after_definitive,
    retry_storm,
    clock_skew,
    signature_failures,
    outcome_coverage,
)
ORDER = {"fail": 3, "warn": 2, "pass": 1, "n/a": 0}


def report(events: Sequence[Event]) -> dict[str, Any]:
    """Every check over ``events`` (in arrival order), and the overall verdict: ``fail`` if
    any fails, else ``warn`` if any warns, else ``pass``; ``n/a`` without any request."""
    checks = [check(events) for check in CHECKS]
    worst = max((c.status for c in checks), key=ORDER.__getitem__)
    verdict = "n/a" if not events else "pass" if worst == "n/a" else worst
    return {
        "verdict": verdict,
        "requests": len(events),
        "from": iso_ms(events[0].epoch) if events else None,
        "to": iso_ms(events[-1].epoch) if events else None,
        "checks": [c.to_json() for c in checks],
    }
