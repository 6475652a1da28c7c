"""Every forced outcome on every endpoint, in process; bodies from the one catalog."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Signed
from flask import Flask
from flask.testing import FlaskClient

from sandbox.api import BY_NAME, ENDPOINTS
from sandbox.app import create_app
from sandbox.config import Config
from sandbox.responses import render as render_kind

CLIENT = "QA_USER"


def render(kind: str, endpoint: str, **values: Any) -> tuple[int, dict[str, Any]]:
    """The documented (status, body) of ``kind`` on ``endpoint``, from the one catalog."""
    route = BY_NAME[endpoint]
    return render_kind(kind, success=route.success, failure=route.failure, **values)


def send(signed: Signed, endpoint: str, client_id: str = CLIENT, **extra: Any) -> Any:
    path = f"/api/v1/{endpoint}"
    if endpoint.startswith("get-"):
        return signed.get(path, {"clientId": client_id, **extra})
    body: dict[str, Any] = {"clientId": client_id, "amount": 5}
    if endpoint == "generate-auth-token":
        body = {"clientId": client_id, "username": "qa", "displayName": "QA", "ipAddress": "::1"}
    return signed.post(path, {**body, **extra})


@pytest.fixture
def qa(app: Flask, signed: Signed) -> Signed:
    send(signed, "generate-auth-token")
    send(signed, "credit-balance", amount=100)
    return signed


def force(client: FlaskClient, rule: dict[str, Any], client_id: str = CLIENT) -> None:
    r = client.put(f"/__sandbox/scenarios/{client_id}", json=rule)
    assert r.status_code == 200, r.data


DOCUMENTED = [
    "validation",
    "not-found",
    "server-error",
    "insufficient-balance",
    "invalid-signature",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("outcome", DOCUMENTED)
def test_forced_documented_outcome(
    qa: Signed, client: FlaskClient, endpoint: str, outcome: str
) -> None:
    force(client, {"outcome": outcome})
    r = send(qa, endpoint)
    if outcome not in BY_NAME[endpoint].outcomes:
        # Not an answer this endpoint ever gives (not-found on generate-auth-token,
        # insufficient-balance but on debit-balance): answered normally, and said so.
        assert r.status_code == 200
        assert r.headers["X-Sandbox-Scenario"] == (
            f"{outcome}; client={CLIENT}; source=override; "
            "not an outcome of this endpoint: answered normally"
        )
        return
    values: dict[str, Any] = {}
    if outcome == "validation":
        values["errors"] = BY_NAME[endpoint].example_errors
    if outcome == "insufficient-balance":
        values = {
            "balance": 100,
            "amount": 0 if endpoint.startswith("get-") or "token" in endpoint else 5,
        }
    status, body = render(outcome, endpoint, **values)
    assert r.status_code == status
    assert json.loads(r.data) == body
    assert r.headers["X-Sandbox-Scenario"] == f"{outcome}; client={CLIENT}; source=override"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_forced_success_behaves_normally(qa: Signed, client: FlaskClient, endpoint: str) -> None:
    force(client, {"outcome": "success"})
    r = send(qa, endpoint)
    assert r.status_code == 200
    assert json.loads(r.data)["message"] == BY_NAME[endpoint].success


def test_validation_with_chosen_errors(qa: Signed, client: FlaskClient) -> None:
    force(
        client,
        {"outcome": "validation", "errors": {"reference": "The reference has already been taken."}},
    )
    r = send(qa, "credit-balance")
    assert json.loads(r.data)["data"] == {
        "errors": {"reference": ["The reference has already been taken."]}
    }


def test_forced_signature_failure_says_so(qa: Signed, client: FlaskClient) -> None:
    force(client, {"outcome": "invalid-signature"})
    r = send(qa, "get-balance")
    assert r.headers["X-Sandbox-Signature-Reason"] == "forced"


def test_real_bad_signature_beats_the_scenario(qa: Signed, client: FlaskClient) -> None:
    force(client, {"outcome": "not-found"})
    r = qa.get("/api/v1/get-balance", {"clientId": CLIENT}, secret="wrong")
    assert r.status_code == 401
    assert r.headers["X-Sandbox-Signature-Reason"] == "mismatch"
    assert r.headers["X-Sandbox-Scenario"] == "none"


def test_scenario_comes_before_validation(qa: Signed, client: FlaskClient) -> None:
    force(client, {"outcome": "server-error"})
    r = send(qa, "credit-balance", amount="not a number")
    assert r.status_code == 500


def test_applied_then_failed_commits(app: Flask, qa: Signed, client: FlaskClient) -> None:
    store = app.extensions["sandbox"].store
    before = store.balance(CLIENT).cents
    force(client, {"outcome": "applied-then-failed"})
    r = send(qa, "debit-balance", amount=7)
    assert r.status_code == 500
    assert json.loads(r.data) == render("server-error", "debit-balance")[1]
    assert store.balance(CLIENT).cents == before - 700


def test_malformed_is_a_broken_200(qa: Signed, client: FlaskClient) -> None:
    force(client, {"outcome": "malformed"})
    r = send(qa, "get-balance")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.data)
    client.delete(f"/__sandbox/scenarios/{CLIENT}")
    normal = send(qa, "get-balance").data
    assert normal.startswith(r.data)
    assert len(r.data) == len(normal) // 2


def test_drop_without_a_socket_is_flagged(qa: Signed, client: FlaskClient) -> None:
    force(client, {"outcome": "drop"})
    r = send(qa, "get-balance")
    assert r.headers["X-Sandbox-Fault"] == "drop"


def test_every_response_names_the_scenario(qa: Signed, client: FlaskClient) -> None:
    assert send(qa, "get-balance").headers["X-Sandbox-Scenario"] == "none"
    assert client.get("/nope").headers["X-Sandbox-Scenario"] == "none"
    assert client.get("/__sandbox/health").headers["X-Sandbox-Scenario"] == "none"


class TestMagicClients:
    @pytest.fixture
    def magic(self) -> Signed:
        app = create_app(Config(db=":memory:", scenarios="scenarios.yaml"))
        return Signed(app.test_client())

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    @pytest.mark.parametrize(
        ("client_id", "kind"),
        [
            ("CLIENT_NOT_FOUND", "not-found"),
            ("CLIENT_VALIDATION", "validation"),
            ("CLIENT_BAD_SIGNATURE", "invalid-signature"),
            ("CLIENT_SERVER_ERROR", "server-error"),
        ],
    )
    def test_forced_everywhere(
        self, magic: Signed, endpoint: str, client_id: str, kind: str
    ) -> None:
        values = {"errors": BY_NAME[endpoint].example_errors}
        status, body = render(kind, endpoint, **values)
        r = send(magic, endpoint, client_id)
        if kind not in BY_NAME[endpoint].outcomes:  # CLIENT_NOT_FOUND on generate-auth-token
            assert r.status_code == 200
            return
        assert (r.status_code, json.loads(r.data)) == (status, body)

    def test_insufficient(self, magic: Signed) -> None:
        r = send(magic, "debit-balance", "CLIENT_INSUFFICIENT", amount=5)
        assert (
            r.data
            == b'{"status":"failed","message":"Insufficient balance","data":{"balance":0,"amount":5}}'
        )
        assert send(magic, "credit-balance", "CLIENT_INSUFFICIENT").status_code == 200
        assert send(magic, "debit-balance", "CLIENT_INSUFFICIENT", amount=1).status_code == 400
        assert (
            json.loads(send(magic, "get-balance", "CLIENT_INSUFFICIENT").data)["data"]["balance"]
            == 5
        )

    def test_flaky_per_endpoint(self, magic: Signed) -> None:
        got = [send(magic, "get-balance", "CLIENT_FLAKY").status_code for _ in range(4)]
        assert got == [500, 500, 200, 200]
        assert send(magic, "credit-balance", "CLIENT_FLAKY").status_code == 500

    def test_reset_restores_ledger_and_sequences(self, magic: Signed) -> None:
        for _ in range(3):
            send(magic, "credit-balance", "CLIENT_FLAKY", amount=1)
        assert magic.client.post("/__sandbox/reset").status_code == 200
        assert send(magic, "get-balance", "CLIENT_FLAKY").status_code == 500
        for _ in range(2):
            send(magic, "get-balance", "CLIENT_FLAKY")
        r = send(magic, "get-balance", "CLIENT_FLAKY")
        assert json.loads(r.data)["data"]["balance"] == 1000


class TestControlPlane:
    def test_list_shows_file_rules_and_overrides(self, client: FlaskClient) -> None:
        force(client, {"outcome": "drop", "times": 3}, "X")
        data = json.loads(client.get("/__sandbox/scenarios").data)["data"]
        assert data["overrides"] == {"X": {"steps": [{"outcome": "drop"}], "remaining": 3}}

    def test_invalid_rule_is_400_with_paths(self, client: FlaskClient) -> None:
        r = client.put("/__sandbox/scenarios/X", json={"sequence": ["drop", "nope"], "times": -1})
        assert r.status_code == 400
        errors = json.loads(r.data)["data"]["errors"]
        assert set(errors) == {"times", "sequence.1"}

    def test_clear_one_and_all(self, client: FlaskClient) -> None:
        force(client, {"outcome": "drop"}, "X")
        force(client, {"outcome": "drop"}, "Y")
        assert json.loads(client.delete("/__sandbox/scenarios/X").data)["data"]["removed"] is True
        assert json.loads(client.delete("/__sandbox/scenarios").data)["data"]["removed"] == ["Y"]

    def test_clock_shift(self, app: Flask, client: FlaskClient) -> None:
        r = client.post("/__sandbox/clock", json={"offsetSeconds": -600})
        assert r.status_code == 200
        assert app.extensions["sandbox"].clock.offset == -600
        assert client.post("/__sandbox/clock", json={"offsetSeconds": "x"}).status_code == 400
        client.post("/__sandbox/reset")
        assert app.extensions["sandbox"].clock.offset == 0

    def test_mutations_need_a_mutating_method(self, client: FlaskClient) -> None:
        assert client.get("/__sandbox/reset").status_code == 405
