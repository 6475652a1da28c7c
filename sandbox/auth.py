"""Who signed a request: the signature check shared by the API pipeline and the control plane.

Pure (no Flask): it takes the request's parts and the sandbox, and says which tenant's secret
verifies it (the secret that verifies a request selects the partner, SPEC B7), or why none
does. What is signed is ``signing.request_payload``'s business, in the sandbox's payload mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import doctor, signing

if TYPE_CHECKING:  # the state imports the scenarios, which read the route table: no cycle
    from .state import Sandbox, Tenant


def raw_path(environ: Mapping[str, Any]) -> str:
    """The path exactly as the client sent it, without the query string (SPEC B5)."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri:
        path = str(uri).split("?", 1)[0]
        if "://" in path:  # absolute-form request target: keep only the path
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path
    return (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def trusted_host(host: str, bound: str) -> bool:
    """Whether a Host header names this sandbox on loopback: a loopback name or the bound
    address, with any port. Anything else may be an attacker's name (DNS rebinding, a forged
    Host): the open control plane refuses it and login links do not follow it."""
    name = host.lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    return name in LOOPBACK_NAMES or name in (bound.lower(), f"[{bound.lower()}]")


@dataclass(frozen=True)
class Authentication:
    """The outcome of checking a request's signature against every tenant's secret.

    ``tenant`` is the one whose secret and clock verify the request, else None and ``verdict``
    is the default tenant's. ``body`` is the parsed body when the method signs one and the
    request got as far as needing it: a request refused on its headers alone is never parsed.
    """

    tenant: Tenant | None
    verdict: signing.Verdict
    body: signing.Body | None


def authenticate(
    sandbox: Sandbox,
    method: str,
    path: str,
    query: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
) -> Authentication:
    """Check the signature of one request (SPEC A2, B6, B7)."""
    window = sandbox.config.timestamp_window
    tenants = list(sandbox.tenants.values())  # the default tenant first
    early = [
        signing.precheck(signature, timestamp, now=t.clock.now(), window=window) for t in tenants
    ]
    if all(verdict is not None for verdict in early):
        first = early[0]
        assert first is not None
        return Authentication(None, first, None)
    assert timestamp is not None and signature is not None
    payload, parsed = signing.request_payload(
        method, query, body, mode=sandbox.config.signing_payload
    )
    first_verdict: signing.Verdict | None = None
    for tenant, refused in zip(tenants, early, strict=True):
        verdict = refused or signing.verify_digest(
            tenant.secret, method, path, timestamp, signature, payload
        )
        if verdict.ok:
            return Authentication(tenant, verdict, parsed)
        first_verdict = first_verdict or verdict
    assert first_verdict is not None
    return Authentication(None, first_verdict, parsed)


def diagnose(
    sandbox: Sandbox,
    method: str,
    path: str,
    query: str,
    body: bytes,
    timestamp: str,
    signature: str,
    parsed: signing.Body | None,
) -> doctor.Finding:
    """The signature doctor's finding for a mismatch, against the default tenant's secret and
    naming any other partner whose secret was used (SPEC B2)."""
    default = sandbox.default
    return doctor.diagnose(
        method,
        path,
        query,
        body,
        timestamp,
        signature,
        default.secret,
        {t.name: t.secret for t in sandbox.tenants.values() if t is not default},
        raw_payload=sandbox.config.signing_payload == signing.RAW_PAYLOAD,
        parsed=parsed,
    )


def signature_headers(
    verdict: signing.Verdict, finding: doctor.Finding | None = None
) -> dict[str, str]:
    """The ``X-Sandbox-*`` headers that explain a 401 (SPEC B2); never contains a secret.

    The StringToSign travels escaped for a header and, when escaping changed it, also as its
    exact bytes in base64, the detail saying so (``doctor.string_to_sign_headers``).
    """
    headers = {
        "X-Sandbox-Signature-Reason": verdict.reason or "valid",
        "X-Sandbox-Signature-Detail": verdict.detail,
    }
    if verdict.string_to_sign is not None:
        headers.update(doctor.string_to_sign_headers(verdict.string_to_sign, verdict.detail))
    if finding is not None:
        headers["X-Sandbox-Signature-Finding"] = finding.code
        headers["X-Sandbox-Signature-Doctor"] = doctor.header_value(finding)
    return headers
