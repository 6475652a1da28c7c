"""A small signing HTTP client for a running sandbox (stdlib ``urllib`` only).

Used by the tests against real servers, the benchmarks and, later, the pytest plugin: it signs
through ``sandbox.signing`` so there is still one implementation of the scheme.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlencode

from . import signing
from .config import DEFAULT_SECRET

SIGNATURE_HEADERS = (
    ("reason", "X-Sandbox-Signature-Reason"),
    ("detail", "X-Sandbox-Signature-Detail"),
    ("doctor", "X-Sandbox-Signature-Doctor"),
    ("signed", "X-Sandbox-String-To-Sign"),
    ("signed, base64", "X-Sandbox-String-To-Sign-Base64"),
)


@dataclass
class Reply:
    """One answer of the sandbox. Its ``repr`` is what a failing assertion shows: for a 401,
    why the signature failed, the doctor's finding and the StringToSign the sandbox built."""

    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def explain(self) -> str:
        """The answer in a few lines: status, scenario, body and, for a 401, the diagnosis."""
        lines = [f"HTTP {self.status}, scenario: {self.headers.get('X-Sandbox-Scenario', '-')}"]
        lines.append("body: " + self.body[:500].decode("utf-8", "replace"))
        for label, header in SIGNATURE_HEADERS:
            value = self.headers.get(header)
            if value:
                lines.append(f"signature {label}: {value}")
        return "\n".join(lines)

    def expect(self, status: int = 200) -> Reply:
        """This reply, if its status is ``status``; else an AssertionError that explains it."""
        if self.status != status:
            raise AssertionError(f"expected HTTP {status}, got:\n{self.explain()}")
        return self

    def __repr__(self) -> str:
        # One line, the diagnosis first: pytest cuts a long repr in its assertion message.
        parts = [f"<Reply {self.status}"]
        reason = self.headers.get("X-Sandbox-Signature-Reason")
        if reason:
            parts[0] += f" signature {reason}"
            doctor = self.headers.get("X-Sandbox-Signature-Doctor")
            parts.append(
                f"doctor: {doctor}"
                if doctor
                else self.headers.get("X-Sandbox-Signature-Detail", "")
            )
        parts.append("body: " + self.body[:300].decode("utf-8", "replace"))
        return " | ".join(parts) + ">"


class SandboxClient:
    """Sign and send requests to ``base_url`` with ``secret``."""

    def __init__(
        self,
        base_url: str,
        secret: str = DEFAULT_SECRET,
        timeout: float = 10,
        mode: str = signing.JSON_PAYLOAD,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout
        self.mode = mode  # the sandbox's --signing-payload
        self.token = token  # the control plane's bearer token, for unsigned control requests

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> Reply:
        query = urlencode(params or {})
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = signature or signing.sign(self.secret, "GET", path, ts, query=query)
        url = self.base_url + path + ("?" + query if query else "")
        return self.send("GET", url, None, {"x-timestamp": ts, "x-signature": sig})

    def post(
        self,
        path: str,
        body: dict[str, Any] | str | bytes | None = None,
        *,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> Reply:
        if isinstance(body, dict):
            raw = json.dumps(body).encode()
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body or b""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = signature or signing.sign(self.secret, "POST", path, ts, body=raw, mode=self.mode)
        headers = {"x-timestamp": ts, "x-signature": sig, "content-type": "application/json"}
        return self.send("POST", self.base_url + path, raw, headers)

    def control(
        self, method: str, path: str, body: Any = None, *, signed: bool = False, query: str = ""
    ) -> Reply:
        """A control-plane request (``path`` under ``/__sandbox``), with the bearer token if
        any; ``signed``: signed with the secret, so that it acts on that secret's tenant."""
        full = "/__sandbox" + path
        raw = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {} if raw is None else {"content-type": "application/json"}
        if signed:
            ts = str(int(time.time()))
            sig = signing.sign(self.secret, method, full, ts, query=query, body=raw, mode=self.mode)
            headers.update({"x-timestamp": ts, "x-signature": sig})
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = self.base_url + full + (f"?{query}" if query else "")
        return self.send(method, url, raw, headers)

    def transactions(self, client_id: str) -> tuple[int, list[dict[str, Any]]]:
        """(totalCount, every transaction) of a wallet, paged 100 at a time in id order."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            reply = self.get(
                "/api/v1/get-transactions",
                {
                    "clientId": client_id,
                    "limit": 100,
                    "page": page,
                    "sortBy": "id",
                    "sortOrder": "asc",
                },
            )
            if reply.status != 200:
                raise AssertionError(f"get-transactions -> {reply.status}: {reply.body!r}")
            data = reply.json()["data"]
            rows.extend(data["data"])
            if page >= data["totalPages"]:
                return data["totalCount"], rows
            page += 1

    def send(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Reply:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.headers, error.read())


def curl_command(
    base_url: str,
    method: str,
    path: str,
    query: str,
    timestamp: str,
    signature: str,
    body: str | None = None,
) -> str:
    """A ready, shell-quoted curl command for a signed request."""
    import shlex

    url = base_url.rstrip("/") + path + (f"?{query}" if query else "")
    parts = [
        "curl",
        "-s",
        "-X",
        method,
        shlex.quote(url),
        "-H",
        shlex.quote(f"x-timestamp: {timestamp}"),
        "-H",
        shlex.quote(f"x-signature: {signature}"),
    ]
    if body is not None:
        parts += ["-H", shlex.quote("content-type: application/json"), "-d", shlex.quote(body)]
    return " ".join(parts)
