"""Time the signature doctor (``sandbox/doctor/``) per failed request.

The doctor runs only when a signature does not verify, on the request's worker thread, so its
worst case (nothing reproduces the signature: every planned variant is tried) is what bounds the
extra latency of a 401. The target is under 5 ms per failed request on the reference 2-core
machine. This script measures, in process and single-threaded:

- worst cases: random signatures (a wrong secret looks the same) for a POST whose body makes
  every JSON variant distinct (non-ASCII, ``/``, a number typed ``100.50``), a GET with an
  encoded, unsorted query, many configured partners (``doctor.MAX_DIGESTS`` cuts the search
  short), a 600-byte body with many partners (``doctor.MAX_HASHED_BYTES`` and
  ``doctor.MAX_WALKED_BYTES`` both come into play), and large bodies (8 and 60 KiB), where
  ``doctor.MAX_HASHED_BYTES`` cuts the search short;
- typical cases: common mistakes, found early (single deviations, a pair, the millisecond scan).

Each call is ``diagnose`` plus ``header_value`` (what the pipeline would do), timed one by one
with ``perf_counter_ns`` after a warm-up; the table gives mean, p50, p99 and max in ms.
Every case checks that the doctor names the expected code, so a timing is never of the wrong
path.

This is a script, not a test: ``python bench/doctor_bench.py --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load import cpu_model  # bench/load.py: the same machine description

from sandbox import doctor, signing

SECRET = "sandbox-secret"
TS = "1769956200"
CREDIT = "/api/v1/credit-balance"
TRANSACTIONS = "/api/v1/get-transactions"
PARTNERS = {"acme": "acme-partner-secret", "globex": "globex-partner-secret", "initech": "x-9"}
MANY_PARTNERS = {f"partner-{i}": f"secret-of-partner-{i}" for i in range(50)}
RANDOM_SIGNATURE = hashlib.sha256(b"no client signed this").hexdigest()

RICH_BODY = (
    '{"clientId":"CLIENT_é","amount":100.50,"description":"Top-up ☕ via web/app",'
    '"reference":"REF-2026/0001"}'
)
BODY = {"clientId": "CLIENT_001", "amount": 100, "description": "Deposit"}
RIGHT = json.dumps(BODY, separators=(",", ":"))
QUERY = "limit=10&dateFrom=2026-01-01T00%3A00%3A00Z&clientId=CLIENT_001&type=credit"


def big_body(size: int) -> str:
    items = []
    while len(json.dumps(items)) < size:
        items.append({"n": len(items), "note": "é/x", "amount": 1.50})
    return json.dumps({"clientId": "CLIENT_001", "amount": 1, "items": items})


def sig(message: str, key: str = SECRET) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Case:
    name: str
    code: str  # what the doctor must answer
    kind: str  # "worst" or "typical"
    call: dict[str, Any]


def post(name: str, code: str, kind: str, signature: str, body: str = RIGHT, **kw: Any) -> Case:
    args = {
        "method": "POST",
        "path": CREDIT,
        "query_string": "",
        "body": body.encode(),
        "timestamp": TS,
        "signature": signature,
        "secret": SECRET,
        "partners": PARTNERS,
    }
    call = {**args, **kw}
    if call["method"] == "POST":  # the pipeline passes the body it already canonicalized
        call["parsed"] = signing.canonical_body(call["body"])
    return Case(name, code, kind, call)


CASES = [
    post("POST, rich body, 3 partners", "no-known-variant", "worst", RANDOM_SIGNATURE, RICH_BODY),
    post(
        "GET, encoded unsorted query",
        "no-known-variant",
        "worst",
        RANDOM_SIGNATURE,
        "",
        method="GET",
        path=TRANSACTIONS,
        query_string=QUERY,
    ),
    post(
        "POST, rich body, 50 partners",
        "no-known-variant",
        "worst",
        RANDOM_SIGNATURE,
        RICH_BODY,
        partners=MANY_PARTNERS,
    ),
    post(
        "POST, 600 B body, 50 partners",
        "no-known-variant",
        "worst",
        RANDOM_SIGNATURE,
        big_body(600),
        partners=MANY_PARTNERS,
    ),
    post("POST, 8 KiB body", "no-known-variant", "worst", RANDOM_SIGNATURE, big_body(8192)),
    post("POST, 60 KiB body", "no-known-variant", "worst", RANDOM_SIGNATURE, big_body(61440)),
    post(
        "json.dumps spacing", "json-spacing", "typical", sig(f"POST{CREDIT}{TS}{json.dumps(BODY)}")
    ),
    post(
        "upper-case hex",
        "uppercase-hex",
        "typical",
        sig(f"POST{CREDIT}{TS}{RIGHT}").upper(),
    ),
    post(
        "json.dumps spacing + upper-case hex",
        "json-spacing+uppercase-hex",
        "typical",
        sig(f"POST{CREDIT}{TS}{json.dumps(BODY)}").upper(),
    ),
    post(
        "another partner's secret",
        "partner-secret",
        "typical",
        sig(f"POST{CREDIT}{TS}{RIGHT}", PARTNERS["globex"]),
    ),
    post(
        "GET query as sent",
        "url-encoded-query+unsorted-query",
        "typical",
        sig(f"GET{TRANSACTIONS}{TS}{QUERY}"),
        "",
        method="GET",
        path=TRANSACTIONS,
        query_string=QUERY,
    ),
    post(
        "milliseconds signed (…500)",
        "milliseconds-signed",
        "typical",
        sig(f"POST{CREDIT}{TS}500{RIGHT}"),
    ),
    post(
        "timestamp first + json.dumps spacing",
        "json-spacing+component-order",
        "typical",
        sig(f"{TS}POST{CREDIT}{json.dumps(BODY)}"),
    ),
]


@dataclass
class Timing:
    case: Case
    tried: int
    mean: float
    p50: float
    p99: float
    max: float


def measure(case: Case, iterations: int, warmup: int) -> Timing:
    def once() -> doctor.Finding:
        finding = doctor.diagnose(**case.call)
        doctor.header_value(finding)
        return finding

    finding = once()
    if finding.code != case.code:
        raise SystemExit(f"{case.name}: expected {case.code}, the doctor said {finding.code}")
    for _ in range(warmup):
        once()
    samples = []
    clock: Callable[[], int] = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        once()
        samples.append((clock() - start) / 1e6)
    samples.sort()
    return Timing(
        case,
        finding.tried,
        sum(samples) / len(samples),
        samples[len(samples) // 2],
        samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        samples[-1],
    )


def machine() -> list[tuple[str, str]]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("CPUs (nproc)", str(usable)),
        ("CPU model", cpu_model()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("OpenSSL", __import__("ssl").OPENSSL_VERSION),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=1000, help="timed calls per case")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls per case first")
    args = parser.parse_args(argv)

    rows = [measure(case, args.iterations, args.warmup) for case in CASES]
    print(
        f"sandbox.doctor: diagnose + header_value per failed request, {args.iterations} calls "
        f"per case after {args.warmup} warm-up calls; plan of {len(doctor.PLAN)} candidates; "
        f"caps: {doctor.MAX_DIGESTS:,} digests, {doctor.MAX_HASHED_BYTES:,} bytes hashed, "
        f"{doctor.MAX_WALKED_BYTES:,} bytes of body walked"
    )
    print()
    print("| case | kind | code | digests tried | mean ms | p50 ms | p99 ms | max ms |")
    print("|---|---|---|--:|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r.case.name} | {r.case.kind} | {r.case.code} | {r.tried} | {r.mean:.3f} "
            f"| {r.p50:.3f} | {r.p99:.3f} | {r.max:.3f} |"
        )
    worst = max(rows, key=lambda r: r.p99)
    print()
    verdict = "MET" if worst.p99 < 5 else "NOT MET"
    print(
        f"Target < 5 ms per failed request (p99 of the worst case): {verdict} "
        f"({worst.p99:.3f} ms, {worst.case.name})"
    )
    print()
    print("Machine:")
    for key, value in machine():
        print(f"- {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
