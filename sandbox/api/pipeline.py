"""The API request pipeline, written once: every ``/api/v1/*`` request goes through ``handle``.

::

    limits -> route -> signature (+ doctor) -> forced scenario -> validation -> lookup
           -> operation -> envelope -> journal

Plain Python, no Flask: it takes a ``Request`` (method, raw path, query, headers, body bytes)
and returns an ``Answer`` (status, headers, body) after writing one journal entry. The steps
in order (SPEC B8, B13):

1. *limits*: a body, query or header block over its limit is a 413, 414 or 431;
2. *route*: an unknown path is a 404, a method the route does not answer a 405;
3. *signature*: no signature header, no or a stale timestamp is a 401 before the body is even
   parsed; otherwise the body is parsed (once) and the HMAC checked against every tenant's
   secret; a mismatch gets the doctor's diagnosis in ``X-Sandbox-*`` headers;
4. *forced scenario*: the clientId's scenario step, if any, answers instead (``apply``);
5. the route's *handler* validates, looks up and operates (every documented failure is an
   ``ApiError``), and returns the success ``data``, put in the *envelope*;
6. the *journal* gets one entry, whatever happened, in the verifying tenant's journal (the
   operator's for a request no secret verified).

Anything unexpected is logged and answered with the endpoint's documented 500, without a trace.
"""

from __future__ import annotations

import hashlib
import time

from .. import auth, signing
from ..errors import (
    HTTP_MESSAGES,
    ApiError,
    HeldCapacity,
    HttpError,
    InsufficientBalance,
    InvalidSignature,
    ServerError,
    UserNotFound,
    ValidationFailed,
    dumps,
    envelope,
)
from ..journal import BODY_LIMIT, VALID, Entry, SignatureReport
from ..limits import MAX_BODY_BYTES, check
from ..scenarios import Decision, Step
from ..state import Sandbox
from ..store import money
from . import BY_PATH, RESPONSES, Route
from .exchange import Answer, Exchange, Request
from .faults import GONE, drop, hold, malform

JSON_TYPE = ("Content-Type", "application/json")
JOURNALED_HEADERS = ("x-timestamp", "x-signature", "content-type")
HEADER_KEPT = 256  # characters of a journaled request header
SCENARIO_HEADER = "X-Sandbox-Scenario"


def handle(sandbox: Sandbox, request: Request) -> Answer:
    """Answer one API request and journal it (the whole pipeline)."""
    exchange = Exchange(request, sandbox, sandbox.default, time.perf_counter())
    route: Route | None = None
    try:
        check(request.content_length, len(request.query), request.header_bytes)
        route = find_route(request)
        exchange.endpoint = route.name
        exchange.message = route.success
        answer = verify_and_answer(exchange, route)
    except ApiError as error:
        answer = refused(exchange, error)
    except Exception as exc:
        # A bug or a failing disk, not a documented outcome: logged for the operator (once per
        # interval and kind), answered with the endpoint's documented 500 and no trace of it.
        sandbox.incidents.report(f"{request.method} {request.route_path}", exc)
        failure = ServerError(route.failure) if route else HttpError(500, "Internal server error")
        answer = error_answer(failure)
    headers = answer.headers
    if not any(name == SCENARIO_HEADER for name, _ in headers):
        # Every response says which scenario applied, so QA sees why it got what it got.
        headers = [*headers, (SCENARIO_HEADER, exchange.scenario)]
    answer = journal(exchange, Answer(answer.status, headers, answer.body))
    if route is not None:
        remember(exchange, answer)
    return answer


def find_route(request: Request) -> Route:
    """The route of the request's path (a trailing '/' is tolerated), or the 404/405."""
    path = request.route_path
    route = BY_PATH.get(path[:-1] if path.endswith("/") else path)
    if route is None:
        raise HttpError(404, HTTP_MESSAGES[404])
    if request.method not in route.methods:
        raise HttpError(405, HTTP_MESSAGES[405], {"Allow": ", ".join(route.methods)})
    return route


def verify_and_answer(exchange: Exchange, route: Route) -> Answer:
    """The signature step, then the forced scenario or the handler."""
    request = exchange.request
    if signing.signs_query(request.method):
        exchange.params = signing.query_params(signing.parse_query(request.query))
        client_id = exchange.params.get("clientId")
    else:
        client_id = None  # a POST's clientId comes from its body only, once it is parsed
    headers = request.headers
    checked = auth.authenticate(
        exchange.sandbox,
        request.method,
        request.path,
        request.query,
        headers.get("x-timestamp"),
        headers.get("x-signature"),
        request.body,
    )
    exchange.body = checked.body
    if checked.body is not None:
        data = checked.body.data or {}
        client_id = data.get("clientId")
    exchange.client_id = client_id if isinstance(client_id, str) and client_id else None
    if checked.tenant is None:
        refuse(exchange, checked)
    assert checked.tenant is not None
    exchange.tenant = checked.tenant
    exchange.signature = VALID
    decision = None
    if exchange.client_id is not None:
        decision = checked.tenant.scenarios.pick(exchange.client_id, route.name)
    if decision is None:
        return run(exchange, route)
    # clientIds are data: escaped for the header like a StringToSign
    exchange.scenario = signing.header_safe(decision.label.encode("utf-8", "surrogatepass"), 512)
    return apply(exchange, route, decision)


