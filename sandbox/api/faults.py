"""The faults a scenario can force: delay, timeout, dropped connection, malformed body.

They are deliberately outside the contract (SPEC C): what a flaky network or a broken proxy
does to a partner's client. Holding and dropping need the client's connection, which the
adapter hands over as ``Request.connection``; in-process (no socket) a hold just waits and a
drop answers 502 with ``X-Sandbox-Fault: drop``.
"""

from __future__ import annotations

import time

from ..errors import ApiError
from .exchange import Answer, Connection

HOLD_POLL_SECONDS = 0.25  # how soon a held request notices its client left (100 held: 400 polls/s)
MALFORMED_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
JSON_TYPE = ("Content-Type", "application/json")


def hold(seconds: float, connection: Connection | None) -> bool:
    """Wait ``seconds``; False as soon as the client has gone away.

    A delay or a timeout must not keep waiting for a client that gave up long ago.
    """
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if connection is not None and connection.gone():
            return False
        time.sleep(min(HOLD_POLL_SECONDS, left))
    return True


# The client disconnected while held: nothing to answer, nothing was performed.
GONE = Answer(200, [("Content-Length", "0")], b"")
# The connection was closed: nothing reaches the client (the journal says status 0).
DROPPED = Answer(0, [], b"")


class ConnectionDropped(ApiError):
    """Where there is no socket to close (an in-process test client): a 502 that says so."""

    def __init__(self) -> None:
        super().__init__({}, {"X-Sandbox-Fault": "drop"}, 502)


def drop(connection: Connection | None) -> Answer:
    """Close the client's connection with no response at all (the ``drop`` fault)."""
    if connection is None or not connection.drop():
        raise ConnectionDropped()
    return DROPPED


def malform(answer: Answer, kind: str) -> Answer:
    """A 200 whose JSON body is broken: cut in half, an HTML error page, or empty."""
    body = answer.body
    if kind == "truncated":
        broken = body[: max(1, len(body) // 2)]
    elif kind == "html":
        broken = MALFORMED_HTML
    else:
        broken = b""
    headers = [JSON_TYPE, ("Content-Length", str(len(broken))), ("X-Sandbox-Fault", "malformed")]
    return Answer(200, headers, broken)
