"""The application factory: ``create_app(config)`` builds one isolated sandbox.

The Flask app is the WSGI application. Every ``/api/v1/*`` request is handed, through the
app's ``wsgi_app`` hook, to the one API pipeline (``sandbox.api.pipeline``), which is plain
Python; the rest (the control plane, the inspector, the login page, any other path) are Flask
blueprints and error handlers. See the README's "Layout" for why the API is dispatched before
Flask's routing rather than through a view.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request
from flask import Request as FlaskRequest
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import RequestRedirect
from werkzeug.wsgi import get_host

from . import errors, limits
from .api import PREFIX
from .api.exchange import Request
from .api.pipeline import handle
from .auth import raw_path
from .config import Config
from .control import bp as control_bp
from .journal import BODY_LIMIT, Entry
from .login import bp as login_bp
from .state import Sandbox

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
NOT_JOURNALED = ("/__sandbox", "/favicon.ico")  # the control plane and browsers' own asks


def render(error: errors.ApiError) -> Response:
    """A documented failure outside the API (control plane, routing) as a Flask response."""
    response = Response(errors.dumps(error.body), error.status_code, mimetype="application/json")
    response.headers.update(error.headers)
    return response


class WaitressConnection:
    """The client's connection under waitress, for the faults that hold or drop it."""

    def __init__(self, disconnected: Callable[[], bool]) -> None:
        self._disconnected = disconnected

    def gone(self) -> bool:
        return bool(self._disconnected())

    def drop(self) -> bool:
        # The request's channel is reachable from waitress's disconnect check; shutting its
        # socket down makes the client see the connection closed before any byte of a response.
        channel = getattr(self._disconnected, "__self__", None)
        sock = getattr(channel, "socket", None)
        if sock is None:
            return False
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return True

    def local_url(self) -> str | None:
        channel = getattr(self._disconnected, "__self__", None)
        sock = getattr(channel, "socket", None)
        try:
            address, port = sock.getsockname()[:2] if sock is not None else (None, None)
        except OSError:
            return None
        if address is None:
            return None
        return f"http://[{address}]:{port}/" if ":" in address else f"http://{address}:{port}/"


PIPELINE_HEADERS = (
    ("x-timestamp", "HTTP_X_TIMESTAMP"),
    ("x-signature", "HTTP_X_SIGNATURE"),
    ("content-type", "CONTENT_TYPE"),  # WSGI keeps it apart from the HTTP_* headers
)


def host_of(environ: dict[str, Any]) -> str:
    """The Host the client addressed, as werkzeug's ``get_host`` gives it (a scheme's default
    port dropped), without its cost on every request."""
    host = environ.get("HTTP_HOST")
    if not host:
        return get_host(environ)
    default = ":443" if environ.get("wsgi.url_scheme") == "https" else ":80"
    return str(host[: -len(default)] if host.endswith(default) else host)


def describe(environ: dict[str, Any]) -> Request:
    """The pipeline's description of a WSGI request. The body is read only within the limit
    (waitress has buffered it already); an announced larger one is the pipeline's 413."""
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if 0 < length <= limits.MAX_BODY_BYTES else b""
    # Only the headers the pipeline reads (the signature, the body's type); the rest of the
    # environ is left alone: this runs for every request.
    headers = {name: environ[key] for name, key in PIPELINE_HEADERS if key in environ}
    disconnected = environ.get("waitress.client_disconnected")
    return Request(
        method=environ["REQUEST_METHOD"],
        path=raw_path(environ),
        route_path=environ.get("PATH_INFO", ""),
        query=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=body,
        content_length=length,
        header_bytes=limits.header_bytes(environ),
        host_url=f"{environ['wsgi.url_scheme']}://{host_of(environ)}/",
        connection=WaitressConnection(disconnected) if disconnected is not None else None,
    )


class ApiDispatch:
    """The ``wsgi_app`` hook: ``/api/v1/*`` to the API pipeline, everything else to Flask."""

    def __init__(self, app: WSGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.app(environ, start_response)
        answer = handle(self.sandbox, describe(environ))
        if answer.status == 0:  # the connection was dropped: nothing will reach the client
            start_response("200 OK", [("Content-Length", "0")])
            return []
        start_response(
            f"{answer.status} {HTTP_STATUS_CODES[answer.status].upper()}", answer.headers
        )
        # HEAD: the headers of the GET, Content-Length included, and no body.
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [answer.body]


class TimedRequest(FlaskRequest):
    """Flask's request, with the time it arrived (for the journal's latency)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started = time.perf_counter()


def _journal_path(path: str) -> str:
    # A login token in the journal would let its reader log in as that user.
    return "/login/<token>" if path.startswith("/login/") else path


def record(sandbox: Sandbox, response: Response) -> None:
    """Journal a request outside the API (the login page, an unknown path)."""
    environ = request.environ
    length = request.content_length or 0
    kept = (
        request.get_data(cache=True)[: BODY_LIMIT + 1] if length <= limits.MAX_BODY_BYTES else b""
    )
    tenant = sandbox.default  # no signature: the operator's
    answer = response.get_data()
    tenant.journal.add(
        Entry(
            epoch=tenant.clock.now(),
            method=environ["REQUEST_METHOD"],
            path=_journal_path(environ.get("PATH_INFO", "")),
            query=environ.get("QUERY_STRING", "").encode("latin-1"),
            client_id=None,
            status=response.status_code,
            latency=time.perf_counter() - getattr(request, "started", time.perf_counter()),
            signature=None,
            scenario="none",
            request_body=kept,
            request_length=max(length, len(kept)),
            response_body=answer[: BODY_LIMIT + 1],
            response_length=len(answer),
            flags=[],
        )
    )


def create_app(config: Config | None = None, sandbox: Sandbox | None = None) -> Flask:
    """Build the Flask app around a ``Sandbox`` (opened from ``config`` when not given)."""
    config = config or Config()
    sandbox = sandbox or Sandbox.open(config)
    app = Flask(__name__)
    app.request_class = TimedRequest
    app.config["MAX_CONTENT_LENGTH"] = limits.MAX_BODY_BYTES
    # OPTIONS is no method of the sandbox: answer it 405 in the envelope, like any wrong method.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    # Paths are taken as received (SPEC B5): no merged slashes, no redirects.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["sandbox"] = sandbox

    app.register_blueprint(control_bp)
    app.register_blueprint(login_bp)
    app.register_error_handler(errors.ApiError, render)

    @app.before_request
    def refuse_oversized_requests() -> None:
        if isinstance(request.routing_exception, RequestRedirect):
            raise errors.HttpError(404, errors.HTTP_MESSAGES[404])  # a redirect would be looser
        environ = request.environ
        limits.check(
            request.content_length,
            len(environ.get("QUERY_STRING", "")),
            limits.header_bytes(environ),
        )

    @app.after_request
    def name_the_scenario_and_journal(response: Response) -> Response:
        response.headers.setdefault("X-Sandbox-Scenario", "none")  # as every API answer
        if not request.path.startswith(NOT_JOURNALED):
            record(sandbox, response)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        message = errors.HTTP_MESSAGES.get(status) or exc.name
        return render(errors.HttpError(status, message, headers))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # A bug: logged for the operator, answered without any trace of the exception.
        sandbox.incidents.report(f"{request.method} {request.path}", exc)
        return render(errors.HttpError(500, "Internal server error"))

    app.wsgi_app = ApiDispatch(app.wsgi_app, sandbox)  # type: ignore[method-assign]
    return app
