"""sandbox/auth.py on its own (no HTTP): the raw path, the trusted Host names, which tenant's
secret verifies a request, the doctor's finding and the 401 headers. These kill the mutants
the server-level tests (test_auth_matrix, test_partners, test_pipeline, test_hosting) miss."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import auth, signing
from sandbox.config import Config
from sandbox.state import Sandbox

PATH = "/api/v1/credit-balance"
BODY = b'{"clientId": "CLIENT_001", "amount": 5}'  # not the compact JSON.stringify form


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox.open(Config(db=":memory:"))
    yield box
    box.close()


@pytest.fixture
def raw_sandbox() -> Iterator[Sandbox]:
    box = Sandbox.open(Config(db=":memory:", signing_payload="raw"))
    yield box
    box.close()


def now() -> str:
    return str(int(time.time()))


def sign(secret: str, timestamp: str, body: bytes = BODY, *, raw: bool = False) -> str:
    mode = signing.RAW_PAYLOAD if raw else signing.JSON_PAYLOAD
    return signing.sign(secret, "POST", PATH, timestamp, body=body, mode=mode)


# --------------------------------------------------------------------------- raw_path


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"REQUEST_URI": "/a%2Fb?x=1?y", "PATH_INFO": "/a/b"}, "/a%2Fb"),
        ({"RAW_URI": "/r%20aw?q", "PATH_INFO": "/r aw"}, "/r%20aw"),
        ({"REQUEST_URI": "", "RAW_URI": "/second", "PATH_INFO": "/x"}, "/second"),
        ({"REQUEST_URI": "http://host:8080/api/v1/x?y=1"}, "/api/v1/x"),
        ({"REQUEST_URI": "http://host:8080"}, "/"),
        ({"REQUEST_URI": "http://h/a://b"}, "/a://b"),  # only the first "://" is the scheme's
        ({"REQUEST_URI": "/p?next=http://x/y"}, "/p"),  # a URL in the query is no target
        ({"SCRIPT_NAME": "/mount", "PATH_INFO": "/api"}, "/mount/api"),
        ({"PATH_INFO": "/only"}, "/only"),
        ({}, "/"),
    ],
)
def test_raw_path(environ: dict[str, Any], expected: str) -> None:
    assert auth.raw_path(environ) == expected


# --------------------------------------------------------------------------- trusted_host


@pytest.mark.parametrize(
    ("host", "bound", "trusted"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1:8080", "0.0.0.0", True),
        ("LOCALHOST:9", "127.0.0.1", True),
        ("[::1]", "127.0.0.1", True),
        ("[::1]:8080", "127.0.0.1", True),
        ("::1", "127.0.0.1", True),  # two colons: no port to cut
        ("10.1.2.3:80", "10.1.2.3", True),  # the bound address
        ("Sandbox.Test", "SANDBOX.test", True),
        ("[FE80::1]:80", "fe80::1", True),  # the bound IPv6 address, bracketed
        ("[fe80::1]", "FE80::1", True),
        ("evil.test", "127.0.0.1", False),
        ("evil.test:127.0.0.1", "127.0.0.1", False),
        ("127.0.0.1.evil.test", "127.0.0.1", False),
        ("[::1]evil", "127.0.0.1", True),  # what follows the bracket is the port's business
        ("[::2]:80", "127.0.0.1", False),
        ("localhost:80:80", "127.0.0.1", False),
        ("10.1.2.3", "10.1.2.4", False),
    ],
)
def test_trusted_host(host: str, bound: str, trusted: bool) -> None:
    assert auth.trusted_host(host, bound) is trusted


# --------------------------------------------------------------------------- authenticate


def test_a_request_refused_on_its_headers_is_never_parsed(sandbox: Sandbox) -> None:
    sandbox.add_partner("acme")
    checked = auth.authenticate(sandbox, "POST", PATH, "", now(), None, BODY)
    assert checked == auth.Authentication(
        None, signing.Verdict("missing-signature", "The x-signature header is missing."), None
    )


def test_the_default_tenants_secret_selects_the_default_tenant(sandbox: Sandbox) -> None:
    sandbox.add_partner("acme")
    ts = now()
    checked = auth.authenticate(
        sandbox, "POST", PATH, "", ts, sign(sandbox.default.secret, ts), BODY
    )
    assert checked.tenant is sandbox.default
    assert checked.verdict.ok and checked.verdict.string_to_sign == (
        f'POST{PATH}{ts}{{"clientId":"CLIENT_001","amount":5}}'.encode()
    )
    assert checked.body is not None and checked.body.data == {"clientId": "CLIENT_001", "amount": 5}


def test_a_partners_secret_selects_the_partner(sandbox: Sandbox) -> None:
    partner = sandbox.add_partner("acme")
    sandbox.add_partner("other")
    ts = now()
    checked = auth.authenticate(sandbox, "POST", PATH, "", ts, sign(partner.secret, ts), BODY)
    assert checked.tenant is partner and checked.verdict.ok


def test_a_mismatch_is_the_default_tenants_verdict_with_the_parsed_body(sandbox: Sandbox) -> None:
    sandbox.add_partner("acme")
    ts = now()
    checked = auth.authenticate(sandbox, "POST", PATH, "", ts, "0" * 64, BODY)
    assert checked.tenant is None
    assert checked.verdict.reason == "mismatch"
    assert checked.verdict.string_to_sign == (
        f'POST{PATH}{ts}{{"clientId":"CLIENT_001","amount":5}}'.encode()
    )
    assert (
        checked.body is not None and checked.body.payload == b'{"clientId":"CLIENT_001","amount":5}'
    )


def test_each_tenant_is_checked_on_its_own_clock(sandbox: Sandbox) -> None:
    """A partner whose clock is an hour ahead verifies a timestamp the default tenant finds
    expired; the default tenant's verdict is the one reported when none verifies."""
    partner = sandbox.add_partner("acme")
    partner.clock.offset = 3600.0
    ahead = str(int(time.time()) + 3600)
    checked = auth.authenticate(sandbox, "POST", PATH, "", ahead, sign(partner.secret, ahead), BODY)
    assert checked.tenant is partner
    # signed with the default secret at the partner's time: the default refuses the timestamp
    # (its verdict is reported), the partner the signature
    wrong = auth.authenticate(
        sandbox, "POST", PATH, "", ahead, sign(sandbox.default.secret, ahead), BODY
    )
    assert wrong.tenant is None
    assert wrong.verdict.reason == "future-timestamp"
    assert wrong.body is not None  # the partner needed the body to check its signature
    # a timestamp only the default tenant accepts, signed with the partner's secret
    ts = now()
    late = auth.authenticate(sandbox, "POST", PATH, "", ts, sign(partner.secret, ts), BODY)
    assert (late.tenant, late.verdict.reason) == (None, "mismatch")