def refuse(exchange: Exchange, checked: auth.Authentication) -> None:
    """Raise the 401 of a request no secret verifies, with the doctor's finding (SPEC B2)."""
    verdict = checked.verdict
    request = exchange.request
    finding = None
    if verdict.reason == signing.MISMATCH:  # both headers present, timestamp in the window
        finding = auth.diagnose(
            exchange.sandbox,
            request.method,
            request.path,
            request.query,
            request.body,
            request.headers.get("x-timestamp", ""),
            request.headers.get("x-signature", ""),
            checked.body,
        )
    headers = auth.signature_headers(verdict, finding)
    signed = verdict.string_to_sign
    report = SignatureReport(
        verdict.reason or "valid",
        verdict.detail,
        None if signed is None else text_of(signed),
        finding.message if finding else None,
        finding.code if finding else None,
    )
    exchange.signature = report
    explain = exchange.sandbox.config.explain_in_body
    raise InvalidSignature(headers, report.to_json() if explain else None)


def text_of(message: bytes, limit: int = 2048) -> str:
    """A StringToSign for the journal: its real characters (JSON carries any), cut at
    ``limit``; headers carry it escaped instead (``signing.header_safe``)."""
    text = message.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + f"...[{len(text) - limit} more]"


def run(exchange: Exchange, route: Route) -> Answer:
    """The handler (validation, lookup, operation), its result in the success envelope."""
    data = route.handler(exchange)
    body = dumps(envelope("success", exchange.message, data))
    headers = [JSON_TYPE, ("Content-Length", str(len(body))), *exchange.headers.items()]
    return Answer(200, headers, body)


def error_answer(error: ApiError) -> Answer:
    """The one place a documented failure becomes an answer."""
    body = dumps(error.body)
    headers = [JSON_TYPE, ("Content-Length", str(len(body))), *error.headers.items()]
    return Answer(error.status_code, headers, body)


# --------------------------------------------------------------------------- forced scenarios


def apply(exchange: Exchange, route: Route, decision: Decision) -> Answer:
    """Answer as the scenario step says, after its delay; a step that holds the request
    (a delay, a timeout) takes one of the capped slots for held requests first."""
    step = decision.step
    if step.outcome in RESPONSES and step.outcome not in route.outcomes:
        # A client-wide scenario forcing what this endpoint never answers (not-found on
        # generate-auth-token): the contract wins, the request is answered normally.
        exchange.scenario += "; not an outcome of this endpoint: answered normally"
        return run(exchange, route)
    delay = exchange.tenant.scenarios.delay_seconds(step)
    if not delay and step.outcome != "timeout":
        return settle(exchange, route, step, 0.0)
    with exchange.sandbox.holds.slot(exchange.tenant.name) as free:
        if not free:
            raise HeldCapacity()
        return settle(exchange, route, step, delay)


def settle(exchange: Exchange, route: Route, step: Step, delay: float) -> Answer:
    """The step's outcome, after ``delay`` seconds."""
    connection = exchange.request.connection
    if delay and not hold(delay, connection):
        return client_gone(exchange)
    outcome = step.outcome
    if outcome == "success":
        return run(exchange, route)
    if outcome == "validation":
        raise ValidationFailed(step.errors or route.example_errors)
    if outcome == "not-found":
        raise UserNotFound()
    if outcome == "invalid-signature":
        raise InvalidSignature(
            {
                "X-Sandbox-Signature-Reason": "forced",
                "X-Sandbox-Signature-Detail": "Forced by a scenario; the signature was valid.",
            }
        )
    if outcome == "server-error":
        raise ServerError(route.failure)
    if outcome == "insufficient-balance":
        raise insufficient(exchange)
    if outcome == "timeout":
        return run(exchange, route) if hold(step.after, connection) else client_gone(exchange)
    if outcome == "drop":
        return dropped(exchange)
    if outcome == "malformed":  # marked, so that a validating proxy can tell it was forced
        return malform(settled(exchange, route), step.body)
    if outcome == "applied-then-failed":
        answer = settled(exchange, route)
        if answer.status != 200:
            return answer  # nothing was applied (invalid, unknown, insufficient): say so
        if step.then == "drop":
            return dropped(exchange)
        raise ServerError(route.failure)  # committed, yet the client hears a failure
    raise AssertionError(f"unhandled outcome {outcome}")


