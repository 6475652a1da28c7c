"""Several partners on one sandbox (SPEC B7): the secret picks the partner; nothing leaks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Signed
from flask import Flask
from flask.testing import FlaskClient

from sandbox import signing
from sandbox.app import create_app
from sandbox.config import Config
from sandbox.scenarios import ScenarioError, load_text
from sandbox.state import tenant_db_path

PARTNERS = """
partners:
  acme: {secret: acme-secret-0001}
  globex: {secret: globex-secret-0002}
scenarios:
  CLIENT_FLAKY: {sequence: [server-error, success]}
"""


@pytest.fixture
def hosted(tmp_path: Path) -> Flask:
    path = tmp_path / "scenarios.yaml"
    path.write_text(PARTNERS)
    return create_app(Config(db=":memory:", scenarios=str(path)))


def as_partner(app: Flask, secret: str) -> Signed:
    return Signed(app.test_client(), secret)


def balance(signed: Signed, client_id: str = "CLIENT_001") -> Any:
    r = signed.get("/api/v1/get-balance", {"clientId": client_id})
    return r.status_code, json.loads(r.data)["data"]


def test_each_partner_has_its_own_ledger(hosted: Flask) -> None:
    acme = as_partner(hosted, "acme-secret-0001")
    globex = as_partner(hosted, "globex-secret-0002")
    default = as_partner(hosted, "sandbox-secret")
    r = acme.post("/api/v1/credit-balance", {"clientId": "CLIENT_001", "amount": 100})
    assert r.status_code == 200
    assert balance(acme)[1]["balance"] == 1600.5
    assert balance(globex)[1]["balance"] == 1500.5  # same clientId, other partner: untouched
    assert balance(default)[1]["balance"] == 1500.5
    acme.post(
        "/api/v1/generate-auth-token",
        {"clientId": "ONLY_ACME", "username": "a", "displayName": "A", "ipAddress": "::1"},
    )
    assert balance(acme, "ONLY_ACME")[0] == 200
    assert balance(globex, "ONLY_ACME")[0] == 404


def test_journals_are_separate(hosted: Flask) -> None:
    acme = as_partner(hosted, "acme-secret-0001")
    globex = as_partner(hosted, "globex-secret-0002")
    acme.get("/api/v1/get-balance", {"clientId": "ACME_SECRET_CLIENT"})
    globex.get("/api/v1/get-balance", {"clientId": "GLOBEX_CLIENT"})
    client = hosted.test_client()

    def seen(partner: str) -> set[str]:
        r = client.get(f"/__sandbox/requests?partner={partner}")
        return {e["clientId"] for e in json.loads(r.data)["data"]["requests"]}

    assert seen("acme") == {"ACME_SECRET_CLIENT"}
    assert seen("globex") == {"GLOBEX_CLIENT"}
    assert seen("default") == set()


def test_overrides_and_sequences_are_separate(hosted: Flask) -> None:
    acme = as_partner(hosted, "acme-secret-0001")
    globex = as_partner(hosted, "globex-secret-0002")
    client = hosted.test_client()
    r = client.put("/__sandbox/scenarios/CLIENT_001?partner=acme", json={"outcome": "not-found"})
    assert r.status_code == 200
    assert balance(acme)[0] == 404
    assert balance(globex)[0] == 200
    # The file's sequence advances per partner.
    assert balance(acme, "CLIENT_FLAKY")[0] == 500
    assert balance(globex, "CLIENT_FLAKY")[0] == 500
    assert balance(acme, "CLIENT_FLAKY")[0] == 200  # a built-in named client: then success


def test_reset_touches_one_partner(hosted: Flask) -> None:
    acme = as_partner(hosted, "acme-secret-0001")
    globex = as_partner(hosted, "globex-secret-0002")
    acme.post("/api/v1/credit-balance", {"clientId": "CLIENT_001", "amount": 1})
    globex.post("/api/v1/credit-balance", {"clientId": "CLIENT_001", "amount": 2})
    hosted.test_client().post("/__sandbox/reset?partner=acme")
    assert balance(acme)[1]["balance"] == 1500.5
    assert balance(globex)[1]["balance"] == 1502.5


def signed_control(
    app: Flask, secret: str, method: str, path: str, query: str = "", body: bytes = b""
) -> Any:
    ts = str(int(time.time()))
    payload = (
        signing.canonical_query(query)
        if method in ("GET", "DELETE")
        else (signing.canonical_body(body).payload)
    )
    sig = signing.hmac_hex(secret, signing.string_to_sign(method, path, ts, payload))
    url = path + (f"?{query}" if query else "")
    return app.test_client().open(
        url, method=method, data=body, headers={"x-timestamp": ts, "x-signature": sig}
    )


def test_a_partner_manages_its_own_sandbox_with_signed_control_requests(hosted: Flask) -> None:
    as_partner(hosted, "globex-secret-0002").get("/api/v1/get-balance", {"clientId": "G"})
    as_partner(hosted, "acme-secret-0001").get("/api/v1/get-balance", {"clientId": "A"})
    r = signed_control(hosted, "acme-secret-0001", "GET", "/__sandbox/requests")
    assert r.status_code == 200
    assert [e["clientId"] for e in json.loads(r.data)["data"]["requests"]] == ["A"]
    r = signed_control(hosted, "acme-secret-0001", "GET", "/__sandbox/requests", "partner=globex")
    assert r.status_code == 403
    r = signed_control(
        hosted, "acme-secret-0001", "PUT", "/__sandbox/scenarios/X", body=b'{"outcome": "drop"}'
    )
    assert r.status_code == 200
    data = json.loads(hosted.test_client().get("/__sandbox/scenarios?partner=globex").data)
    assert data["data"]["overrides"] == {}
    r = signed_control(hosted, "wrong-secret", "GET", "/__sandbox/requests")
    assert r.status_code == 401


def test_unknown_partner_is_404(hosted: Flask) -> None:
    assert hosted.test_client().get("/__sandbox/requests?partner=nobody").status_code == 404


def test_doctor_never_echoes_a_partner_secret(hosted: Flask) -> None:
    ts = str(int(time.time()))
    sig = signing.hmac_hex("acme-secret-0001", f"GET/api/v1/get-balance{ts}clientId=C".encode())
    r = hosted.test_client().get(
        "/api/v1/get-balance?clientId=C", headers={"x-timestamp": ts, "x-signature": sig.upper()}
    )
    assert r.status_code == 401
    text = json.dumps(dict(r.headers)) + r.data.decode()
    assert "acme-secret" not in text and "globex-secret" not in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("partners:\n  a: {secret: x}\n  b: {secret: x}\n", "must differ from every other secret"),
        ("partners:\n  default: {secret: x}\n", "a partner name is"),
        ("partners:\n  'bad name': {secret: x}\n", "a partner name is"),
        ("partners:\n  a: {secret: ''}\n", "must not be empty"),
        ("partners:\n  a: {token: x}\n", "unknown key"),
    ],
    ids=["same-secret", "default-name", "bad-name", "empty", "unknown-key"],
)
def test_partner_validation(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_text(text, "s.yaml")


def test_partner_secrets_never_appear_in_repr() -> None:
    loaded = load_text(PARTNERS)
    assert "acme-secret" not in repr(loaded)
    assert "sandbox-secret" not in repr(Config())


def test_partner_databases_sit_next_to_the_default_one() -> None:
    assert tenant_db_path(".sandbox/sandbox.db", "acme") == ".sandbox/sandbox.partner-acme.db"
    assert tenant_db_path(":memory:", "acme") == ":memory:"
    assert tenant_db_path(".sandbox/sandbox.db", "default") == ".sandbox/sandbox.db"


class TestControlToken:
    @pytest.fixture
    def exposed(self) -> Flask:
        # Bound off loopback: the control plane needs a token, generated when not configured.
        return create_app(Config(db=":memory:", host="0.0.0.0"))

    def test_a_token_is_generated_off_loopback(self, exposed: Flask) -> None:
        assert len(exposed.extensions["sandbox"].control_token) >= 24

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/__sandbox/requests"),
            ("POST", "/__sandbox/reset"),
            ("PUT", "/__sandbox/scenarios/X"),
            ("DELETE", "/__sandbox/scenarios"),
            ("POST", "/__sandbox/clock"),
            ("GET", "/__sandbox/"),
            ("GET", "/__sandbox/scenarios"),
            ("POST", "/__sandbox/sign"),
            ("POST", "/__sandbox/explain"),
        ],
    )
    def test_everything_but_health_needs_it(self, exposed: Flask, method: str, path: str) -> None:
        r = exposed.test_client().open(path, method=method, json={})
        assert r.status_code == 401
        assert json.loads(r.data) == {
            "status": "error",
            "message": "Control plane token required",
            "data": None,
        }
        assert r.headers["WWW-Authenticate"].startswith("Bearer")

    def test_health_and_openapi_stay_open(self, exposed: Flask) -> None:
        client = exposed.test_client()
        assert client.get("/__sandbox/health").status_code == 200
        assert client.get("/__sandbox/openapi.json").status_code == 200

    def test_the_token_opens_it(self, exposed: Flask) -> None:
        token = exposed.extensions["sandbox"].control_token
        client = exposed.test_client()
        auth = {"Authorization": f"Bearer {token}"}
        assert client.post("/__sandbox/reset", headers=auth).status_code == 200
        assert client.get(f"/__sandbox/?token={token}").status_code == 200
        assert client.post(f"/__sandbox/reset?token={token}").status_code == 401  # GET only
        assert (
            client.get("/__sandbox/requests", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )

    def test_a_configured_token_applies_on_loopback_too(self) -> None:
        app = create_app(Config(db=":memory:", control_token="t0ken"))
        client = app.test_client()
        assert client.get("/__sandbox/requests").status_code == 401
        assert (
            client.get("/__sandbox/requests", headers={"Authorization": "Bearer t0ken"}).status_code
            == 200
        )

    def test_the_api_itself_needs_no_token(self, exposed: Flask) -> None:
        signed = Signed(exposed.test_client())
        assert signed.get("/api/v1/get-balance", {"clientId": "CLIENT_001"}).status_code == 200


def test_loopback_is_open_by_default(client: FlaskClient) -> None:
    assert client.get("/__sandbox/requests").status_code == 200


class TestRuntimePartners:
    """Partners created through the control plane: one isolated sandbox per test worker."""

    def test_create_use_and_remove(self, app: Flask) -> None:
        control = app.test_client()
        r = control.post("/__sandbox/partners", json={"name": "pytest-gw0"})
        assert r.status_code == 201
        data = json.loads(r.data)["data"]
        assert data["name"] == "pytest-gw0" and len(data["secret"]) >= 32
        worker = as_partner(app, data["secret"])
        worker.post("/api/v1/credit-balance", {"clientId": "CLIENT_001", "amount": 5})
        assert balance(worker)[1]["balance"] == 1505.5
        assert balance(as_partner(app, "sandbox-secret"))[1]["balance"] == 1500.5
        # Its control requests, signed with its secret, act on its own state only.
        r = signed_control(app, data["secret"], "POST", "/__sandbox/reset")
        assert r.status_code == 200 and json.loads(r.data)["data"]["partner"] == "pytest-gw0"
        assert balance(worker)[1]["balance"] == 1500.5
        listed = json.loads(control.get("/__sandbox/partners").data)["data"]["partners"]
        assert listed == [{"name": "pytest-gw0", "runtime": True}]
        assert control.delete("/__sandbox/partners/pytest-gw0").status_code == 200
        assert worker.get("/api/v1/get-balance", {"clientId": "CLIENT_001"}).status_code == 401
        assert control.delete("/__sandbox/partners/pytest-gw0").status_code == 404

    def test_a_partner_may_remove_itself_but_not_others_nor_create(self, app: Flask) -> None:
        control = app.test_client()
        a = json.loads(control.post("/__sandbox/partners", json={"name": "a"}).data)["data"]
        json.loads(control.post("/__sandbox/partners", json={"name": "b"}).data)
        assert (
            signed_control(app, a["secret"], "DELETE", "/__sandbox/partners/b").status_code == 403
        )
        body = b'{"name":"c"}'
        assert (
            signed_control(app, a["secret"], "POST", "/__sandbox/partners", body=body).status_code
            == 403
        )
        default = signed_control(app, "sandbox-secret", "POST", "/__sandbox/partners", body=body)
        assert default.status_code == 403  # a signature is a partner's, never the operator's
        assert (
            signed_control(app, a["secret"], "DELETE", "/__sandbox/partners/a").status_code == 200
        )

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"name": "bad name"}, 400),
            ({"name": "default"}, 400),
            ({}, 400),
            ({"name": "x" * 65}, 400),
        ],
    )
    def test_bad_names_are_refused(self, app: Flask, body: dict[str, Any], status: int) -> None:
        assert app.test_client().post("/__sandbox/partners", json=body).status_code == status

    def test_taken_names_configured_partners_and_the_cap(
        self, hosted: Flask, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from sandbox import state

        control = hosted.test_client()
        assert control.post("/__sandbox/partners", json={"name": "acme"}).status_code == 409
        assert control.delete("/__sandbox/partners/acme").status_code == 409
        monkeypatch.setattr(state, "MAX_RUNTIME_PARTNERS", 2)
        for name in ("w1", "w2"):
            assert control.post("/__sandbox/partners", json={"name": name}).status_code == 201
        r = control.post("/__sandbox/partners", json={"name": "w3"})
        assert r.status_code == 409
        assert json.loads(r.data)["message"] == "At most 2 partners created at run time"

    def test_the_token_is_required_off_loopback(self) -> None:
        app = create_app(Config(db=":memory:", control_token="t0ken-t0ken"))
        control = app.test_client()
        assert control.post("/__sandbox/partners", json={"name": "w"}).status_code == 401
        r = control.post(
            "/__sandbox/partners",
            json={"name": "w"},
            headers={"Authorization": "Bearer t0ken-t0ken"},
        )
        assert r.status_code == 201


class TestDnsRebinding:
    """The open loopback control plane answers only to loopback names (issue: DNS rebinding)."""

    @pytest.mark.parametrize(
        "host", ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080", "127.0.0.1"]
    )
    def test_loopback_names_are_served(self, app: Flask, host: str) -> None:
        r = app.test_client().get("/__sandbox/requests", headers={"Host": host})
        assert r.status_code == 200

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/__sandbox/requests"),
            ("POST", "/__sandbox/reset"),
            ("PUT", "/__sandbox/scenarios/X"),
            ("GET", "/__sandbox/"),
            ("POST", "/__sandbox/sign"),
            ("POST", "/__sandbox/partners"),
        ],
    )
    def test_another_name_is_refused(self, app: Flask, method: str, path: str) -> None:
        headers = {"Host": "attacker.example:8080", "Origin": "http://attacker.example:8080"}
        r = app.test_client().open(path, method=method, headers=headers, json={})
        assert r.status_code == 403
        assert json.loads(r.data) == {
            "status": "error",
            "message": "Host 'attacker.example:8080' is not this sandbox's",
            "data": None,
        }

    def test_even_signed_with_the_public_default_secret(self, app: Flask) -> None:
        ts = str(int(time.time()))
        sig = signing.sign("sandbox-secret", "POST", "/__sandbox/reset", ts)
        r = app.test_client().post(
            "/__sandbox/reset",
            headers={"Host": "rebound.example", "x-timestamp": ts, "x-signature": sig},
        )
        assert r.status_code == 403

    def test_health_stays_open_and_a_token_protects_instead(self, app: Flask) -> None:
        assert (
            app.test_client().get("/__sandbox/health", headers={"Host": "x.example"}).status_code
            == 200
        )
        protected = create_app(Config(db=":memory:", control_token="t0ken-t0ken"))
        r = protected.test_client().get(
            "/__sandbox/requests",
            headers={"Host": "sandbox.example", "Authorization": "Bearer t0ken-t0ken"},
        )
        assert r.status_code == 200
