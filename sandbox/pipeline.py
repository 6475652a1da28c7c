"""The API request pipeline, written once (SPEC B8)::

    signature -> forced scenario -> validation -> lookup -> operation -> envelope

``endpoint`` wraps a handler: it canonicalizes the request, verifies the signature through
``sandbox.signing`` (the one implementation of the scheme), applies the scenario chosen for the
request's clientId (``sandbox.scenarios``), and hands the handler a ``Call`` with the parsed
parameters. Handlers validate, look up, operate and return the success ``data``; every failure
is an ``ApiError``, rendered by the app's one renderer.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, current_app, g, request

from . import doctor, responses, signing
from .errors import (
    SUCCESS_MESSAGES,
    ApiError,
    InsufficientBalance,
    InvalidSignature,
    ServerError,
    UserNotFound,
    ValidationFailed,
    dumps,
    envelope,
)
from .scenarios import Decision
from .state import Sandbox, Tenant
from .store import money

Handler = Callable[["Call"], Any]
# Every endpoint's handler by name, for the direct path (sandbox.fastpath).
HANDLERS: dict[str, Handler] = {}
VALID = {"verdict": "valid"}
SCENARIO_HEADER = "X-Sandbox-Scenario"


@dataclass
class Call:
    """One verified API request, as a handler sees it."""

    sandbox: Sandbox
    tenant: Tenant  # whose secret verified the request: whose ledger, journal, scenarios
    endpoint: str
    params: dict[str, str]  # decoded query parameters (repeated keys joined with ",")
    body: dict[str, Any] | None  # the parsed JSON object of a POST, None for GET or a bad body
    body_problem: str | None  # why a POST body is not a JSON object
    message: str = ""  # the success message (the endpoint's documented one by default)
    client_id: str | None = None  # from the query (GET) or the JSON body (POST), when a string
    headers: dict[str, str] = field(default_factory=dict)  # extra X-Sandbox-* headers
    flags: list[str] = field(default_factory=list)  # journal flags, e.g. duplicate-reference


def require_object(call: Call) -> dict[str, Any]:
    """The POST body as an object, or the 400 that says why it is not one (SPEC B3)."""
    if call.body is None:
        raise ValidationFailed({"body": [call.body_problem or "The body must be a JSON object."]})
    return call.body


def raw_path(environ: dict[str, Any]) -> str:
    """The path exactly as the client sent it, without the query string (SPEC B5)."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri:
        path = uri.split("?", 1)[0]
        if "://" in path:  # absolute-form request target: keep only the path
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return str(path)
    return (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"


def signature_headers(
    verdict: signing.Verdict, finding: doctor.Finding | None = None
) -> dict[str, str]:
    """The ``X-Sandbox-*`` headers that explain a 401 (SPEC B2); never contains a secret."""
    headers = {
        "X-Sandbox-Signature-Reason": verdict.reason or "valid",
        "X-Sandbox-Signature-Detail": verdict.detail,
    }
    if verdict.string_to_sign is not None:
        headers["X-Sandbox-String-To-Sign"] = signing.header_safe(verdict.string_to_sign)
    if finding is not None:
        headers["X-Sandbox-Signature-Finding"] = finding.code
        headers["X-Sandbox-Signature-Doctor"] = doctor.header_value(finding)
    return headers


def endpoint(name: str) -> Callable[[Handler], Callable[[], Response]]:
    """Make ``handler`` an API endpoint: signed, then validated, then answered in the envelope."""
    message = SUCCESS_MESSAGES[name]

    def decorate(handler: Handler) -> Callable[[], Response]:
        HANDLERS[name] = handler

        def run(call: Call) -> Response:
            try:
                data = handler(call)
            finally:
                if call.flags:
                    g.flags = call.flags  # the journal's, also when the handler raised
            response = Response(
                dumps(envelope("success", call.message, data)), 200, mimetype="application/json"
            )
            if call.headers:
                response.headers.update(call.headers)
            return response

        @wraps(handler)
        def view() -> Response:
            sandbox: Sandbox = current_app.extensions["sandbox"]
            call = verified_call(sandbox, name, message)
            engine = call.tenant.scenarios
            decision = engine.pick(call.client_id, name) if call.client_id else None
            if decision is None:
                return run(call)
            # clientIds are data: escaped for the header like a StringToSign
            g.scenario = signing.header_safe(decision.label.encode("utf-8", "surrogatepass"), 512)
            return apply_scenario(call, decision, run)

        return view

    return decorate


def verified_call(sandbox: Sandbox, name: str, message: str) -> Call:
    """Canonicalize the request and check its signature; raises ``InvalidSignature``."""
    config = sandbox.config
    environ = request.environ
    method = request.method
    query_string = environ.get("QUERY_STRING", "")
    body: signing.Body | None = None
    raw = b""
    params = signing.query_params(signing.parse_query(query_string))
    if method == "GET" or method == "HEAD":
        payload = signing.canonical_params(params)
    else:
        raw = request.get_data(cache=True)
        body = signing.canonical_body(raw)
        payload = body.payload if config.signing_payload == "json" else raw
    data = body.data if body else None
    # A POST's clientId comes from its body only, never from the query string.
    raw_client = (params if body is None else data or {}).get("clientId")
    client_id = raw_client if isinstance(raw_client, str) and raw_client else None
    g.client_id = client_id
    path = raw_path(environ)
    timestamp = environ.get("HTTP_X_TIMESTAMP")  # what request.headers.get("x-timestamp") reads
    signature = environ.get("HTTP_X_SIGNATURE")
    tenant, verdict = identify(sandbox, method, path, timestamp, signature, payload)
    if tenant is None:
        finding = None
        if verdict.reason == signing.MISMATCH:  # both headers present, timestamp in the window
            default = sandbox.default
            finding = doctor.diagnose(
                method,
                path,
                query_string,
                raw,
                timestamp or "",
                signature or "",
                default.secret,
                {t.name: t.secret for t in sandbox.tenants.values() if t is not default},
                raw_payload=config.signing_payload == "raw",
                parsed=body,
            )
        headers = signature_headers(verdict, finding)
        g.signature = {"verdict": verdict.reason, "detail": verdict.detail}
        if "X-Sandbox-String-To-Sign" in headers:
            g.signature["stringToSign"] = headers["X-Sandbox-String-To-Sign"]
        if finding is not None:
            g.signature["finding"] = finding.message  # the inspector shows it
            g.signature["findingCode"] = finding.code
        raise InvalidSignature(headers, g.signature if config.explain_in_body else None)
    g.signature = VALID
    g.tenant = tenant
    problem = body.problem if body else None
    return Call(sandbox, tenant, name, params, data, problem, message, client_id)


def identify(
    sandbox: Sandbox,
    method: str,
    path: str,
    timestamp: str | None,
    signature: str | None,
    payload: bytes,
) -> tuple[Tenant | None, signing.Verdict]:
    """The tenant whose secret (and clock) verifies the request, or None with the default
    tenant's verdict. The secret that verifies a request selects the partner (SPEC B7)."""
    window = sandbox.config.timestamp_window
    first: signing.Verdict | None = None
    for tenant in sandbox.tenants.values():
        verdict = signing.verify(
            tenant.secret,
            method,
            path,
            timestamp,
            signature,
            payload,
            now=tenant.clock.now(),
            window=window,
        )
        if verdict.ok:
            return tenant, verdict
        first = first or verdict
    assert first is not None
    return None, first


# --------------------------------------------------------------------------- forced scenarios


def apply_scenario(call: Call, decision: Decision, run: Callable[[Call], Response]) -> Response:
    """Answer ``call`` as the scenario step says (after its delay)."""
    step = decision.step
    delay = call.tenant.scenarios.delay_seconds(step)
    if delay and not hold(delay):
        return client_gone()
    outcome = step.outcome
    endpoint_name = call.endpoint
    if outcome == "success":
        return run(call)
    if outcome == "validation":
        errors = step.errors or responses.endpoint_info(endpoint_name)["validationErrors"]
        raise ValidationFailed(errors)
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
        raise ServerError(endpoint_name)
    if outcome == "insufficient-balance":
        raise _insufficient(call)
    if outcome == "timeout":
        return run(call) if hold(step.after) else client_gone()
    if outcome == "drop":
        return drop_connection()
    if outcome == "malformed":
        return malform(_answer(call, run), step.body)
    if outcome == "applied-then-failed":
        answer = _answer(call, run)
        if answer.status_code != 200:
            return answer  # nothing was applied (invalid, unknown, insufficient): say so
        if step.then == "drop":
            return drop_connection()
        raise ServerError(endpoint_name)  # committed, yet the client hears a failure
    raise AssertionError(f"unhandled outcome {outcome}")


HOLD_POLL_SECONDS = 0.05


def hold(seconds: float) -> bool:
    """Wait ``seconds`` in the worker thread; False as soon as the client has gone away.

    A delay or a timeout must not keep a worker busy for a client that gave up long ago:
    under waitress the channel tells whether its client disconnected.
    """
    gone = request.environ.get("waitress.client_disconnected")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if gone is not None and gone():
            return False
        time.sleep(min(HOLD_POLL_SECONDS, left))
    return True


def client_gone() -> Response:
    """The client disconnected while held: nothing to answer, nothing was performed."""
    g.flags = [*g.get("flags", []), "client-gone"]
    return Response(b"", 200)


def _answer(call: Call, run: Callable[[Call], Response]) -> Response:
    """Run the request normally, turning a documented failure into its response."""
    try:
        return run(call)
    except ApiError as error:
        return Response(dumps(error.body), error.status_code, mimetype="application/json")


def _insufficient(call: Call) -> InsufficientBalance:
    wallet = call.tenant.store.balance(call.client_id) if call.client_id else None
    amount = call.body.get("amount") if call.body else None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount != amount:
        amount = 0
    elif float(amount).is_integer() and abs(amount) < 2**53:
        amount = int(amount)  # JSON says 5, as JavaScript prints it, not 5.0
    return InsufficientBalance(money(wallet.cents) if wallet else 0, amount)


MALFORMED_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def malform(response: Response, kind: str) -> Response:
    """A 200 whose JSON body is broken: cut in half, an HTML error page, or empty."""
    body = response.get_data()
    if kind == "truncated":
        broken = body[: max(1, len(body) // 2)]
    elif kind == "html":
        broken = MALFORMED_HTML
    else:
        broken = b""
    return Response(broken, 200, mimetype="application/json")


class ConnectionDropped(ApiError):
    """Raised where there is no socket to close (an in-process test client)."""

    def __init__(self) -> None:
        super().__init__({}, {"X-Sandbox-Fault": "drop"}, 502)


def drop_connection() -> Response:
    """Close the client's connection with no response at all (the ``drop`` fault).

    Under waitress the request's channel is reachable from the environ; shutting its socket
    down makes the client see the connection closed before any byte of a response.
    """
    disconnected = request.environ.get("waitress.client_disconnected")
    channel = getattr(disconnected, "__self__", None)
    sock = getattr(channel, "socket", None)
    if sock is None:
        raise ConnectionDropped()
    g.dropped = True
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    # waitress will find the socket closed when it writes this, and drop the channel.
    return Response(b"", 200)
