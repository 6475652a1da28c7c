"""The API request pipeline, written once (SPEC B8)::

    signature -> forced scenario -> validation -> lookup -> operation -> envelope

``endpoint`` wraps a handler: it canonicalizes the request, verifies the signature through
``sandbox.signing`` (the one implementation of the scheme), and hands the handler a ``Call``
with the parsed parameters. Handlers validate, look up, operate and return the success
``data``; every failure is an ``ApiError`` rendered by ``sandbox.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, current_app, request

from . import signing
from .errors import SUCCESS_MESSAGES, InvalidSignature, ValidationFailed, dumps, envelope
from .state import Sandbox

Handler = Callable[["Call"], Any]


@dataclass
class Call:
    """One verified API request, as a handler sees it."""

    sandbox: Sandbox
    endpoint: str
    params: dict[str, str]  # decoded query parameters (repeated keys joined with ",")
    body: dict[str, Any] | None  # the parsed JSON object of a POST, None for GET or a bad body
    body_problem: str | None  # why a POST body is not a JSON object
    message: str = ""  # the success message (the endpoint's documented one by default)
    headers: dict[str, str] = field(default_factory=dict)  # extra X-Sandbox-* headers


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
        return path
    return (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"


def signature_headers(verdict: signing.Verdict) -> dict[str, str]:
    """The ``X-Sandbox-*`` headers that explain a 401 (SPEC B2); never contains a secret."""
    headers = {
        "X-Sandbox-Signature-Reason": verdict.reason or "valid",
        "X-Sandbox-Signature-Detail": verdict.detail,
    }
    if verdict.string_to_sign is not None:
        headers["X-Sandbox-String-To-Sign"] = signing.header_safe(verdict.string_to_sign)
    return headers


def endpoint(name: str) -> Callable[[Handler], Callable[[], Response]]:
    """Make ``handler`` an API endpoint: signed, then validated, then answered in the envelope."""
    message = SUCCESS_MESSAGES[name]

    def decorate(handler: Handler) -> Callable[[], Response]:
        @wraps(handler)
        def view() -> Response:
            sandbox: Sandbox = current_app.extensions["sandbox"]
            config = sandbox.config
            environ = request.environ
            method = request.method
            query_string = environ.get("QUERY_STRING", "")
            body: signing.Body | None = None
            if method == "GET" or method == "HEAD":
                payload = signing.canonical_query(query_string)
            else:
                body = signing.canonical_body(request.get_data(cache=True))
                payload = body.payload if config.signing_payload == "json" else request.get_data()
            verdict = signing.verify(
                config.secret,
                method,
                raw_path(environ),
                request.headers.get("x-timestamp"),
                request.headers.get("x-signature"),
                payload,
                now=sandbox.clock.now(),
                window=config.timestamp_window,
            )
            if not verdict.ok:
                raise InvalidSignature(signature_headers(verdict))
            params = signing.query_params(signing.parse_query(query_string))
            call = Call(
                sandbox,
                name,
                params,
                body.data if body else None,
                body.problem if body else None,
                message,
            )
            data = handler(call)
            response = Response(
                dumps(envelope("success", call.message, data)), 200, mimetype="application/json"
            )
            if call.headers:
                response.headers.update(call.headers)
            return response

        return view

    return decorate
