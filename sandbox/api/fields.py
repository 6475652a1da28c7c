"""The request rules of the five endpoints, declared once (SPEC A3-A6, B10-B12).

Each endpoint's parameters are a tuple of ``Field``: where it is (body or query), its kind,
whether it is required, its limits and default. Two things are derived from the same
declaration, so that they cannot disagree:

- ``validate``: the server's check, in the Laravel/validatorjs wording of the docs (through
  ``sandbox.validation.Checker``), every failing field at once, in declaration order;
- ``schema``: the JSON Schema of the parameter in the OpenAPI document.

Decisions where the docs and a strict schema could differ (README, "Where the docs are silent"):
an integer in a JSON body may also be a string of digits (Laravel's ``integer`` rule accepts
``"30"``); an optional string may be ``null`` (validatorjs skips empty optional fields);
unknown body fields and query parameters are signed and ignored, never refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..dates import parse_bound
from ..store import SORT_COLUMNS
from ..validation import MAX_AMOUNT, Checker

STRING, AMOUNT, INTEGER, CHOICE, DATE = "string", "amount", "integer", "choice", "date"


@dataclass(frozen=True)
class Field:
    """One request parameter and its rules."""

    name: str
    kind: str  # STRING, AMOUNT, INTEGER, CHOICE or DATE
    required: bool = False
    max_length: int | None = None  # STRING
    minimum: int | None = None  # INTEGER
    maximum: int | None = None  # INTEGER
    choices: tuple[str, ...] = ()  # CHOICE
    default: Any = None  # what an absent optional parameter means
    description: str = ""


def validate(
    fields: tuple[Field, ...], values: Mapping[str, Any], *, query: bool
) -> dict[str, Any]:
    """The checked values of ``fields`` (absent optional ones get their default), or the 400
    ``ValidationFailed`` listing every failing field. ``query``: the values are query-string
    text, else parsed JSON."""
    check = Checker()
    out: dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name)
        if field.required and field.kind != AMOUNT and not check.required(field.name, value):
            continue
        checked = _check(check, field, value, query=query)
        out[field.name] = field.default if checked is None else checked
    _check_date_range(check, fields, out)
    check.done()
    return out


def _check(check: Checker, field: Field, value: Any, *, query: bool) -> Any:
    name = field.name
    if field.kind == STRING:
        if query:  # a query value is always text
            return value
        if field.required:
            return value if check.string(name, value, max_length=field.max_length) else None
        return check.optional_string(name, value, max_length=field.max_length or 10**9)
    if field.kind == AMOUNT:
        return check.amount(name, value)
    if field.kind == INTEGER:
        assert field.minimum is not None
        if query:
            return check.integer(name, value, minimum=field.minimum, maximum=field.maximum)
        assert field.maximum is not None
        return check.body_integer(name, value, minimum=field.minimum, maximum=field.maximum)
    if field.kind == CHOICE:
        return check.choice(name, value, field.choices)
    if value:  # DATE: kept as given (the filters echo it), checked by parse_bound
        if parse_bound(value, end=name == "dateTo") is None:
            check.add(name, f"The {name} is not a valid date.")
            return None
        return value
    return None


def _check_date_range(check: Checker, fields: tuple[Field, ...], out: dict[str, Any]) -> None:
    """``dateTo`` may not come before ``dateFrom`` (both inclusive, date-only = whole day)."""
    if not {"dateFrom", "dateTo"} <= {f.name for f in fields}:
        return
    start, end = out.get("dateFrom"), out.get("dateTo")
    if not (start and end):
        return
    first, last = parse_bound(start, end=False), parse_bound(end, end=True)
    if first is not None and last is not None and first > last:
        check.add("dateTo", "The dateTo must be a date after or equal to dateFrom.")


# --------------------------------------------------------------------------- the endpoints

CLIENT_ID = Field("clientId", STRING, required=True, description="The partner's player id.")
TOKEN_BODY = (
    Field("clientId", STRING, required=True, max_length=255, description=CLIENT_ID.description),
    Field("username", STRING, required=True, max_length=100),
    Field("displayName", STRING, required=True, max_length=100),
    Field("ipAddress", STRING, required=True, max_length=45),
    Field(
        "expiration",
        INTEGER,
        minimum=1,
        maximum=1440,
        default=2,
        description="Minutes the token lives.",
    ),
)
WALLET_BODY = (
    CLIENT_ID,
    Field(
        "amount",
        AMOUNT,
        required=True,
        description="A JSON number from 0.01 to 999999999.99 with at most 2 decimals.",
    ),
    Field("description", STRING, max_length=500),
    Field("reference", STRING, max_length=255, description="The partner's own id of it."),
)
BALANCE_QUERY = (CLIENT_ID,)
MAX_PAGE = 1_000_000_000  # beyond it the offset leaves SQLite's integers: a 400, not a clamp
TRANSACTIONS_QUERY = (
    CLIENT_ID,
    Field("limit", INTEGER, minimum=1, maximum=100, default=10),
    Field("page", INTEGER, minimum=1, maximum=MAX_PAGE, default=1),
    Field("type", CHOICE, choices=("credit", "debit")),
    Field("sortBy", CHOICE, choices=tuple(SORT_COLUMNS), default="createdAt"),
    Field("sortOrder", CHOICE, choices=("asc", "desc"), default="desc"),
    Field("dateFrom", DATE, description="ISO 8601; a date alone is the whole UTC day."),
    Field("dateTo", DATE, description="ISO 8601, inclusive; a date alone is the whole UTC day."),
)


# --------------------------------------------------------------------------- for the README


def rule_text(field: Field) -> str:
    """A field's rules in a few words, for the README's table of parameters."""
    if field.kind == STRING:
        parts = [
            "string" + (f", at most {field.max_length} characters" if field.max_length else "")
        ]
    elif field.kind == AMOUNT:
        parts = ["number, 0.01 to 999999999.99, at most 2 decimals"]
    elif field.kind == INTEGER:
        parts = [f"integer, {field.minimum} to {field.maximum}"]
    elif field.kind == CHOICE:
        parts = [" or ".join(f"`{c}`" for c in field.choices)]
    else:
        parts = ["ISO 8601 date or date-time"]
    if field.default is not None:
        parts.append(f"default `{field.default}`")
    return ", ".join(parts)


PARAMETERS = (
    ("`POST /api/v1/generate-auth-token`", "body", TOKEN_BODY),
    ("`POST /api/v1/credit-balance`, `POST /api/v1/debit-balance`", "body", WALLET_BODY),
    ("`GET /api/v1/get-balance`", "query", BALANCE_QUERY),
    ("`GET /api/v1/get-transactions`", "query", TRANSACTIONS_QUERY),
)


def parameters_markdown() -> str:
    """The README's table of every endpoint's parameters (a test keeps the README in step)."""
    rows = ["| endpoint | in | field | required | rules |", "|---|---|---|---|---|"]
    for endpoint, where, declared in PARAMETERS:
        for field in declared:
            required = "**yes**" if field.required else "no"
            rows.append(
                f"| {endpoint} | {where} | `{field.name}` | {required} | {rule_text(field)} |"
            )
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------- JSON Schema


def schema(field: Field, *, query: bool) -> dict[str, Any]:
    """The JSON Schema of one parameter, as ``validate`` checks it."""
    out: dict[str, Any]
    if field.kind == STRING:
        out = {"type": "string"}
        if field.required:
            out["minLength"] = 1
        if field.max_length is not None:
            out["maxLength"] = field.max_length
        if not field.required and not query:
            out = {"type": ["string", "null"], **{k: v for k, v in out.items() if k != "type"}}
    elif field.kind == AMOUNT:
        out = {"type": "number", "minimum": 0.01, "maximum": MAX_AMOUNT}
    elif field.kind == INTEGER:
        bounds = {"minimum": field.minimum, "maximum": field.maximum}
        integer = {"type": "integer", **{k: v for k, v in bounds.items() if v is not None}}
        if query:
            out = integer
        else:  # Laravel's integer rule: 30 or "30"
            out = {"oneOf": [integer, {"type": "string", "pattern": "^-?[0-9]+$"}]}
    elif field.kind == CHOICE:
        out = {"type": "string", "enum": list(field.choices)}
    else:
        out = {"type": "string"}
    if field.default is not None:
        out["default"] = field.default
    if field.description:
        out["description"] = field.description
    return out


def body_schema(fields: tuple[Field, ...]) -> dict[str, Any]:
    """The JSON Schema of a request body: unknown fields are allowed (signed, then ignored)."""
    return {
        "type": "object",
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: schema(f, query=False) for f in fields},
    }


def query_parameters(fields: tuple[Field, ...]) -> list[dict[str, Any]]:
    """The OpenAPI query parameters of ``fields``."""
    return [
        {"name": f.name, "in": "query", "required": f.required, "schema": schema(f, query=True)}
        for f in fields
    ]
