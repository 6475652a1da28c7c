"""The direct path of the signed API endpoints: the same answers without Flask's machinery.

For the ordinary case of get-balance, get-transactions, credit-balance and debit-balance (a
valid signature, a clientId that no scenario or override governs, a request the handler
accepts) this WSGI layer answers itself, in front of the Flask app, with the very pieces the
Flask pipeline uses: the same canonical payload and ``identify`` (``sandbox.pipeline``), the
same handler, the same ``dumps`` of the envelope, the same headers in the same order and the
same journal entry. What it skips is Flask's per request work: the request and app contexts,
the URL adapter and routing, the before/after hooks, the ``Response`` object.

Everything else goes to the Flask app untouched: other paths and methods, an oversized body,
query or headers (the 413/414/431 envelopes), a missing or wrong signature (the doctor), a
scenario, a body that is not a JSON object. A documented failure of the handler (validation,
unknown client, insufficient balance, duplicate reference) happens before anything is written,
so the request is handed to Flask, which answers it afresh with its envelope. Only an
unexpected error, after which a write may or may not have happened, is answered here, exactly
as the Flask app answers it (logged, the endpoint's documented 500), never run twice.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import signing
from .errors import SUCCESS_MESSAGES, ApiError, ServerError, dumps, envelope
from .journal import BODY_LIMIT
from .pipeline import HANDLERS, VALID, Call, Handler, identify, raw_path
from .state import Sandbox, Tenant

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

log = logging.getLogger("sandbox")  # the Flask app's logger

DIRECT = {
    ("GET", "/api/v1/get-balance"): "get-balance",
    ("GET", "/api/v1/get-transactions"): "get-transactions",
    ("POST", "/api/v1/credit-balance"): "credit-balance",
    ("POST", "/api/v1/debit-balance"): "debit-balance",
}
NO_BODY = ("", "0")
JSON = ("Content-Type", "application/json")
SCENARIO = "X-Sandbox-Scenario"
NO_SCENARIO = (SCENARIO, "none")
STATUS = {200: "200 OK", 500: "500 INTERNAL SERVER ERROR"}
RAW_BODY = "sandbox.raw_body"  # the POST body the direct path read, in the environ


class Direct:
    """WSGI middleware: answers the ordinary signed API requests, hands the rest to ``app``."""

    def __init__(
        self,
        app: WSGIApp,
        sandbox: Sandbox,
        *,
        max_body_bytes: int,
        max_query_bytes: int,
        max_header_bytes: int,
    ) -> None:
        self.app = app
        self.sandbox = sandbox
        self.max_body_bytes = max_body_bytes
        self.max_query_bytes = max_query_bytes
        self.max_header_bytes = max_header_bytes
        self.routes: dict[tuple[str, str], tuple[str, Handler, str]] = {
            key: (name, HANDLERS[name], SUCCESS_MESSAGES[name]) for key, name in DIRECT.items()
        }

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        route = self.routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if route is not None:
            answer = self.answer(environ, *route)
            if answer is not None:
                status, headers, body = answer
                start_response(STATUS[status], headers)
                return [body]
        return self.app(environ, start_response)

    def answer(
        self, environ: dict[str, Any], name: str, handler: Handler, message: str
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """(status, headers, body) of the ordinary answer, or None to let Flask answer."""
        started = time.perf_counter()
        try:
            call = self.verified(environ, name, message)
        except Exception:  # whatever it is, Flask meets it afresh: nothing was done yet
            return None
        if call is None:
            return None
        tenant, client_id = call.tenant, call.client_id or ""
        raw: bytes = environ.get(RAW_BODY, b"")
        try:
            result = handler(call)
        except ApiError:
            return None  # documented, nothing written: Flask answers it with its envelope
        except Exception as exc:
            # As the Flask app's handler of the unexpected: logged, the documented 500.
            method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO")
            log.error("unhandled error on %s %s", method, path, exc_info=exc)
            out = dumps(ServerError(name).body)
            headers = [JSON, ("Content-Length", str(len(out))), NO_SCENARIO]
            self.record(environ, tenant, client_id, 500, started, raw, out, call.flags)
            return 500, headers, out
        out = dumps(envelope("success", call.message, result))
        headers = [JSON, ("Content-Length", str(len(out)))]
        if call.headers:
            headers.extend(call.headers.items())
        if SCENARIO not in call.headers:
            headers.append(NO_SCENARIO)
        self.record(environ, tenant, client_id, 200, started, raw, out, call.flags)
        return 200, headers, out

    def verified(self, environ: dict[str, Any], name: str, message: str) -> Call | None:
        """The ``Call`` of an ordinary request (signed, in the limits, no scenario), or None.
        Reads and keeps a POST's body; writes nothing."""
        if "HTTP_TRANSFER_ENCODING" in environ:
            return None
        query_string: str = environ.get("QUERY_STRING", "")
        if len(query_string) > self.max_query_bytes:
            return None
        header_bytes = 0
        for key, value in environ.items():
            if key.startswith("HTTP_") and type(value) is str:
                header_bytes += len(key) + len(value)
        if header_bytes > self.max_header_bytes:
            return None
        params = signing.query_params(signing.parse_query(query_string))
        method: str = environ["REQUEST_METHOD"]
        length = environ.get("CONTENT_LENGTH", "")
        data: dict[str, Any] | None = None
        if method == "GET":
            if length not in NO_BODY:
                return None
            payload = signing.canonical_params(params)
            client_id = params.get("clientId")
        else:
            if not (length.isascii() and length.isdigit()) or int(length) > self.max_body_bytes:
                return None
            raw = environ["wsgi.input"].read(int(length))
            # Flask may have to read the body again; the journal reads it from here too.
            environ["wsgi.input"] = io.BytesIO(raw)
            environ[RAW_BODY] = raw
            body = signing.canonical_body(raw)
            data = body.data
            if data is None:
                return None
            json_payload = self.sandbox.config.signing_payload == "json"
            payload = body.payload if json_payload else raw
            client_id = data.get("clientId")
        if not isinstance(client_id, str) or not client_id:
            return None
        sandbox = self.sandbox
        tenant, _ = identify(
            sandbox,
            method,
            raw_path(environ),
            environ.get("HTTP_X_TIMESTAMP"),
            environ.get("HTTP_X_SIGNATURE"),
            payload,
        )
        if tenant is None or tenant.scenarios.governs(client_id):
            return None
        return Call(sandbox, tenant, name, params, data, None, message, client_id)

    @staticmethod
    def record(
        environ: dict[str, Any],
        tenant: Tenant,
        client_id: str,
        status: int,
        started: float,
        raw: bytes,
        out: bytes,
        flags: list[str],
    ) -> None:
        """The journal entry the Flask app's ``record`` writes for the same request."""
        kept = raw[: BODY_LIMIT + 1]
        tenant.journal.record(
            epoch=tenant.clock.now(),
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", "").encode("latin-1"),
            client_id=client_id,
            status=status,
            latency=time.perf_counter() - started,
            signature=VALID,
            scenario="none",
            request_body=kept,
            request_length=max(len(raw), len(kept)),
            response_body=out[: BODY_LIMIT + 1],
            flags=flags,
        )
