"""Every way a signature can fail gives the documented 401 and names the reason (SPEC A2, B1-B6)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import signing

NOW = 1769956200
PATH = "/api/v1/get-balance"
QUERY = "clientId=CLIENT_001"
SECRET = "sandbox-secret"
BODY_401 = b'{"status":"error","message":"Invalid signature","data":null}'


@pytest.fixture
def frozen(app: Flask) -> Flask:
    app.extensions["sandbox"].clock.now = lambda: float(NOW)
    return app


def good(
    ts: int | str = NOW,
    *,
    secret: str = SECRET,
    method: str = "GET",
    path: str = PATH,
    payload: bytes = QUERY.encode(),
) -> str:
    return signing.hmac_hex(secret, signing.string_to_sign(method, path, str(ts), payload))


def flip(sig: str) -> str:
    return sig[:-1] + ("0" if sig[-1] != "0" else "1")


Headers = Callable[[], dict[str, str]]

CASES: list[tuple[str, Headers, str]] = [
    ("missing-signature", lambda: {"x-timestamp": str(NOW)}, "missing-signature"),
    ("empty-signature", lambda: {"x-timestamp": str(NOW), "x-signature": ""}, "missing-signature"),
    ("missing-timestamp", lambda: {"x-signature": good()}, "missing-timestamp"),
    ("empty-timestamp", lambda: {"x-timestamp": "", "x-signature": good()}, "missing-timestamp"),
    ("letters", lambda: {"x-timestamp": "abc", "x-signature": good()}, "bad-timestamp"),
    ("negative", lambda: {"x-timestamp": "-5", "x-signature": good()}, "bad-timestamp"),
    ("decimal", lambda: {"x-timestamp": f"{NOW}.5", "x-signature": good()}, "bad-timestamp"),
    ("spaces", lambda: {"x-timestamp": f" {NOW}", "x-signature": good()}, "bad-timestamp"),
    (
        "milliseconds",
        lambda: {"x-timestamp": f"{NOW}000", "x-signature": good(f"{NOW}000")},
        "bad-timestamp",
    ),
    (
        "301s-old",
        lambda: {"x-timestamp": str(NOW - 301), "x-signature": good(NOW - 301)},
        "expired-timestamp",
    ),
    (
        "301s-future",
        lambda: {"x-timestamp": str(NOW + 301), "x-signature": good(NOW + 301)},
        "future-timestamp",
    ),
    ("one-char", lambda: {"x-timestamp": str(NOW), "x-signature": flip(good())}, "mismatch"),
    (
        "wrong-secret",
        lambda: {"x-timestamp": str(NOW), "x-signature": good(secret="other")},
        "mismatch",
    ),
    ("uppercase-hex", lambda: {"x-timestamp": str(NOW), "x-signature": good().upper()}, "mismatch"),
    (
        "base64",
        lambda: {
            "x-timestamp": str(NOW),
            "x-signature": base64.b64encode(bytes.fromhex(good())).decode(),
        },
        "mismatch",
    ),
    (
        "other-payload",
        lambda: {"x-timestamp": str(NOW), "x-signature": good(payload=b"clientId=CLIENT_002")},
        "mismatch",
    ),
    (
        "leading-question-mark",
        lambda: {"x-timestamp": str(NOW), "x-signature": good(payload=b"?" + QUERY.encode())},
        "mismatch",
    ),
    (
        "path-without-prefix",
        lambda: {"x-timestamp": str(NOW), "x-signature": good(path="/get-balance")},
        "mismatch",
    ),
    (
        "query-in-path",
        lambda: {
            "x-timestamp": str(NOW),
            "x-signature": good(path=PATH + "?" + QUERY, payload=b""),
        },
        "mismatch",
    ),
    (
        "lowercase-method",
        lambda: {"x-timestamp": str(NOW), "x-signature": good(method="get")},
        "mismatch",
    ),
    (
        "other-timestamp",
        lambda: {"x-timestamp": str(NOW), "x-signature": good(NOW - 1)},
        "mismatch",
    ),
]


@pytest.mark.parametrize(("headers", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_401_matrix(frozen: Flask, client: FlaskClient, headers: Headers, reason: str) -> None:
    r = client.get(f"{PATH}?{QUERY}", headers=headers())
    assert r.status_code == 401
    assert r.data == BODY_401
    assert r.headers["X-Sandbox-Signature-Reason"] == reason
    assert r.headers["X-Sandbox-Signature-Detail"]
    if reason == "mismatch":
        assert r.headers["X-Sandbox-String-To-Sign"] == f"GET{PATH}{NOW}{QUERY}"
    else:
        assert "X-Sandbox-String-To-Sign" not in r.headers


@pytest.mark.parametrize("skew", [-300, -1, 0, 1, 300], ids=lambda s: f"skew{s:+d}")
def test_window_edges_are_inclusive(frozen: Flask, client: FlaskClient, skew: int) -> None:
    ts = NOW - skew
    r = client.get(f"{PATH}?{QUERY}", headers={"x-timestamp": str(ts), "x-signature": good(ts)})
    assert r.status_code == 200


def test_clock_shift_moves_the_window(frozen: Flask, client: FlaskClient) -> None:
    sandbox = frozen.extensions["sandbox"]
    sandbox.clock.now = lambda: float(NOW + 1000)
    r = client.get(f"{PATH}?{QUERY}", headers={"x-timestamp": str(NOW), "x-signature": good()})
    assert r.headers["X-Sandbox-Signature-Reason"] == "expired-timestamp"


@pytest.mark.parametrize(
    ("sig", "words"),
    [
        ("ABC", "64 lowercase hex"),
        ("A" * 64, "upper-case hex"),
        (base64.b64encode(b"x" * 32).decode(), "base64"),
        ("0" * 64, "does not match"),
    ],
    ids=["short", "upper", "base64", "plain-mismatch"],
)
def test_mismatch_detail_names_the_shape(
    frozen: Flask, client: FlaskClient, sig: str, words: str
) -> None:
    r = client.get(f"{PATH}?{QUERY}", headers={"x-timestamp": str(NOW), "x-signature": sig})
    assert words in r.headers["X-Sandbox-Signature-Detail"]


def test_milliseconds_are_explained(frozen: Flask, client: FlaskClient) -> None:
    ts = f"{NOW}123"
    r = client.get(f"{PATH}?{QUERY}", headers={"x-timestamp": ts, "x-signature": good(ts)})
    assert "milliseconds" in r.headers["X-Sandbox-Signature-Detail"]


def test_string_to_sign_header_escapes_non_ascii(frozen: Flask, client: FlaskClient) -> None:
    r = client.get(
        f"{PATH}?clientId=caf%C3%A9%0A", headers={"x-timestamp": str(NOW), "x-signature": "0" * 64}
    )
    assert r.headers["X-Sandbox-String-To-Sign"] == f"GET{PATH}{NOW}clientId=caf\\u00e9\\n"


def test_encoded_path_is_signed_as_received(frozen: Flask, client: FlaskClient) -> None:
    # B5: no normalization: the StringToSign holds the path exactly as sent.
    path = "/api/v1/get%2Dbalance"
    r = client.get(f"{path}?{QUERY}", headers={"x-timestamp": str(NOW), "x-signature": good()})
    assert r.headers["X-Sandbox-String-To-Sign"] == f"GET{path}{NOW}{QUERY}"
    r = client.get(
        f"{path}?{QUERY}", headers={"x-timestamp": str(NOW), "x-signature": good(path=path)}
    )
    assert r.status_code == 200


def test_mismatch_carries_the_doctors_finding(frozen: Flask, client: FlaskClient) -> None:
    sig = good().upper()
    r = client.get(f"{PATH}?{QUERY}", headers={"x-timestamp": str(NOW), "x-signature": sig})
    assert r.headers["X-Sandbox-Signature-Finding"] == "uppercase-hex"
    assert "lowercase" in r.headers["X-Sandbox-Signature-Doctor"]
    assert r.data == BODY_401  # the body stays the documented one


def test_no_known_variant_points_at_the_secret(frozen: Flask, client: FlaskClient) -> None:
    sig = good(secret="some-other-secret")
    r = client.get(f"{PATH}?{QUERY}", headers={"x-timestamp": str(NOW), "x-signature": sig})
    assert r.headers["X-Sandbox-Signature-Finding"] == "no-known-variant"
    assert "secret" in r.headers["X-Sandbox-Signature-Doctor"]
    assert "sandbox-secret" not in r.headers["X-Sandbox-Signature-Doctor"]
