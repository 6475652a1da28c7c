"""sandbox.signing against reference vectors computed independently in Node.

The vectors in docs/signature-vectors.json come from docs/make_signature_vectors.mjs,
which uses JavaScript's own ``JSON.parse``/``JSON.stringify`` and ``crypto.createHmac``. Every
vector must give the same PAYLOAD, StringToSign and signature here, byte for byte.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox import signing

VECTORS_FILE = Path(__file__).resolve().parents[1] / "docs" / "signature-vectors.json"
DATA = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = DATA["vectors"]

POST_VECTORS = [v for v in VECTORS if v["method"] == "POST"]

parametrize_vectors = pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
parametrize_post_vectors = pytest.mark.parametrize(
    "v", POST_VECTORS, ids=[v["name"] for v in POST_VECTORS]
)


def _payload(v: dict[str, Any]) -> bytes:
    if v["method"] == "GET":
        return signing.canonical_query(v["query"])
    return signing.canonical_body(v["body"].encode("utf-8")).payload


def _tamper(signature: str) -> str:
    """The same signature with its last hex digit changed."""
    last = signature[-1]
    return signature[:-1] + ("0" if last != "0" else "1")


def test_vector_file_is_sane() -> None:
    assert DATA["secret"] == "sandbox-secret"
    assert len(VECTORS) >= 40
    names = [v["name"] for v in VECTORS]
    assert len(names) == len(set(names))
    for v in VECTORS:
        assert v["method"] in ("GET", "POST")
        assert ("query" in v) == (v["method"] == "GET")
        assert ("body" in v) == (v["method"] == "POST")
        assert len(v["signature"]) == 64
        assert v["signature"] == v["signature"].lower()
    assert {v["secret"] for v in VECTORS} != {"sandbox-secret"}
    assert {v["timestamp"] for v in VECTORS} != {"1769956200"}


@parametrize_vectors
def test_payload(v: dict[str, Any]) -> None:
    assert _payload(v) == v["payload"].encode("utf-8")


@parametrize_vectors
def test_string_to_sign(v: dict[str, Any]) -> None:
    sts = signing.string_to_sign(v["method"], v["path"], v["timestamp"], _payload(v))
    assert sts == v["string_to_sign"].encode("utf-8")


@parametrize_vectors
def test_hmac_of_reference_string_to_sign(v: dict[str, Any]) -> None:
    # The HMAC alone, independent of the canonicalization.
    assert signing.hmac_hex(v["secret"], v["string_to_sign"].encode("utf-8")) == v["signature"]


@parametrize_vectors
def test_sign(v: dict[str, Any]) -> None:
    if v["method"] == "GET":
        got = signing.sign(v["secret"], "GET", v["path"], v["timestamp"], query=v["query"])
    else:
        got = signing.sign(v["secret"], "POST", v["path"], v["timestamp"], body=v["body"])
    assert got == v["signature"]


@parametrize_post_vectors
def test_sign_with_bytes_body_and_int_timestamp(v: dict[str, Any]) -> None:
    got = signing.sign(
        v["secret"], "post", v["path"], int(v["timestamp"]), body=v["body"].encode("utf-8")
    )
    assert got == v["signature"]


@parametrize_vectors
def test_verify_accepts(v: dict[str, Any]) -> None:
    verdict = signing.verify(
        v["secret"],
        v["method"],
        v["path"],
        v["timestamp"],
        v["signature"],
        _payload(v),
        now=int(v["timestamp"]),
    )
    assert verdict.ok, verdict.detail
    assert verdict.reason is None
    assert verdict.string_to_sign == v["string_to_sign"].encode("utf-8")


@parametrize_vectors
def test_verify_rejects_one_changed_character(v: dict[str, Any]) -> None:
    tampered = _tamper(v["signature"])
    assert tampered != v["signature"]
    verdict = signing.verify(
        v["secret"],
        v["method"],
        v["path"],
        v["timestamp"],
        tampered,
        _payload(v),
        now=int(v["timestamp"]),
    )
    assert not verdict.ok
    assert verdict.reason == signing.MISMATCH


@parametrize_vectors
def test_verify_rejects_another_secret(v: dict[str, Any]) -> None:
    verdict = signing.verify(
        v["secret"] + "x",
        v["method"],
        v["path"],
        v["timestamp"],
        v["signature"],
        _payload(v),
        now=int(v["timestamp"]),
    )
    assert verdict.reason == signing.MISMATCH


def test_reference_vector_payload() -> None:
    # The documented reference vector, spelled out so a regenerated file cannot drift silently.
    (v,) = [v for v in VECTORS if v["name"] == "post reference vector"]
    assert v["payload"] == (
        '{"a":7,"b":50,"c":1e+21,"d":1e-7,"e":1.2345678901234568e+29,"f":"é/\\u001f\\n",'
        '"g":0.000001,"h":0,"i":1.5e+300,"j":9007199254740992}'
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_published_file_is_what_the_node_generator_writes(tmp_path: Path) -> None:
    out = tmp_path / "vectors.json"
    script = VECTORS_FILE.parent / "make_signature_vectors.mjs"
    subprocess.run(["node", str(script), str(out)], check=True, capture_output=True, timeout=60)
    assert out.read_bytes() == VECTORS_FILE.read_bytes()
