"""Real partner clients against a live sandbox: the signature doctor names each mistake.

Each client in ``tests/clients/`` is written as a partner writes one from the public docs, with
its language's own defaults (``JSON.stringify``, ``json_encode``, ``URLSearchParams``,
``http_build_query``: no Python spacing in Node or PHP), and makes deliberate mistakes, each
one request. The test reads what the sandbox answered (``X-Sandbox-Signature-Finding`` above
all) and asserts the exact finding; for the mistakes partners reported (M1: an undefined
param signed but not sent; M2: a raw '+' in the URL; M3: PHP's escaped slashes; M4: PHP's
``\\u`` escapes), the corrected call is answered 200.

Needs ``node`` (18+, no npm packages) and ``php`` (8.0+ CLI, no curl extension: PHP's own
HTTP stream wrapper; Debian: ``php-cli``); each half is skipped, with the reason, without it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import doctor
from sandbox.process import ServerProcess

CLIENTS = Path(__file__).resolve().parent / "clients"

# case -> (status, X-Sandbox-Signature-Finding); None: no finding (the request got past the
# signature check).
NODE_CASES: dict[str, tuple[int, str | None]] = {
    "axios-undefined-param": (401, "unsent-param-undefined"),  # M1
    "axios-undefined-param-fixed": (200, None),
    "axios-null-param": (401, "unsent-param-null"),
    "template-url-plus": (401, "unencoded-plus"),  # M2
    "template-url-plus-signed-as-space": (400, None),  # the old advice: a 400 on dateFrom
    "template-url-plus-fixed": (200, None),
    "date-now-signed": (401, "milliseconds-signed"),
    "pretty-signed": (401, "indent-2"),
    "base64-digest": (401, "base64"),
    "urlsearchparams-signed": (401, "url-encoded-query"),
    "path-with-query": (401, "query-in-path"),
    "newline-joined": (401, "newline-separated"),
    "plain-sha256": (401, "hash-not-hmac"),
    "wrong-secret": (401, "no-known-variant"),
}
PHP_CASES: dict[str, tuple[int, str | None]] = {
    "json-encode-url": (401, "escaped-slashes"),  # M3
    "json-encode-url-fixed": (200, None),
    "json-encode-unicode": (401, "unicode-escape"),  # M4
    "json-encode-unicode-fixed": (200, None),
    "json-encode-both": (401, "unicode-escape+escaped-slashes"),
    "json-encode-both-fixed": (200, None),
    "pretty-print-signed": (401, "indent-4"),
    "http-build-query-null": (401, "unsent-param-empty"),  # M1, PHP's way
    "http-build-query-signed": (401, "url-encoded-query"),
    "concatenated-url-plus": (401, "unencoded-plus"),  # M2, PHP's way
    "concatenated-url-plus-fixed": (200, None),
    "base64-raw-digest": (401, "base64"),
    "uppercase-hex": (401, "uppercase-hex"),
    "microtime-signed": (401, "milliseconds-signed"),
    "secret-file-newline": (401, "secret-trailing-newline"),
}

Answers = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as proc:
        yield proc


def run_client(command: list[str], url: str) -> Answers:
    """Every case of a client, run once against the sandbox: its answers by case."""
    result = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    return {answer.pop("case"): answer for answer in answers}


@pytest.fixture(scope="module")
def node(request: pytest.FixtureRequest) -> Answers:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (Debian: nodejs): the Node partner client cannot run")
    server: ServerProcess = request.getfixturevalue("server")  # started only when needed
    return run_client(["node", str(CLIENTS / "partner_node.mjs")], server.url)


@pytest.fixture(scope="module")
def php(request: pytest.FixtureRequest) -> Answers:
    if shutil.which("php") is None:
        pytest.skip("php is not installed (Debian: php-cli): the PHP partner client cannot run")
    server: ServerProcess = request.getfixturevalue("server")
    return run_client(["php", str(CLIENTS / "partner.php")], server.url)


def check(answer: dict[str, Any], status: int, finding: str | None) -> None:
    got = (answer["status"], answer["finding"])
    assert got == (status, finding), answer["doctor"] or answer["body"]
    if status == 401:
        assert answer["reason"] == "mismatch"
        assert answer["doctor"].startswith(f"{finding}: ")


@pytest.mark.parametrize(("case", "expected"), NODE_CASES.items(), ids=list(NODE_CASES))
def test_node_client(node: Answers, case: str, expected: tuple[int, str | None]) -> None:
    check(node[case], *expected)


@pytest.mark.parametrize(("case", "expected"), PHP_CASES.items(), ids=list(PHP_CASES))
def test_php_client(php: Answers, case: str, expected: tuple[int, str | None]) -> None:
    check(php[case], *expected)


def test_every_case_of_each_client_is_checked(node: Answers, php: Answers) -> None:
    assert set(node) == set(NODE_CASES)
    assert set(php) == set(PHP_CASES)


# --------------------------------------------------------------------------- the advice itself


def test_m1_names_the_param_signed_but_not_sent(node: Answers, php: Answers) -> None:
    said = node["axios-undefined-param"]["doctor"]
    assert "You signed type=undefined though your HTTP client did not send it (axios" in said
    assert "You signed dateFrom=null" in node["axios-null-param"]["doctor"]
    assert "http_build_query" in php["http-build-query-null"]["doctor"]


def test_m2_advises_2b_never_a_space(node: Answers, php: Answers) -> None:
    for answer in (node["template-url-plus"], php["concatenated-url-plus"]):
        assert "the sandbox read dateFrom=2026-01-01T00:00:00 08:00" in answer["doctor"]
        assert "Send '+' as %2B" in answer["doctor"]
        assert "'+' as a space" not in answer["doctor"]
    assert "The dateFrom is not a valid date." in node["template-url-plus-signed-as-space"]["body"]


def test_m3_m4_name_the_php_flags(php: Answers) -> None:
    assert "(PHP: JSON_UNESCAPED_SLASHES)" in php["json-encode-url"]["doctor"]
    assert "PHP: JSON_UNESCAPED_UNICODE" in php["json-encode-unicode"]["doctor"]
    assert "JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES" in php["json-encode-both"]["doctor"]


def test_escaped_headers_cannot_read_as_the_mistake(php: Answers) -> None:
    """The fix quotes 'Café' escaped in the header, like the mistake: the note says which is
    which, and the exact bytes of the StringToSign come in base64."""
    answer = php["json-encode-unicode"]
    assert '"description":"Caf\\u00e9 au lait"' in answer["doctor"]
    assert answer["doctor"].endswith(doctor.ESCAPED_NOTE)
    assert "X-Sandbox-String-To-Sign-Base64 has the exact bytes." in answer["detail"]
    assert '"description":"Café au lait"' in answer["signed"]  # decoded: the real characters


def test_no_known_variant_gives_the_next_step_that_works(node: Answers) -> None:
    answer = node["wrong-secret"]
    assert "Next step: compare your StringToSign byte for byte" in answer["doctor"]
    assert "likely" not in answer["doctor"]
    # The client did that (exact bytes from the base64 header): equal, so the secret is wrong.
    assert answer["sameStringToSign"] is True
