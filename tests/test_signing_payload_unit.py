"""``signing.request_payload``, the one rule of what is signed, method by method and mode by
mode: the exact PAYLOAD bytes and the parsed body it hands on. These kill the mutants of
``request_payload`` and ``signs_query`` that the rule and vector tests let through."""

from __future__ import annotations

import pytest

from sandbox import signing

BODY = b'{"b": 1, "a": [true, null]}'
COMPACT = b'{"b":1,"a":[true,null]}'
QUERY = "z=1&a=x%20y&a=2"
SORTED = b"a=x y,2&z=1"


def test_the_mode_names() -> None:
    """``json`` and ``raw`` are the values of the config's signing_payload."""
    assert (signing.JSON_PAYLOAD, signing.RAW_PAYLOAD) == ("json", "raw")


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "get", "Head", "delete"])
def test_methods_without_a_body_sign_the_sorted_query(method: str) -> None:
    assert signing.signs_query(method)
    for mode in (signing.JSON_PAYLOAD, signing.RAW_PAYLOAD):
        # a body sent anyway is neither signed nor parsed
        assert signing.request_payload(method, QUERY, BODY, mode=mode) == (SORTED, None)
    assert signing.request_payload(method, "", BODY) == (b"", None)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "OPTIONS", "post", "GETX", ""])
def test_every_other_method_signs_its_body(method: str) -> None:
    assert not signing.signs_query(method)
    payload, parsed = signing.request_payload(method, QUERY, BODY)
    assert payload == COMPACT
    assert parsed == signing.Body(COMPACT, {"b": 1, "a": [True, None]}, None)


def test_the_default_mode_is_json() -> None:
    assert signing.request_payload("POST", "", BODY)[0] == COMPACT
    assert signing.request_payload("POST", "", BODY, mode=signing.JSON_PAYLOAD)[0] == COMPACT


def test_the_raw_mode_signs_the_bytes_and_still_parses_them() -> None:
    payload, parsed = signing.request_payload("POST", QUERY, BODY, mode=signing.RAW_PAYLOAD)
    assert payload == BODY
    assert parsed == signing.Body(COMPACT, {"b": 1, "a": [True, None]}, None)


def test_an_empty_body_signs_as_an_empty_object_in_json_mode_only() -> None:
    assert signing.request_payload("POST", "", b"") == (b"{}", signing.Body(b"{}", {}, None))
    raw, parsed = signing.request_payload("POST", "", b" \n", mode=signing.RAW_PAYLOAD)
    assert raw == b" \n" and parsed == signing.Body(b"{}", {}, None)


def test_a_body_that_is_no_object_signs_as_its_bytes_with_a_problem() -> None:
    for mode in (signing.JSON_PAYLOAD, signing.RAW_PAYLOAD):
        payload, parsed = signing.request_payload("POST", "", b"[1, 2]", mode=mode)
        assert payload == b"[1, 2]"
        assert parsed == signing.Body(
            b"[1, 2]", None, "The body must be a JSON object, not an array."
        )
