"""The request size limits (sandbox/limits.py) and the cap on held requests (``Holds`` in
sandbox/state.py), without a server: each limit at its exact edge, each answer's envelope."""

from __future__ import annotations

import pytest

from sandbox import limits
from sandbox.errors import HttpError
from sandbox.state import Holds

# --------------------------------------------------------------------------- size limits

KIB = 1024


def refusal(content_length: int | None, query: int, headers: int) -> tuple[int, dict[str, object]]:
    with pytest.raises(HttpError) as caught:
        limits.check(content_length, query, headers)
    return caught.value.status_code, caught.value.body


@pytest.mark.parametrize(
    ("sizes", "status", "message"),
    [
        ((64 * KIB + 1, 0, 0), 413, "Payload too large"),
        ((0, 8 * KIB + 1, 0), 414, "URI too long"),
        ((0, 0, 16 * KIB + 1), 431, "Request header fields too large"),
        ((64 * KIB + 1, 8 * KIB + 1, 16 * KIB + 1), 413, "Payload too large"),  # body first
        ((None, 8 * KIB + 1, 16 * KIB + 1), 414, "URI too long"),  # then the query
    ],
    ids=["body", "query", "headers", "all-three", "no-body-query-and-headers"],
)
def test_a_request_one_byte_over_a_limit_gets_its_envelope(
    sizes: tuple[int | None, int, int], status: int, message: str
) -> None:
    assert refusal(*sizes) == (status, {"status": "failed", "message": message, "data": None})


@pytest.mark.parametrize(
    "sizes",
    [(64 * KIB, 8 * KIB, 16 * KIB), (None, 0, 0), (0, 0, 0)],
    ids=["every-limit-exactly", "no-content-length", "empty"],
)
def test_a_request_at_the_limits_passes(sizes: tuple[int | None, int, int]) -> None:
    limits.check(*sizes)  # raises nothing


def test_header_bytes_counts_the_names_and_text_values_of_http_headers_only() -> None:
    environ = {
        "HTTP_HOST": "127.0.0.1",  # 9 + 9
        "HTTP_X_SIGNATURE": "ab",  # 16 + 2
        "HTTP_X_ODD": b"bytes",  # not text: never a header waitress gave us
        "CONTENT_TYPE": "application/json",  # not an HTTP_ key: not counted
        "PATH_INFO": "/api/v1/get-balance",
        "wsgi.input": object(),
    }
    assert limits.header_bytes(environ) == 36
    assert limits.header_bytes({}) == 0


# --------------------------------------------------------------------------- held requests


def test_a_slot_is_taken_for_the_block_and_given_back_after_it() -> None:
    holds = Holds(total=2, per_tenant=2)
    with holds.slot("A") as first:
        assert first is True and holds.held() == 1
        with holds.slot("B") as second:
            assert second is True and holds.held() == 2
        assert holds.held() == 1
    assert holds.held() == 0


def test_the_per_partner_cap_leaves_room_for_others() -> None:
    holds = Holds(total=3, per_tenant=2)
    with holds.slot("A") as a1, holds.slot("A") as a2, holds.slot("A") as a3:
        assert (a1, a2, a3) == (True, True, False)
        assert holds.held() == 2  # the refused one took nothing
        with holds.slot("B") as b:
            assert b is True and holds.held() == 3
    assert holds.held() == 0


def test_the_overall_cap_refuses_every_partner() -> None:
    holds = Holds(total=2, per_tenant=2)
    with holds.slot("A") as a, holds.slot("B") as b, holds.slot("C") as c:
        assert (a, b, c) == (True, True, False)
        assert holds.held() == 2
    with holds.slot("C") as c:  # the slots were given back
        assert c is True


def test_a_slot_is_given_back_when_the_block_raises() -> None:
    holds = Holds(total=1, per_tenant=1)
    with pytest.raises(RuntimeError), holds.slot("A"):
        raise RuntimeError("the held request failed")
    assert holds.held() == 0
    with holds.slot("A") as free:
        assert free is True


def test_a_refused_slot_gives_nothing_back() -> None:
    holds = Holds(total=1, per_tenant=1)
    with holds.slot("A") as taken:
        with holds.slot("A") as refused:
            assert refused is False
        assert taken is True and holds.held() == 1  # the refusal did not free A's slot
        with holds.slot("B") as other:
            assert other is False
    assert holds.held() == 0
