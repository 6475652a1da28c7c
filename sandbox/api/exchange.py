"""What travels through the API pipeline: the request description, the per-request state
(``Exchange``) and the answer. Plain typed data; no Flask.

An adapter (the Flask app's ``/api/v1`` dispatch) describes the HTTP request as a ``Request``,
the pipeline carries everything it learns about it in one ``Exchange``, and hands back an
``Answer``: status, headers and body, plus the journal entry it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .. import signing
from ..errors import ValidationFailed
from ..journal import SignatureReport

if TYPE_CHECKING:  # the state imports the scenarios, which read the route table: no cycle
    from ..journal import Entry
    from ..state import Sandbox, Tenant


class Connection(Protocol):
    """The client's connection, as far as the faults need it (see ``api.faults``)."""

    def gone(self) -> bool:
        """True once the client has disconnected."""

    def drop(self) -> bool:
        """Close the connection without any response; False where there is no socket."""

    def local_url(self) -> str | None:
        """``http://<address>:<port>/`` the client connected to (not what it claims in Host)."""


@dataclass(frozen=True)
class Request:
    """One HTTP request, as the client sent it."""

    method: str
    path: str  # exactly as sent, without the query (what is signed, SPEC B5)
    route_path: str  # the decoded path, for routing and the journal
    query: str  # the raw query string
    headers: Mapping[str, str]  # lower-case names: those the pipeline reads (the signature's)
    body: bytes  # empty when not read (over the body limit)
    content_length: int  # as announced: the limits judge it before anything is read
    header_bytes: int  # all header names and values together, for the 431 limit
    host_url: str  # scheme://host/ as the client addressed the sandbox (login links)
    connection: Connection | None = None  # None in-process: no socket to hold or drop


@dataclass(frozen=True)
class Answer:
    """The pipeline's answer; ``entry`` is the journal entry recorded for it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    entry: Entry | None = None


@dataclass
class Exchange:
    """One API request on its way through the pipeline: everything learnt about it so far.

    Handlers read the verified request from it (``tenant``, ``params``, ``body``) and may
    change how the success is answered (``message``, ``headers``) and journaled (``flags``).
    """

    request: Request
    sandbox: Sandbox
    tenant: Tenant  # whose secret verified the request; the operator's until then
    started: float  # time.perf_counter() at arrival
    endpoint: str = ""  # the route's name, once routed
    message: str = ""  # the success message (the route's documented one by default)
    params: dict[str, str] = field(default_factory=dict)  # decoded query, repeats joined
    body: signing.Body | None = None  # the parsed body of a POST, once its signature is due
    client_id: str | None = None  # from the query (GET) or the JSON body (POST)
    signature: SignatureReport | None = None  # None: refused before the signature check
    scenario: str = "none"  # the X-Sandbox-Scenario label
    headers: dict[str, str] = field(default_factory=dict)  # extra X-Sandbox-* on success
    flags: list[str] = field(default_factory=list)  # journal flags (duplicate-reference, ...)
    dropped: bool = False  # the connection was closed without an answer
    # For the readiness report: the credit/debit asked (type, cents, reference) once
    # validated, whether the ledger changed, and the kind of a documented refusal.
    operation: tuple[str, int, str | None] | None = None
    applied: bool = False
    refusal: str | None = None

    def json_object(self) -> dict[str, Any]:
        """The POST body as an object, or the 400 that says why it is not one (SPEC B3)."""
        body = self.body
        if body is None or body.data is None:
            problem = body.problem if body is not None else None
            raise ValidationFailed({"body": [problem or "The body must be a JSON object."]})
        return body.data


Handler = Callable[[Exchange], dict[str, Any]]
