"""The baseline of bench/compare.py: a minimal Flask + waitress app that verifies a signature.

It does what every signed Sabong endpoint must do at the least, and nothing more: check
``x-timestamp`` (within 300 s) and ``x-signature`` (lowercase hex HMAC-SHA256 of
``METHOD + PATH + TIMESTAMP + PAYLOAD`` under ``sandbox-secret``, PAYLOAD the decoded query
sorted by key for a GET, the compact JSON of the body for a POST), then answer a JSON body
built per request with ``flask.jsonify``. No database, no journal, no scenarios, no doctor:

- ``GET /api/v1/get-balance?clientId=...``: the documented get-balance body;
- ``POST /api/v1/credit-balance``: an applied-credit body (nothing is stored: the number tells
  what the sandbox's durable ledger costs, not a like-for-like write);
- ``GET /api/v1/get-transactions?clientId=...&limit=N``: N (at most 100) constant rows.

A wrong or missing signature answers the documented 401. The inline check is the sandbox's
scheme for the requests the benchmark sends (ASCII queries and compact JSON bodies); it does
not do ``JSON.stringify``'s number formatting (``--signing sandbox`` verifies with
``sandbox.signing`` instead, the sandbox's own implementation).

Run: ``python bench/bare_app.py --port 0 --threads 4``; prints ``BARE_URL=http://...`` once
it can answer. SIGINT or SIGTERM stop it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import signal
import sys
import time
from types import FrameType
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask, Response, jsonify, request
from waitress.server import create_server

SECRET = b"sandbox-secret"
WINDOW = 300
URL_PREFIX = "BARE_URL="

UNAUTHORIZED = {"status": "error", "message": "Invalid signature", "data": None}
ROW = {
    "walletId": 789,
    "amount": "1.25",
    "currency": "USD",
    "type": "credit",
    "referenceId": None,
    "description": None,
    "createdAt": "2026-02-01T14:30:00.000Z",
}


def inline_payload(method: str, query_string: str, body: bytes) -> bytes | None:
    """The signed PAYLOAD, inline: sorted decoded query, or the body's compact JSON."""
    if method == "GET":
        pairs = sorted(
            (unquote_plus(k), unquote_plus(v))
            for k, _, v in (p.partition("=") for p in query_string.split("&") if p)
        )
        return "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8")
    if not body.strip():
        return b"{}"
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sandbox_payload(method: str, query_string: str, body: bytes) -> bytes | None:
    from sandbox import signing  # only with --signing sandbox

    if method == "GET":
        return signing.canonical_query(query_string)
    return signing.canonical_body(body).payload


def create_app(signing: str = "inline") -> Flask:
    payload_of = sandbox_payload if signing == "sandbox" else inline_payload
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]

    def verified() -> bool:
        timestamp = request.headers.get("x-timestamp", "")
        signature = request.headers.get("x-signature", "")
        if not (timestamp.isascii() and timestamp.isdigit() and 0 < len(timestamp) <= 12):
            return False
        if abs(time.time() - int(timestamp)) > WINDOW:
            return False
        body = request.get_data(cache=True) if request.method == "POST" else b""
        payload = payload_of(request.method, request.query_string.decode("latin-1"), body)
        message = (request.method + request.path + timestamp).encode("utf-8") + (payload or b"")
        expected = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def denied() -> Response:
        response = jsonify(UNAUTHORIZED)
        response.status_code = 401
        return response

    @app.get("/api/v1/get-balance")
    def get_balance() -> Response:
        if not verified():
            return denied()
        return jsonify(
            {
                "status": "success",
                "message": "Balance retrieved successfully",
                "data": {
                    "userId": 123,
                    "clientId": request.args.get("clientId", ""),
                    "balance": 1500.5,
                    "updatedAt": "2026-02-01T14:30:00.000Z",
                },
            }
        )

    @app.post("/api/v1/credit-balance")
    def credit_balance() -> Response:
        if not verified():
            return denied()
        body: Any = request.get_json(silent=True) or {}
        return jsonify(
            {
                "status": "success",
                "message": "Balance credited successfully",
                "data": {
                    "userId": 123,
                    "clientId": body.get("clientId", ""),
                    "amount": body.get("amount", 0),
                    "type": "credit",
                    "transactionId": 10717,
                    "balance": 1600.5,
                },
            }
        )

    @app.get("/api/v1/get-transactions")
    def get_transactions() -> Response:
        if not verified():
            return denied()
        try:
            limit = max(1, min(100, int(request.args.get("limit", "10"))))
        except ValueError:
            limit = 10
        rows = [{"id": 10000 + i, **ROW} for i in range(limit)]
        return jsonify(
            {
                "status": "success",
                "message": "Transactions retrieved successfully",
                "data": {
                    "clientId": request.args.get("clientId", ""),
                    "totalCount": limit,
                    "resultCount": limit,
                    "totalPages": 1,
                    "currentPage": 1,
                    "limit": limit,
                    "filters": {},
                    "sort": {"sortBy": "createdAt", "sortOrder": "desc"},
                    "data": rows,
                },
            }
        )

    return app


class _Stop(SystemExit):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads (default 4)")
    parser.add_argument(
        "--signing",
        choices=("inline", "sandbox"),
        default="inline",
        help="inline HMAC check (default) or sandbox.signing's canonical payload",
    )
    args = parser.parse_args(argv)
    server = create_server(
        create_app(args.signing), host=args.host, port=args.port, threads=args.threads
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    port = server.effective_port
    sys.stdout.write(f"{URL_PREFIX}http://{args.host}:{port}\n")
    sys.stdout.flush()
    try:
        server.run()
    except _Stop:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
