"""Schemathesis against the OpenAPI document a real sandbox serves, every request signed.

The sandbox runs as a process (``ServerProcess``); schemathesis loads the document from
``GET /__sandbox/openapi.json`` and generates cases for the five operations:

- the fuzzing phase, positive and negative data (hypothesis, derandomized, bounded per
  operation and mode);
- the coverage phase, positive and negative (schemathesis' deterministic boundary and
  type-mutation cases: missing fields, wrong types, lengths and bounds, bodies that are not
  objects, odd Content-Types, undocumented methods).

Each case is signed as a correct client signs it: the body bytes we send are the bytes we sign
(``json.dumps`` of the generated body), the query we send is the query we sign (the decoded
pairs), with a fresh ``x-timestamp``. No scenario is forced, so the checks are strict: never a
500, never a 401 (we sign correctly), every status code documented for the operation and every
body valid against the operation's response schema (schemathesis' own response checks), and
the server still alive and healthy at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.generation.meta import CoverageScenario
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sandbox import signing
from sandbox.config import DEFAULT_SECRET
from sandbox.process import ServerProcess

OPERATIONS = [
    "POST /api/v1/generate-auth-token",
    "GET /api/v1/get-balance",
    "POST /api/v1/credit-balance",
    "POST /api/v1/debit-balance",
    "GET /api/v1/get-transactions",
]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
MAX_EXAMPLES = 60  # per operation and mode: 600 fuzzed requests in all
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SIGNATURE_HEADERS = {"x-signature", "x-timestamp"}
PLACEHOLDER_HEADERS = {"x-signature": "0" * 64, "x-timestamp": "0"}
# Seeded users of the fixtures (no scenario attached): mixing them into generated requests
# reaches the 200 and "Insufficient balance" paths, not only 404.
KNOWN_CLIENTS = ["CLIENT_001", "CLIENT_002", "CLIENT_008"]
ENVELOPE_405 = {"status": "failed", "message": "Method not allowed", "data": None}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    proc = ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"])
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def schema(server: ServerProcess) -> Any:
    # An explicit config (no schemathesis.toml is discovered) with a fixed seed: reproducible.
    return schemathesis.openapi.from_url(
        server.url + "/__sandbox/openapi.json", config=schemathesis.Config(seed=20260201)
    )


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


# --------------------------------------------------------------------------- signing a case


def _text(value: Any) -> str:
    """A generated query value as a client would put it in a URL."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)  # true/false, numbers, objects


def query_pairs(query: dict[str, Any]) -> list[tuple[str, str]]:
    """The case's query as (key, value) pairs; a list is a repeated key."""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((str(key), _text(v)) for v in values)
    return pairs


def body_bytes(body: Any) -> bytes:
    """The bytes to send (and sign): negative mode sometimes draws raw non-JSON bytes."""
    if isinstance(body, NotSet):
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode()


def send_signed(
    session: requests.Session, base_url: str, case: Any, known_client: str | None = None
) -> requests.Response:
    """Send ``case`` signed over exactly the query and body bytes that go on the wire."""
    if known_client is not None:
        if isinstance(case.body, dict) and isinstance(case.body.get("clientId"), str):
            case.body["clientId"] = known_client
        if isinstance(case.query.get("clientId"), str):
            case.query["clientId"] = known_client
    method = case.method.upper()
    path = case.formatted_path
    pairs = query_pairs(case.query or {})
    query_string = urlencode(pairs)
    raw = body_bytes(case.body)
    ts = str(int(time.time()))
    if method == "GET":
        signature = signing.sign(DEFAULT_SECRET, method, path, ts, query=pairs)
    else:
        signature = signing.sign(DEFAULT_SECRET, method, path, ts, body=raw)
    headers = {k: v for k, v in case.headers.items() if k.lower() not in SIGNATURE_HEADERS}
    if raw and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = case.media_type or "application/json"
    headers.update({"x-timestamp": ts, "x-signature": signature})
    url = base_url + path + ("?" + query_string if query_string else "")
    with session.request(method, url, data=raw or None, headers=headers, timeout=10) as response:
        response.content  # read it all before the connection goes back to the pool  # noqa: B018
        return response


def describe(case: Any, response: requests.Response) -> str:
    body = body_bytes(case.body)[:300]
    return (
        f"{case.method} {case.formatted_path} query={case.query!r} body={body!r} -> "
        f"{response.status_code} {response.content[:300]!r} "
        f"reason={response.headers.get('X-Sandbox-Signature-Reason')}"
    )


def check(case: Any, response: requests.Response) -> None:
    """Never a 500, never a 401, a documented status, a body that matches its schema."""
    what = describe(case, response)
    assert response.status_code != 500, what
    # We sign exactly what we send, so the signature always passes.
    assert response.status_code != 401, what
    assert str(response.status_code) in case.operation.responses.status_codes, what
    assert response.headers.get("X-Sandbox-Scenario") == "none", what
    case.validate_response(response, checks=CHECKS)


