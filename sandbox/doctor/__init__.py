"""The signature doctor (SPEC B2): the most likely mistake behind a signature mismatch.

Given a request whose ``x-signature`` did not verify, ``diagnose`` recomputes the signature the
way clients commonly get it wrong and compares each result with the one sent; the first
variant that reproduces it names the mistake, in a ``Finding`` (``header_value`` puts it in an
HTTP header). Read top down:

- ``plan``: what a candidate is (the right way of signing but for one typed deviation per
  dimension: payload, method, path, timestamp, structure, algorithm, secret), the order they
  are tried in (``PLAN``) and the caps on the work of one diagnosis (counts, not time);
- ``variants``: the ``Request``: what the sandbox signed, and the bytes of each candidate
  (the wrong PAYLOADs, PATHs, keys ...), built on first use;
- ``search``: ``diagnose``, the loop over the plan, and the one HMAC helper;
- ``messages``: the ``Finding``, its words, and the header forms of it and of the
  StringToSign; never a secret.
"""

from .messages import (
    ESCAPED_NOTE,
    HEADER_LIMIT,
    NO_KNOWN_VARIANT,
    NOT_A_DIGEST,
    STRING_TO_SIGN_BASE64_LIMIT,
    VALID,
    Finding,
    header_value,
    string_to_sign_headers,
)
from .plan import MAX_DIGESTS, MAX_HASHED_BYTES, MAX_WALKED_BYTES, PLAN, Candidate
from .search import diagnose

__all__ = [
    "ESCAPED_NOTE",
    "HEADER_LIMIT",
    "MAX_DIGESTS",
    "MAX_HASHED_BYTES",
    "MAX_WALKED_BYTES",
    "NOT_A_DIGEST",
    "NO_KNOWN_VARIANT",
    "PLAN",
    "STRING_TO_SIGN_BASE64_LIMIT",
    "VALID",
    "Candidate",
    "Finding",
    "diagnose",
    "header_value",
    "string_to_sign_headers",
]
