"""Drive a client that openapi-python-client generated from docs/openapi.json against a live
sandbox, and check that every documented response parses into its typed model.

Run by tests/test_contract_tools.py with the python of the tools' own virtualenv (where the
generated client's dependencies are installed), never with the project's:

    python client_driver.py GENERATED_DIR SANDBOX_URL

GENERATED_DIR holds the generated package ``sabong_client``; the sandbox must run with
``--duplicate-reference reject`` (for the 409s). The generated client does not sign, so this
script signs each request as a partner would (lowercase hex HMAC-SHA256 of METHOD + PATH +
TIMESTAMP + PAYLOAD, secret ``sandbox-secret``) and hands the two headers to a ``Client`` made
for that one call; an httpx request hook checks that what went on the wire is what was signed.
Prints one JSON line per case, then a ``{"summary": ...}`` line; exits 1 when a case fails.

Only the standard library is imported at the top: the generated package and httpx come from
GENERATED_DIR and the tools' virtualenv at run time, so the project's mypy and ruff, which also
read this file, need neither.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import pkgutil
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

SECRET = "sandbox-secret"
PACKAGE = "sabong_client"
USER = "DRIVER_USER"  # created by the first case
NOBODY = "DRIVER_NOBODY"  # never created
RUN = str(time.time_ns())  # references unique to this run: it may be driven twice
SERVER_ERROR = "CLIENT_SERVER_ERROR"  # the built-in magic clientId: 500 on every endpoint
# Just over the sandbox's size limits (SPEC B13): a 64 KiB body, an 8 KiB query, 16 KiB of
# headers; the document allows such requests (unknown fields and parameters are allowed).
BIG_BODY_FIELD = {"note": "x" * (64 * 1024)}
LONG_CLIENT_ID = "L" * (8 * 1024)
BIG_HEADER = (("x-partner-note", "h" * (16 * 1024)),)


def signature(secret: str, method: str, path: str, timestamp: str, payload: str) -> str:
    message = (method + path + timestamp + payload).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def query_text(value: Any) -> str:
    """A query value as httpx writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def query_payload(pairs: list[tuple[str, str]]) -> str:
    """GET: the decoded query sorted by key, ``key=value`` joined with ``&`` (SPEC A2)."""
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def body_payload(body: Any) -> str:
    """POST: the compact JSON of the body, as httpx sends it (and, for these bodies, as
    JavaScript's JSON.stringify prints it)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Enum:
    """An argument that is a member of a generated enum, e.g. ``GetTransactionsType``."""

    model: str
    value: str


@dataclass(frozen=True)
class Case:
    """One call of a generated operation and the answer it must get."""

    name: str
    operation: str  # the generated module, e.g. "get_balance"
    status: int
    model: str  # the class ``.parsed`` must be, e.g. "GetBalanceSuccess"
    args: dict[str, Any]  # keyword arguments: ``body`` (a dict) or the query parameters
    secret: str = SECRET
    headers: tuple[tuple[str, str], ...] = ()  # sent besides the two signature headers


def _profile(client_id: str, **extra: Any) -> dict[str, Any]:
    profile = {"username": "driver", "displayName": "Driver", "ipAddress": "127.0.0.1"}
    return {"body": {"clientId": client_id, **profile, **extra}}


def _money(client_id: str, amount: float, **extra: Any) -> dict[str, Any]:
    return {"body": {"clientId": client_id, "amount": amount, **extra}}


# Each endpoint's generated module, its model prefix, and a valid call for a given clientId.
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("generate_auth_token", "GenerateAuthToken", _profile),
    ("get_balance", "GetBalance", lambda client_id: {"client_id": client_id}),
    ("credit_balance", "CreditBalance", lambda client_id: _money(client_id, 1)),
    ("debit_balance", "DebitBalance", lambda client_id: _money(client_id, 1)),
    ("get_transactions", "GetTransactions", lambda client_id: {"client_id": client_id}),
]


def cases() -> list[Case]:
    """Every documented response of every endpoint, each reached the way a partner meets it
    (no scenario forced: a wrong secret, an unknown user, a reused reference, ...)."""
    out = [
        # 200 on each endpoint; the two references come back below for the 409s.
        Case("token 200", "generate_auth_token", 200, "GenerateAuthTokenSuccess",
             _profile(USER, expiration=5)),
        Case("credit 200", "credit_balance", 200, "CreditBalanceSuccess",
             _money(USER, 100, reference="DRV-C1-" + RUN)),
        Case("debit 200", "debit_balance", 200, "DebitBalanceSuccess",
             _money(USER, 10.5, description="bet", reference="DRV-D1-" + RUN)),
        Case("balance 200", "get_balance", 200, "GetBalanceSuccess", {"client_id": USER}),
        Case("transactions 200", "get_transactions", 200, "GetTransactionsSuccess",
             {"client_id": USER, "limit": 5, "type_": Enum("GetTransactionsType", "credit"),
              "sort_order": Enum("GetTransactionsSortOrder", "asc")}),
        # 400 validation: requests the document's types allow and the rules refuse.
        Case("token 400", "generate_auth_token", 400, "GenerateAuthTokenValidation",
             _profile(USER, expiration=0)),
        Case("balance 400", "get_balance", 400, "GetBalanceValidation", {"client_id": ""}),
        Case("credit 400", "credit_balance", 400, "CreditBalanceValidation",
             _money(USER, 1.005)),
        Case("debit 400", "debit_balance", 400, "DebitBalanceValidation", _money(USER, 1.005)),
        Case("transactions 400", "get_transactions", 400, "GetTransactionsValidation",
             {"client_id": USER, "date_from": "2026-02-02", "date_to": "2026-02-01"}),
        # 400 insufficient balance: a debit beyond the balance.
        Case("debit 400 insufficient", "debit_balance", 400, "DebitBalanceInsufficientBalance",
             _money(USER, 1_000_000)),
        # 409: a reference this user used before (the sandbox runs with reject).
        Case("credit 409", "credit_balance", 409, "CreditBalanceDuplicateReference",
             _money(USER, 1, reference="DRV-C1-" + RUN)),
        Case("debit 409", "debit_balance", 409, "DebitBalanceDuplicateReference",
             _money(USER, 1, reference="DRV-D1-" + RUN)),
    ]  # fmt: skip
    for operation, prefix, call in ENDPOINTS:
        label = operation.replace("_", "-")
        out.append(
            Case(f"{label} 401", operation, 401, prefix + "InvalidSignature", call(USER), "wrong")
        )
        if operation != "generate_auth_token":  # it creates users: no 404
            out.append(Case(f"{label} 404", operation, 404, prefix + "NotFound", call(NOBODY)))
        out.append(Case(f"{label} 500", operation, 500, prefix + "ServerError", call(SERVER_ERROR)))
        # The size limits, checked before anything else.
        if "body" in call(USER):
            big = {"body": {**call(USER)["body"], **BIG_BODY_FIELD}}
            out.append(Case(f"{label} 413", operation, 413, prefix + "PayloadTooLarge", big))
        else:
            long = call(LONG_CLIENT_ID)
            out.append(Case(f"{label} 414", operation, 414, prefix + "URITooLong", long))
        too_many = prefix + "RequestHeaderFieldsTooLarge"
        out.append(Case(f"{label} 431", operation, 431, too_many, call(USER), headers=BIG_HEADER))
    return out


class Generated:
    """The generated package ``sabong_client``, imported from its directory."""

    def __init__(self, directory: str) -> None:
        sys.path.insert(0, directory)
        self.client = importlib.import_module(f"{PACKAGE}.client")
        self.models = importlib.import_module(f"{PACKAGE}.models")
        api = importlib.import_module(f"{PACKAGE}.api")
        # openapi-python-client puts each tag's operations in a package of its own.
        self.operations: dict[str, Any] = {
            info.name.rsplit(".", 1)[-1]: importlib.import_module(info.name)
            for info in pkgutil.walk_packages(api.__path__, f"{PACKAGE}.api.")
            if not info.ispkg
        }

    def model(self, name: str) -> Any:
        cls = getattr(self.models, name, None)
        if not isinstance(cls, type):
            raise LookupError(f"the generated client has no model {name}")
        return cls

    def arguments(self, case: Case) -> dict[str, Any]:
        """The operation's keyword arguments: the body as its generated model, enums as theirs."""
        out: dict[str, Any] = {}
        for key, value in case.args.items():
            if key == "body":
                body_model = "".join(w.capitalize() for w in case.operation.split("_")) + "Body"
                out[key] = self.model(body_model).from_dict(value)
            elif isinstance(value, Enum):
                out[key] = self.model(value.model)(value.value)
            else:
                out[key] = value
        return out


