"""What the doctor tries, in which order, and how far it goes.

A ``Candidate`` is one way of signing a request: the right way, except along the dimensions
where it names a deviation (None is the right choice). Every deviation has a cost, a lower
cost being a more common mistake; ``PLAN``, built once at import, lists the right candidate,
every single deviation and the plausible pairs by increasing total cost (ties keep the order
of the tables below), so single deviations come first. ``plan_for`` keeps, in that order, the
candidates that can apply to one shape of request (a query or a body to sign ...).

The output encoding (upper-case hex, base64 in its forms) and the digest size cost nothing to
try: they are read off the sent signature (``Encoding``), not planned.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any, NamedTuple

# The work of one diagnosis is capped by counts, so that its worst case (nothing matches: the
# whole plan is tried) stays bounded whatever the request. Each bounds the work that dominates
# for one kind of request; a request hitting a cap is told that only the likeliest were tried.
MAX_DIGESTS = 1_800
"""Digests computed per diagnosis: for a small body the cost per digest dominates. The whole
plan takes about 1,300 to 1,600 of them (the millisecond scan is 1,000), so only many partners
(one digest per partner secret and candidate) reach the cap; bench/doctor_bench.py shows what
that costs."""
MAX_HASHED_BYTES = 512 << 10
"""Bytes hashed per diagnosis: a large body makes each digest long (64 KiB: 500 times a credit
body's), so the search stops after the likeliest few dozen (a 64 KiB body: about ten)."""
MAX_WALKED_BYTES = 16 << 10
"""Bytes of body walked in pure Python per diagnosis, each about 100 times the cost of
hashing one: each JSON variant re-serialized, and the one walk that finds which JSON flags
(sorted keys, typed numbers ...) change the body, each counted as the body's compact size. An
object of a few hundred bytes gets every JSON variant that applies, one up to 16 KiB the
likeliest (json-spacing), a larger one none."""
MS_SCAN = 1000  # digests of Timestamp.MILLISECONDS_SIGNED: each millisecond of the second
MAX_COST = 2.7  # of a candidate: the least likely pairs are not worth their digests


class Mistake(Enum):
    """A named mistake: the code a finding reports and, if the plan tries it on its own, its
    cost (a lower cost is a more common mistake)."""

    def __init__(self, code: str, cost: float = 0.0) -> None:
        self.code = code
        self.cost = cost

    # Members are singletons, equal only to themselves: the identity hash is a C call, where
    # Enum's own (a hash of the name, in Python) would cost about 100 ns per look-up.
    __hash__ = object.__hash__


class Spacing(Mistake):
    SPACED = "json-spacing", 1.0  # ", " and ": " (Python's json.dumps default)
    INDENT_2 = "indent-2", 1.45
    INDENT_4 = "indent-4", 1.55


class JsonFlag(Mistake):
    SORTED_KEYS = "sorted-keys", 1.1
    NUMBERS_AS_TYPED = "numbers-as-typed", 1.15
    UNICODE_ESCAPE = "unicode-escape", 1.2  # non-ASCII as \u00e9 (Python's, PHP's default)
    ESCAPED_SLASHES = "escaped-slashes", 1.5  # '/' as '\/' (PHP's default)
    HTML_ESCAPE = "html-escape", 1.4  # <, >, & as \u003c ... (Go's json.Marshal default)
    GSON_ESCAPE = "html-escape-gson", 1.45  # <, >, &, =, ' as \u003c ... (Java Gson's default)
    DOTNET_ESCAPE = "dotnet-escape", 1.4  # non-ASCII, <>&'+` and " as \u00E9 (System.Text.Json)


# The flags that escape characters: a body sent in one of these forms and signed as sent is
# named after the escaping (the library default to change), not "raw-body".
ESCAPE_FLAGS = frozenset(
    {
        JsonFlag.UNICODE_ESCAPE,
        JsonFlag.ESCAPED_SLASHES,
        JsonFlag.HTML_ESCAPE,
        JsonFlag.GSON_ESCAPE,
        JsonFlag.DOTNET_ESCAPE,
    }
)
# Go's, Gson's and .NET's escaping are whole encoders of their own: no library adds another.
_SOLE_ESCAPES = frozenset({JsonFlag.HTML_ESCAPE, JsonFlag.GSON_ESCAPE, JsonFlag.DOTNET_ESCAPE})


class JsonStyle(NamedTuple):
    """The body re-serialized with formatting mistakes (one spacing at most).

    A NamedTuple rather than a dataclass for its hash, in C: it keys a request's PAYLOADs.
    """

    spacing: Spacing | None = None
    flags: frozenset[JsonFlag] = frozenset()

    @property
    def mistakes(self) -> tuple[Spacing | JsonFlag, ...]:
        spacing = (self.spacing,) if self.spacing else ()
        return spacing + tuple(flag for flag in JsonFlag if flag in self.flags)

    @property
    def code(self) -> str:
        return "+".join(mistake.code for mistake in self.mistakes)


class QueryFlag(Mistake):
    LEADING_QUESTION_MARK = "leading-question-mark"
    URL_ENCODED = "url-encoded-query"
    LITERAL_PLUS = "unencoded-plus"  # a '+' sent as is (a space to the server), signed as '+'
    UNSORTED = "unsorted-query"


class QueryStyle(NamedTuple):
    """The query signed with formatting mistakes (a NamedTuple, as JsonStyle)."""

    flags: frozenset[QueryFlag]

    @property
    def mistakes(self) -> tuple[QueryFlag, ...]:
        return tuple(flag for flag in QueryFlag if flag in self.flags)

    @property
    def code(self) -> str:
        return "+".join(mistake.code for mistake in self.mistakes)


class Form(Mistake):
    """Something else than the right PAYLOAD, formatted either way, was signed."""

    QUERY_IN_PATH = "query-in-path"
    RAW_BODY = "raw-body"
    STRINGIFIED_BODY = "stringified-body"  # only when the sandbox signs raw bodies
    EMPTY_PAYLOAD = "empty-payload"
    QUERY_FOR_POST = "query-for-post"
    EMPTY_OBJECT_PAYLOAD = "empty-object-payload"
    JSON_QUERY = "json-query"

    @property
    def mistakes(self) -> tuple[Form]:
        return (self,)


class Unsent(Mistake):
    """A documented optional query parameter that the HTTP client left out of the URL (its
    value was undefined, null or None) but the signing code joined in, printed as ``printed``.

    axios leaves out undefined and null params, PHP's http_build_query null values, Python's
    requests None: a sorted join of the same object signs ``type=undefined``, ``type=null``,
    ``type=`` or ``type=None``.
    """

    UNDEFINED = "unsent-param-undefined", 1.5, "undefined"
    NULL = "unsent-param-null", 1.55, "null"
    EMPTY = "unsent-param-empty", 1.6, ""
    NONE = "unsent-param-none", 1.65, "None"

    def __init__(self, code: str, cost: float, printed: str) -> None:
        super().__init__(code, cost)
        self.printed = printed


MAX_UNSENT_SETS = 29
"""Sets of absent parameters tried per printed value: for get-transactions' seven optional
parameters, each alone (7), all of them (1) and each pair (21); ``Request.unsent_sets``."""


class UnsentParams(NamedTuple):
    """The ``slot``-th set of documented optional parameters absent from the query
    (``Request.unsent_sets``), signed with the value ``value.printed``."""

    value: Unsent
    slot: int

    @property
    def mistakes(self) -> tuple[Unsent]:
        return (self.value,)

    @property
    def code(self) -> str:
        return self.value.code


Payload = JsonStyle | QueryStyle | Form | UnsentParams


class Method(Mistake):
    LOWERCASE = "lowercase-method", 1.1


class Path(Mistake):
    MISSING_API_PREFIX = "missing-api-prefix", 1.2
    TRAILING_SLASH = "trailing-slash", 1.3
    MISSING_LEADING_SLASH = "missing-leading-slash", 1.35


class Timestamp(Mistake):
    MILLISECONDS_HEADER = "milliseconds-header", 1.3
    MILLISECONDS_SIGNED = "milliseconds-signed", 1.35  # MS_SCAN digests: alone, never in a pair


class Part(IntEnum):
    """A component of the StringToSign; its value is its place in the scheme."""

    METHOD = 0
    PATH = 1
    TIMESTAMP = 2
    PAYLOAD = 3


SIGNED_ORDER = tuple(Part)


class Joiner(Enum):
    """A separator put between the components (the scheme has none)."""

    NEWLINE = "\n", "newline-separated"
    PIPE = "|", "pipe-separated"
    AMPERSAND = "&", "ampersand-separated"

    def __init__(self, separator: str, code: str) -> None:
        self.separator = separator
        self.code = code


class Structure(NamedTuple):
    """The components in another order, or joined with a separator, or both."""

    order: tuple[Part, ...] = SIGNED_ORDER
    joiner: Joiner | None = None

    @property
    def code(self) -> str:
        codes = ["component-order"] if self.order != SIGNED_ORDER else []
        return "+".join(codes + ([self.joiner.code] if self.joiner else []))

    def join(self, parts: tuple[bytes, bytes, bytes, bytes]) -> bytes:
        separator = self.joiner.separator.encode() if self.joiner else b""
        return separator.join([parts[part] for part in self.order])


class Algorithm(Mistake):
    SWAPPED_KEY_MESSAGE = "swapped-key-message", 1.3
    HASH_NOT_HMAC = "hash-not-hmac", 1.3  # hash(secret + StringToSign)
    HASH_SECRET_LAST = "hash-secret-last", 1.5
    HASH_NO_SECRET = "hash-no-secret", 1.6


class Secret(Mistake):
    PARTNER = "partner-secret", 1.1
    TRAILING_NEWLINE = "secret-trailing-newline", 1.2
    TRAILING_SPACE = "secret-trailing-space", 1.5
    STRIPPED = "secret-stripped", 1.5


class Encoding(Mistake):
    """How the sent signature encodes its digest, when not in lowercase hex (not planned)."""

    UPPERCASE_HEX = "uppercase-hex"
    BASE64 = "base64"
    BASE64_UNPADDED = "base64-unpadded"
    BASE64URL = "base64url"
    BASE64URL_UNPADDED = "base64url-unpadded"


Deviation = Payload | Method | Path | Timestamp | Structure | Algorithm | Secret


@dataclass(frozen=True)
class Candidate:
    """One way of signing: the right one but for its deviations (None: done right)."""

    payload: Payload | None = None
    method: Method | None = None
    path: Path | None = None
    timestamp: Timestamp | None = None
    structure: Structure | None = None
    algorithm: Algorithm | None = None
    secret: Secret | None = None

    @property
    def deviations(self) -> list[Deviation]:
        """The deviations in the order of the dimensions (a finding's code follows it)."""
        values = (self.payload, self.method, self.path, self.timestamp, self.structure)
        return [v for v in (*values, self.algorithm, self.secret) if v is not None]


# --------------------------------------------------------------------------- the costs

# A library default makes several deviations at once; it costs about as much as one of them.
_LIBRARY_DEFAULTS = {
    frozenset({Spacing.SPACED, JsonFlag.UNICODE_ESCAPE}): 1.05,  # Python's json.dumps
    frozenset({JsonFlag.ESCAPED_SLASHES, JsonFlag.UNICODE_ESCAPE}): 1.25,  # PHP's json_encode
}


def _query(*flags: QueryFlag) -> QueryStyle:
    return QueryStyle(frozenset(flags))


_ENCODED, _UNSORTED, _PLUS = QueryFlag.URL_ENCODED, QueryFlag.UNSORTED, QueryFlag.LITERAL_PLUS
_OTHER_PAYLOADS: list[tuple[Deviation, float]] = [
    # Before url-encoded-query: a query whose only encoded character is a raw '+' signs the
    # same either way, and the '+' is the cause (a space to the server; %2B is the fix).
    (_query(_PLUS), 1.0),
    (_query(_ENCODED), 1.0),
    (_query(_UNSORTED), 1.0),
    (_query(_PLUS, _UNSORTED), 1.05),
    (_query(_ENCODED, _UNSORTED), 1.05),  # the query exactly as sent
    (Form.QUERY_IN_PATH, 1.1),
    (_query(QueryFlag.LEADING_QUESTION_MARK), 1.2),
    (_query(QueryFlag.LEADING_QUESTION_MARK, _ENCODED, _UNSORTED), 1.3),  # '?' + as sent
    (Form.RAW_BODY, 1.3),
    (Form.STRINGIFIED_BODY, 1.0),
    (Form.EMPTY_PAYLOAD, 1.4),
    (Form.QUERY_FOR_POST, 1.45),
    (Form.EMPTY_OBJECT_PAYLOAD, 1.5),
    (Form.JSON_QUERY, 1.6),
]
_UNSENT: list[tuple[Deviation, float]] = [
    (UnsentParams(value, slot), value.cost) for value in Unsent for slot in range(MAX_UNSENT_SETS)
]
_ORDER_COSTS: dict[tuple[Part, ...], float] = {
    (Part.TIMESTAMP, Part.METHOD, Part.PATH, Part.PAYLOAD): 1.2,
    (Part.METHOD, Part.TIMESTAMP, Part.PATH, Part.PAYLOAD): 1.25,
    (Part.METHOD, Part.PATH, Part.PAYLOAD, Part.TIMESTAMP): 1.3,
    (Part.PAYLOAD, Part.METHOD, Part.PATH, Part.TIMESTAMP): 1.35,
}
_OTHER_ORDER_COST = 1.6
# joiner -> (cost in the right order, extra cost in another order)
_JOINERS = {Joiner.NEWLINE: (1.1, 0.4), Joiner.PIPE: (1.4, 0.5), Joiner.AMPERSAND: (1.45, 0.55)}


def _json_styles() -> list[tuple[Deviation, float]]:
    """Every combination of JSON formatting mistakes (one spacing at most), with its cost."""
    styles: list[tuple[Deviation, float]] = []
    for spacing in (None, *Spacing):
        for n in range(len(JsonFlag) + 1):
            for flags in itertools.combinations(JsonFlag, n):
                sole = _SOLE_ESCAPES.intersection(flags)
                if sole and len(ESCAPE_FLAGS.intersection(flags)) > 1:
                    continue  # Go's, Gson's or .NET's escaping with another library's
                style = JsonStyle(spacing, frozenset(flags))
                left, cost = set(style.mistakes), 0.0
                for combo, combo_cost in _LIBRARY_DEFAULTS.items():
                    if combo <= left:  # each mistake counts in one library default at most
                        left -= combo
                        cost += combo_cost
                if style.mistakes:
                    styles.append((style, cost + sum(m.cost for m in style.mistakes if m in left)))
    return styles


def _structures() -> list[tuple[Deviation, float]]:
    out: list[tuple[Deviation, float]] = []
    for order in itertools.permutations(SIGNED_ORDER):
        base = 0.0 if order == SIGNED_ORDER else _ORDER_COSTS.get(order, _OTHER_ORDER_COST)
        if base:
            out.append((Structure(order), base))
        for joiner, (alone, extra) in _JOINERS.items():
            out.append((Structure(order, joiner), base + extra if base else alone))
    return out


_DIMENSIONS: dict[str, list[tuple[Deviation, float]]] = {
    "payload": _json_styles() + _OTHER_PAYLOADS + _UNSENT,
    "method": [(method, method.cost) for method in Method],
    "path": [(path, path.cost) for path in Path],
    "timestamp": [(timestamp, timestamp.cost) for timestamp in Timestamp],
    "structure": _structures(),
    "algorithm": [(algorithm, algorithm.cost) for algorithm in Algorithm],
    "secret": [(secret, secret.cost) for secret in Secret],
}


def _pair_allowed(first: Deviation, second: Deviation) -> bool:
    if Timestamp.MILLISECONDS_SIGNED in (first, second):
        return False  # already MS_SCAN digests on its own
    if isinstance(first, UnsentParams) or isinstance(second, UnsentParams):
        return False  # up to MAX_UNSENT_SETS digests per value: alone only
    # A plain hash without the secret cannot have picked the wrong secret.
    return not (first is Algorithm.HASH_NO_SECRET and isinstance(second, Secret))


def _candidate(deviations: dict[str, Any]) -> Candidate:
    return Candidate(**deviations)  # each dimension's table holds its own type


def _build_plan() -> tuple[Candidate, ...]:
    ranked = [(0.0, Candidate())]
    for name, alternatives in _DIMENSIONS.items():
        ranked += [(c, _candidate({name: d})) for d, c in alternatives if c <= MAX_COST]
    for (name1, dim1), (name2, dim2) in itertools.combinations(_DIMENSIONS.items(), 2):
        for (d1, c1), (d2, c2) in itertools.product(dim1, dim2):
            if c1 + c2 <= MAX_COST and _pair_allowed(d1, d2):
                ranked.append((c1 + c2, _candidate({name1: d1, name2: d2})))
    ranked.sort(key=lambda item: item[0])  # stable: ties keep the declaration order
    return tuple(candidate for _, candidate in ranked)


PLAN = _build_plan()

# What each PAYLOAD form needs: a query to sign (GET, HEAD, DELETE), or a body (the rest).
_QUERY_ONLY = (QueryStyle, UnsentParams)
_QUERY_FORMS = {Form.JSON_QUERY}
_BODY_FORMS = {Form.RAW_BODY, Form.STRINGIFIED_BODY, Form.QUERY_FOR_POST}


def _fits(payload: Payload | None, signs_query: bool, plus: bool, unsent_sets: int) -> bool:
    if payload is None:
        return True
    if isinstance(payload, JsonStyle) or payload in _BODY_FORMS:
        return not signs_query
    if not isinstance(payload, _QUERY_ONLY) and payload not in _QUERY_FORMS:
        return True  # either kind of request
    if isinstance(payload, UnsentParams):
        return payload.slot < unsent_sets
    if isinstance(payload, QueryStyle) and QueryFlag.LITERAL_PLUS in payload.flags:
        return signs_query and plus
    return signs_query


@functools.cache
def plan_for(signs_query: bool, plus: bool = False, unsent_sets: int = 0) -> tuple[Candidate, ...]:
    """The PLAN's candidates that can apply to a request of this shape, in the same order: one
    that signs its query (``plus``: with a raw '+' in it; ``unsent_sets``: how many sets of
    absent optional parameters it has) or its body. Every other candidate would only be looked
    at to be skipped, about 1 µs each on every failed request: the search gives the same
    answer without them. At most 2 x 2 x (MAX_UNSENT_SETS + 1) shapes, each built once."""
    return tuple(c for c in PLAN if _fits(c.payload, signs_query, plus, unsent_sets))


# The JSON styles that only escape characters, in the plan's order: a raw-body match whose
# bytes are one of them is named after it (search.diagnose).
ESCAPE_STYLES = tuple(
    c.payload
    for c in PLAN
    if isinstance(c.payload, JsonStyle)
    and len(c.deviations) == 1
    and c.payload.spacing is None
    and c.payload.flags <= ESCAPE_FLAGS
)