def test_the_raw_mode_signs_the_bytes_received(raw_sandbox: Sandbox) -> None:
    ts = now()
    secret = raw_sandbox.default.secret
    raw = auth.authenticate(raw_sandbox, "POST", PATH, "", ts, sign(secret, ts, raw=True), BODY)
    assert raw.tenant is raw_sandbox.default
    assert raw.verdict.string_to_sign == f"POST{PATH}{ts}".encode() + BODY
    assert raw.body is not None and raw.body.data == {"clientId": "CLIENT_001", "amount": 5}
    stringified = auth.authenticate(raw_sandbox, "POST", PATH, "", ts, sign(secret, ts), BODY)
    assert stringified.tenant is None


def test_a_get_signs_its_query_and_parses_no_body(sandbox: Sandbox) -> None:
    ts = now()
    sig = signing.sign(sandbox.default.secret, "GET", PATH, ts, query="b=2&a=1")
    checked = auth.authenticate(sandbox, "GET", PATH, "b=2&a=1", ts, sig, b"")
    assert checked.tenant is sandbox.default and checked.body is None
    assert checked.verdict.string_to_sign == f"GET{PATH}{ts}a=1&b=2".encode()


# --------------------------------------------------------------------------- the doctor, headers


def test_diagnose_names_the_partner_whose_secret_was_used(sandbox: Sandbox) -> None:
    partner = sandbox.add_partner("acme")
    ts = now()
    finding = auth.diagnose(sandbox, "POST", PATH, "", BODY, ts, sign(partner.secret, ts), None)
    assert finding.code == "partner-secret"
    assert "partner 'acme'" in finding.message
    # the default tenant's own secret is the one checked against, never "another partner"
    spaced = signing.hmac_hex(
        sandbox.default.secret, signing.string_to_sign("POST", PATH, ts, BODY)
    )
    assert auth.diagnose(sandbox, "POST", PATH, "", BODY, ts, spaced, None).code == "json-spacing"