def run(generated: Generated, base_url: str, case: Case) -> dict[str, Any]:
    httpx = importlib.import_module("httpx")  # the tools' virtualenv's (module docstring)

    module = generated.operations[case.operation]
    arguments = generated.arguments(case)
    # What the generated code will send: its defaults included (get-transactions sends limit,
    # page, sortBy and sortOrder even when not given), so they are signed too.
    request_args = module._get_kwargs(**arguments)
    method, path = request_args["method"].upper(), request_args["url"]
    if "json" in request_args:
        payload = body_payload(request_args["json"])
    else:
        pairs = [(k, query_text(v)) for k, v in request_args.get("params", {}).items()]
        payload = query_payload(pairs)
    timestamp = str(int(time.time()))
    headers = {
        **dict(case.headers),
        "x-timestamp": timestamp,
        "x-signature": signature(case.secret, method, path, timestamp, payload),
    }
    sent: list[Any] = []  # httpx.Request
    client = generated.client.Client(
        base_url=base_url,
        headers=headers,
        raise_on_unexpected_status=True,
        timeout=httpx.Timeout(10.0),
        httpx_args={"event_hooks": {"request": [sent.append]}},
    )
    with client:
        response = module.sync_detailed(client=client, **arguments)

    problems = []
    (request,) = sent
    on_wire = (
        request.url.path,
        (
            request.content.decode()
            if method == "POST"
            else query_payload(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        ),
    )
    if on_wire != (path, payload):
        problems.append(f"sent {on_wire!r}, signed {(path, payload)!r}")
    if response.status_code != case.status:
        problems.append(f"status {int(response.status_code)}, expected {case.status}")
    parsed = response.parsed
    if parsed is None:
        problems.append(".parsed is None")
    elif not isinstance(parsed, generated.model(case.model)):
        problems.append(f".parsed is {type(parsed).__name__}, expected {case.model}")
    return {
        "case": case.name,
        "ok": not problems,
        "problems": problems,
        "status": int(response.status_code),
        "parsed": type(parsed).__name__,
        "body": response.content.decode("utf-8", "replace")[:500],
    }


def main(argv: list[str]) -> int:
    directory, base_url = argv
    generated = Generated(directory)
    todo = cases()
    failed = 0
    for case in todo:
        try:
            result = run(generated, base_url, case)
        except Exception:
            result = {"case": case.name, "ok": False, "problems": [traceback.format_exc()]}
        failed += not result["ok"]
        print(json.dumps(result), flush=True)
    print(json.dumps({"summary": {"cases": len(todo), "failed": failed}}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
