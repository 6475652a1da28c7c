"""One signing rule: what ``sandbox.signing`` signs is what every surface of the server checks.

Each method the server accepts (GET, HEAD and POST on the API; GET, HEAD, PUT, POST and DELETE
on the control plane) is signed with ``sandbox.signing.sign`` in both payload modes and sent to
a live server, which must answer 200; the same request with one byte changed must get 401, so
the 200 is the signature's doing. These were three real divergences: a control-plane DELETE and
a HEAD on get-balance were refused, and in ``raw`` mode the control plane refused what the API
accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import signing
from sandbox.client import SandboxClient
from sandbox.config import DEFAULT_SECRET
from sandbox.process import ServerProcess

MODES = [signing.JSON_PAYLOAD, signing.RAW_PAYLOAD]
# (method, path, query, body): the body as a client with its own JSON spacing sends it.
REQUESTS: list[tuple[str, str, str, bytes | None]] = [
    ("GET", "/api/v1/get-balance", "clientId=CLIENT_001", None),
    ("HEAD", "/api/v1/get-balance", "clientId=CLIENT_001", None),
    ("GET", "/api/v1/get-transactions", "clientId=CLIENT_001&limit=2&sortOrder=asc", None),
    ("POST", "/api/v1/credit-balance", "", b'{"clientId": "CLIENT_001", "amount": 1.50}'),
    ("GET", "/__sandbox/requests", "limit=1", None),
    ("HEAD", "/__sandbox/scenarios", "", None),
    ("PUT", "/__sandbox/scenarios/SIGNED_QA", "", b'{"outcome": "success", "times": 2}'),
    ("DELETE", "/__sandbox/scenarios/SIGNED_QA", "", None),
    ("POST", "/__sandbox/clock", "", b'{"offsetSeconds": 0}'),
]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerProcess]]:
    started: dict[str, ServerProcess] = {}
    try:
        for mode in MODES:
            started[mode] = ServerProcess(
                ["--port", "0", "--db", ":memory:", "--quiet", "--signing-payload", mode]
            )
        yield started
    finally:
        for server in started.values():
            server.stop()


def send(
    server: ServerProcess, method: str, path: str, query: str, body: bytes | None, signature: str
) -> Any:
    headers = {"x-timestamp": TIMESTAMP, "x-signature": signature}
    if body is not None:
        headers["content-type"] = "application/json"
    url = server.url + path + ("?" + query if query else "")
    return SandboxClient(server.url).send(method, url, body, headers)


TIMESTAMP = str(int(time.time()))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("method", "path", "query", "body"), REQUESTS, ids=[f"{r[0]} {r[1]}" for r in REQUESTS]
)
def test_every_method_signed_with_sandbox_signing_is_accepted(
    servers: dict[str, ServerProcess],
    mode: str,
    method: str,
    path: str,
    query: str,
    body: bytes | None,
) -> None:
    server = servers[mode]
    signature = signing.sign(
        DEFAULT_SECRET, method, path, TIMESTAMP, query=query, body=body, mode=mode
    )
    reply = send(server, method, path, query, body, signature)
    assert reply.status == 200, reply.body
    if method != "HEAD":
        assert json.loads(reply.body)["status"] == "success"
    tampered = (query + "&x=1") if signing.signs_query(method) else query
    tampered_body = body if signing.signs_query(method) else (body or b"") + b" "
    if mode == signing.JSON_PAYLOAD and not signing.signs_query(method):
        tampered_body = (body or b"{}")[:-1] + b',"x":1}'  # whitespace is not signed in json
    refused = send(server, method, path, tampered, tampered_body, signature)
    assert refused.status == 401
    assert refused.headers["X-Sandbox-Signature-Reason"] == "mismatch"


def test_a_delete_signs_its_query_and_a_head_signs_as_head() -> None:
    ts = "1780000000"
    for method in ("GET", "HEAD", "DELETE"):
        expected = signing.hmac_hex("s", signing.string_to_sign(method, "/p", ts, b"a=1&b=x y"))
        assert signing.sign("s", method, "/p", ts, query="b=x+y&a=1") == expected
        assert signing.sign("s", method.lower(), "/p", ts, query={"b": "x y", "a": 1}) == expected
    for method in ("POST", "PUT"):
        expected = signing.hmac_hex("s", signing.string_to_sign(method, "/p", ts, b'{"a":1.5}'))
        assert signing.sign("s", method, "/p", ts, body=b'{"a": 1.50}') == expected
        raw = signing.hmac_hex("s", signing.string_to_sign(method, "/p", ts, b'{"a": 1.50}'))
        assert signing.sign("s", method, "/p", ts, body=b'{"a": 1.50}', mode="raw") == raw