def settled(exchange: Exchange, route: Route) -> Answer:
    """The request run normally, a documented failure turned into its answer."""
    try:
        return run(exchange, route)
    except ApiError as error:
        return refused(exchange, error)


def refused(exchange: Exchange, error: ApiError) -> Answer:
    """A documented failure's answer, its kind noted for the readiness report."""
    exchange.refusal = REFUSALS.get(type(error).__name__, f"http-{error.status_code}")
    return error_answer(error)


def client_gone(exchange: Exchange) -> Answer:
    exchange.flags.append("client-gone")
    return GONE


def dropped(exchange: Exchange) -> Answer:
    answer = drop(exchange.request.connection)
    exchange.dropped = True
    return answer


def insufficient(exchange: Exchange) -> InsufficientBalance:
    """The forced 400 ``Insufficient balance``, with the wallet's real balance."""
    client_id = exchange.client_id
    wallet = exchange.tenant.store.balance(client_id) if client_id else None
    data = exchange.body.data if exchange.body is not None else None
    amount = data.get("amount") if data else None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount != amount:
        amount = 0
    elif float(amount).is_integer() and abs(amount) < 2**53:
        amount = int(amount)  # JSON says 5, as JavaScript prints it, not 5.0
    return InsufficientBalance(money(wallet.cents) if wallet else 0, amount)


# --------------------------------------------------------------------------- the journal


# What kind of refusal each documented failure is, for the readiness report.
REFUSALS = {
    "ValidationFailed": "validation",
    "UserNotFound": "not-found",
    "InvalidSignature": "invalid-signature",
    "InsufficientBalance": "insufficient-balance",
    "DuplicateReference": "duplicate-reference",
    "HeldCapacity": "held-capacity",
}


def remember(exchange: Exchange, answer: Answer) -> None:
    """The request's event for the readiness report (``sandbox.readiness``): its outcome as
    the client saw it, and whether the ledger changed."""
    request = exchange.request
    stamp = request.headers.get("x-timestamp", "")
    now = exchange.tenant.clock.now()
    signed = exchange.body.payload if exchange.body is not None else request.query.encode()
    operation = exchange.operation or asked(exchange)
    gone = exchange.dropped or "client-gone" in exchange.flags
    signature = exchange.signature
    exchange.tenant.history.record(
        epoch=now,
        endpoint=exchange.endpoint,
        client_id=exchange.client_id,
        status=0 if gone else answer.status,
        applied=exchange.applied,
        kind=operation[0] if operation else None,
        amount_cents=operation[1] if operation else None,
        reference=operation[2] if operation else None,
        fingerprint=hashlib.blake2b(signed, digest_size=8).hexdigest(),
        skew=now - int(stamp) if stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 else None,
        verdict=signature.verdict if signature else "",
        finding=signature.finding_code if signature else None,
        refusal=exchange.refusal,
    )


def asked(exchange: Exchange) -> tuple[str, int, str | None] | None:
    """The credit/debit a request asked for, when a scenario answered before validation."""
    data = exchange.body.data if exchange.body is not None else None
    if exchange.endpoint not in ("credit-balance", "debit-balance") or not data:
        return None
    amount, reference = data.get("amount"), data.get("reference")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 < amount < 1e12:
        return None
    kind = "credit" if exchange.endpoint == "credit-balance" else "debit"
    return kind, round(amount * 100), reference if isinstance(reference, str) else None


def journal(exchange: Exchange, answer: Answer) -> Answer:
    """Write the request's one journal entry; returns the answer carrying it."""
    request = exchange.request
    length = request.content_length
    kept = request.body[: BODY_LIMIT + 1] if length <= MAX_BODY_BYTES else b""
    tenant = exchange.tenant
    entry = Entry(
        epoch=tenant.clock.now(),
        method=request.method,
        path=request.route_path,
        query=request.query.encode("latin-1"),
        client_id=exchange.client_id,
        status=0 if exchange.dropped else answer.status,
        latency=time.perf_counter() - exchange.started,
        signature=exchange.signature,
        scenario=exchange.scenario,
        request_body=kept,
        request_length=max(length, len(kept)),
        response_body=answer.body[: BODY_LIMIT + 1],
        response_length=len(answer.body),
        flags=[*exchange.flags, "dropped"] if exchange.dropped else exchange.flags,
        request_headers=tuple(
            (name, request.headers[name][:HEADER_KEPT])
            for name in JOURNALED_HEADERS
            if name in request.headers
        ),
        response_headers=tuple(answer.headers),
    )
    tenant.journal.add(entry)
    return Answer(answer.status, answer.headers, answer.body, entry)
