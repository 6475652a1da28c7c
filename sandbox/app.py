"""The application factory: ``create_app(config)`` builds one isolated sandbox."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from . import errors
from .api import balance, tokens, transactions, wallet
from .config import Config
from .control import bp as control_bp
from .fastpath import Direct
from .journal import BODY_LIMIT
from .state import Sandbox

MAX_BODY_BYTES = 64 * 1024  # SPEC B13
NO_SIGNATURE: dict[str, str] = {}
NOT_JOURNALED = ("/__sandbox", "/favicon.ico")  # the control plane and browsers' own asks

log = logging.getLogger("sandbox")

# The API's own messages for routing-level failures (SPEC B13).
HTTP_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    414: "URI too long",
    431: "Request header fields too large",
}
MAX_QUERY_BYTES = 8 * 1024  # a get-transactions query is a few hundred bytes
MAX_HEADER_BYTES = 16 * 1024  # all header names and values together

# Which endpoint a path belongs to, so that an unexpected failure still gets that endpoint's
# documented 500 message.
ENDPOINT_BY_PATH = {f"/api/v1/{name}": name for name in errors.ENDPOINTS}


def render(error: errors.ApiError) -> Response:
    """The one place an error becomes a response."""
    response = Response(errors.dumps(error.body), error.status_code, mimetype="application/json")
    response.headers.update(error.headers)
    return response


def _journal_path(path: str) -> str:
    # A login token in the journal would let its reader log in as that user.
    return "/login/<token>" if path.startswith("/login/") else path


def record(sandbox: Sandbox, response: Response) -> None:
    """Write one API request into the journal (control-plane requests are not journaled).

    On every request's path: plain reads of the environ and ``g``, no formatting (the journal
    formats when it is read).
    """
    environ = request.environ
    state = g.__dict__
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    kept = request.get_data(cache=True)[: BODY_LIMIT + 1] if length <= MAX_BODY_BYTES else b""
    dropped = state.get("dropped", False)
    flags = state.get("flags", [])
    tenant = state.get("tenant") or sandbox.default  # an unverified request is the operator's
    tenant.journal.record(
        epoch=tenant.clock.now(),
        method=environ["REQUEST_METHOD"],
        path=_journal_path(environ.get("PATH_INFO", "")),
        query=environ.get("QUERY_STRING", "").encode("latin-1"),
        client_id=state.get("client_id"),
        status=0 if dropped else response.status_code,
        latency=time.perf_counter() - state.get("started", time.perf_counter()),
        signature=state.get("signature", NO_SIGNATURE),
        scenario=state.get("scenario", "none"),
        request_body=kept,
        request_length=max(length, len(kept)),
        response_body=b"" if dropped else response.get_data()[: BODY_LIMIT + 1],
        flags=[*flags, "dropped"] if dropped else flags,
    )


def create_app(config: Config | None = None, sandbox: Sandbox | None = None) -> Flask:
    """Build the Flask app around a ``Sandbox`` (opened from ``config`` when not given)."""
    config = config or Config()
    sandbox = sandbox or Sandbox.open(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # OPTIONS is no method of the API: answer it 405 in the envelope, like any wrong method.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    # Paths are taken as received (SPEC B5): no merged slashes, no redirects.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["sandbox"] = sandbox

    for blueprint in (balance.bp, tokens.bp, wallet.bp, transactions.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(control_bp)

    app.register_error_handler(errors.ApiError, render)

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def name_the_scenario_and_journal(response: Response) -> Response:
        # Every response says which scenario applied, so QA sees why it got what it got.
        response.headers.setdefault("X-Sandbox-Scenario", g.get("scenario", "none"))
        if not request.path.startswith(NOT_JOURNALED):
            record(sandbox, response)
        return response

    @app.before_request
    def refuse_oversized_requests() -> None:
        if isinstance(request.routing_exception, RequestRedirect):
            raise errors.HttpError(404, HTTP_MESSAGES[404])  # a redirect would be looser
        # Before routing's verdict matters: refused on any path, in the envelope. (waitress's
        # own, larger limits stay as the last line: see serving.py.)
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise errors.HttpError(413, HTTP_MESSAGES[413])
        environ = request.environ
        if len(environ.get("QUERY_STRING", "")) > MAX_QUERY_BYTES:
            raise errors.HttpError(414, HTTP_MESSAGES[414])
        header_bytes = sum(
            len(k) + len(v) for k, v in environ.items() if k.startswith("HTTP_") and type(v) is str
        )
        if header_bytes > MAX_HEADER_BYTES:
            raise errors.HttpError(431, HTTP_MESSAGES[431])

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        message = HTTP_MESSAGES.get(status) or exc.name
        return render(errors.HttpError(status, message, headers))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # A bug, not a documented outcome: log it for the operator, answer the endpoint's
        # documented 500 without any trace of the exception.
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        name = ENDPOINT_BY_PATH.get(request.path)
        if name is not None:
            return render(errors.ServerError(name))
        return render(errors.HttpError(500, "Internal server error"))

    # The ordinary signed API requests are answered without Flask's per-request machinery
    # (the same bytes, the same journal entry); everything else reaches the app above.
    app.wsgi_app = Direct(  # type: ignore[method-assign]
        app.wsgi_app,
        sandbox,
        max_body_bytes=MAX_BODY_BYTES,
        max_query_bytes=MAX_QUERY_BYTES,
        max_header_bytes=MAX_HEADER_BYTES,
    )
    return app