def test_diagnose_follows_the_raw_mode(raw_sandbox: Sandbox) -> None:
    """In raw mode the bytes are what is signed: a client that signed the compact form made
    the mistake the json mode would require."""
    ts = now()
    compact = sign(raw_sandbox.default.secret, ts)  # JSON.stringify form
    finding = auth.diagnose(raw_sandbox, "POST", PATH, "", BODY, ts, compact, None)
    assert finding.matched and finding.code != "json-spacing"


def test_signature_headers() -> None:
    valid = signing.Verdict(None, "valid", None)
    assert auth.signature_headers(valid) == {
        "X-Sandbox-Signature-Reason": "valid",
        "X-Sandbox-Signature-Detail": "valid",
    }
    mismatch = signing.Verdict("mismatch", "The x-signature does not match.", b"GET/p1a=1")
    assert auth.signature_headers(mismatch) == {
        "X-Sandbox-Signature-Reason": "mismatch",
        "X-Sandbox-Signature-Detail": "The x-signature does not match.",
        "X-Sandbox-String-To-Sign": "GET/p1a=1",
    }


def test_signature_headers_carry_the_doctors_finding(sandbox: Sandbox) -> None:
    partner = sandbox.add_partner("acme")
    ts = now()
    signature = sign(partner.secret, ts)
    sandbox.remove_partner("acme")  # now nobody's secret verifies it
    checked = auth.authenticate(sandbox, "POST", PATH, "", ts, signature, BODY)
    finding = auth.diagnose(sandbox, "POST", PATH, "", BODY, ts, signature, checked.body)
    headers = auth.signature_headers(checked.verdict, finding)
    assert headers["X-Sandbox-Signature-Reason"] == "mismatch"
    assert headers["X-Sandbox-Signature-Finding"] == finding.code
    assert headers["X-Sandbox-Signature-Doctor"] == f"{finding.code}: {finding.message}"
    assert headers["X-Sandbox-String-To-Sign"] == (
        f'POST{PATH}{ts}{{"clientId":"CLIENT_001","amount":5}}'
    )


def test_when_every_tenant_refuses_the_headers_the_default_tenants_verdict_is_reported(
    sandbox: Sandbox,
) -> None:
    """A timestamp 1000 s old: expired for the default tenant, 2600 s in the future for a
    partner whose clock is an hour behind. Neither parses the body."""
    partner = sandbox.add_partner("acme")
    partner.clock.offset = -3600.0
    old = str(int(time.time()) - 1000)
    checked = auth.authenticate(sandbox, "POST", PATH, "", old, "0" * 64, BODY)
    assert (checked.tenant, checked.verdict.reason, checked.body) == (
        None,
        "expired-timestamp",
        None,
    )


def test_an_authentication_is_immutable(sandbox: Sandbox) -> None:
    checked = auth.authenticate(sandbox, "GET", PATH, "", now(), None, b"")
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked.tenant = sandbox.default  # type: ignore[misc]