# --------------------------------------------------------------------------- the document


def test_the_served_document_has_the_five_operations(schema: Any) -> None:
    labels = [result.ok().label for result in schema.get_all_operations()]
    assert sorted(labels) == sorted(OPERATIONS)
    for label in labels:
        assert "400" in schema.find_operation_by_label(label).responses.status_codes


# --------------------------------------------------------------------------- fuzzing phase


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_fuzzing_phase(
    server: ServerProcess,
    schema: Any,
    session: requests.Session,
    label: str,
    mode: GenerationMode,
) -> None:
    operation = schema.find_operation_by_label(label)
    statuses: list[int] = []
    known = (
        st.sampled_from([None, *KNOWN_CLIENTS]) if mode is GenerationMode.POSITIVE else st.none()
    )

    # Fixed placeholder signature headers: negative mode then mutates the query or the body,
    # not headers that send_signed replaces anyway.
    cases = operation.as_strategy(generation_mode=mode, headers=PLACEHOLDER_HEADERS)

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, client=known)
    def fuzz(case: Any, client: str | None) -> None:
        response = send_signed(session, server.url, case, client)
        statuses.append(response.status_code)
        check(case, response)

    fuzz()
    assert len(statuses) >= MAX_EXAMPLES // 2, len(statuses)  # it really ran
    assert server.alive(), server.stderr.decode(errors="replace")
    if mode is GenerationMode.NEGATIVE:
        assert 400 in statuses, sorted(set(statuses))


# --------------------------------------------------------------------------- coverage phase


@pytest.fixture(scope="module")
def coverage(schema: Any) -> dict[str, list[Any]]:
    """Every operation's coverage-phase cases, generated once (schemathesis deduplicates
    across calls: a second pass over an operation yields fewer cases)."""
    cases: dict[str, list[Any]] = {}
    for label in OPERATIONS:
        operation = schema.find_operation_by_label(label)
        config = schema.config.generation_for(operation=operation, phase="coverage")
        cases[label] = list(
            schema.iter_coverage_cases(operation, generation_modes=MODES, generation_config=config)
        )
    return cases


def scenario_of(case: Any) -> Any:
    return case.meta.phase.data


@pytest.mark.parametrize("label", OPERATIONS)
def test_coverage_phase(
    server: ServerProcess, coverage: dict[str, list[Any]], session: requests.Session, label: str
) -> None:
    sent = 0
    statuses: set[int] = set()
    for case in coverage[label]:
        data = scenario_of(case)
        if data.scenario is CoverageScenario.UNSPECIFIED_HTTP_METHOD:
            continue  # test_undocumented_methods_answer_405
        if data.parameter in SIGNATURE_HEADERS:
            continue  # a mutated signature header: we sign correctly, so nothing new to send
        response = send_signed(session, server.url, case)
        statuses.add(response.status_code)
        check(case, response)
        sent += 1
    assert sent >= 3, sent
    assert 400 in statuses, statuses
    assert server.alive(), server.stderr.decode(errors="replace")


def check_405(label: str, case: Any, response: requests.Response) -> None:
    documented = label.split()[0]
    what = f"{case.method} {case.formatted_path} -> {response.status_code} {response.content!r}"
    assert response.status_code == 405, what
    assert documented in response.headers.get("Allow", ""), what
    assert response.json() == ENVELOPE_405, what


@pytest.mark.parametrize("label", OPERATIONS)
def test_undocumented_methods_answer_405(
    server: ServerProcess, coverage: dict[str, list[Any]], session: requests.Session, label: str
) -> None:
    """Schemathesis' method probes (DELETE, OPTIONS, PATCH, PUT, QUERY, TRACE and the other of
    GET/POST), signed with their own method: the 405 envelope with ``Allow`` (OPTIONS included:
    the API has no CORS preflight)."""
    probes = [
        case
        for case in coverage[label]
        if scenario_of(case).scenario is CoverageScenario.UNSPECIFIED_HTTP_METHOD
    ]
    assert {case.method.upper() for case in probes} >= {"DELETE", "OPTIONS", "PATCH", "PUT"}
    for case in probes:
        check_405(label, case, send_signed(session, server.url, case))


# --------------------------------------------------------------------------- afterwards


def test_server_survived_and_is_healthy(server: ServerProcess, session: requests.Session) -> None:
    assert server.alive(), server.stderr.decode(errors="replace")
    with session.get(server.url + "/__sandbox/health", timeout=10) as health:
        assert health.status_code == 200
    ts = str(int(time.time()))
    query = {"clientId": "CLIENT_002"}
    signature = signing.sign(DEFAULT_SECRET, "GET", "/api/v1/get-balance", ts, query=query)
    with session.get(
        server.url + "/api/v1/get-balance",
        params=query,
        headers={"x-timestamp": ts, "x-signature": signature},
        timeout=10,
    ) as balance:
        assert balance.status_code == 200, balance.content
    assert b"Traceback" not in server.stderr
