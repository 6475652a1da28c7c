"""Run docs/snippets/sign.py for tests/test_signing_snippets.py (and show it in use).

python driver.py vectors JOB.json        one JSON line per case of the job
python driver.py live BASE_URL CLIENT_ID four signed requests, one JSON line each
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sign import json_body, query_payload, query_string, sign

DESCRIPTION = "Dépôt ฝากเงิน 🐓 <promo> & more: https://example.com/a/b?x=1&y=2"


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    if case["kind"] == "json":
        body = json_body(json.loads(case["body"]))
        body.encode("utf-8")  # the bytes sent: an unpaired surrogate has none (an error)
        return {"json": body}
    secret, path, timestamp = case["secret"], case["path"], case["timestamp"]
    if case["kind"] == "get":
        params: dict[str, Any] = {}
        for key, value in case["params"]:
            params[key] = [*params[key], value] if key in params else [value]
        return {
            "payload": query_payload(params),
            "query": query_string(params),
            "signature": sign(secret, "GET", path, timestamp, params),
        }
    return {"signature": sign(secret, "POST", path, timestamp, case["body"])}


def vectors(job_file: str) -> None:
    for case in json.loads(Path(job_file).read_text(encoding="utf-8"))["cases"]:
        try:
            result = run_case(case)
        except Exception as exc:  # reported per case: the test names what failed
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps({"id": case["id"], **result}))


def call(base: str, step: str, method: str, path: str, params_or_body: Any) -> None:
    timestamp = int(time.time())  # seconds, not milliseconds
    url, data = base + path, None
    if method == "GET":
        url += "?" + query_string(params_or_body)
        signature = sign("sandbox-secret", method, path, timestamp, params_or_body)
    else:
        body = json_body(params_or_body)  # serialized once: this text is signed and sent
        data = body.encode("utf-8")
        signature = sign("sandbox-secret", method, path, timestamp, body)
    headers = {
        "x-timestamp": str(timestamp),
        "x-signature": signature,
        "content-type": "application/json",
    }
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text, doctor = response.status, response.read(), None
    except urllib.error.HTTPError as error:
        with error:
            status, text = error.code, error.read()
            doctor = error.headers.get("x-sandbox-signature-doctor")
    line = {"step": step, "status": status, "body": text.decode("utf-8"), "doctor": doctor}
    print(json.dumps(line))


def live(base: str, client_id: str) -> None:
    player = {
        "clientId": client_id,
        "username": client_id.lower(),
        "displayName": "Café <Partner> & Co",
        "ipAddress": "198.51.100.7",
    }
    credit = {
        "clientId": client_id,
        "amount": Decimal("100.50"),
        "description": DESCRIPTION,
        "reference": client_id + "-1",
    }
    transactions = {"clientId": client_id, "limit": 5, "dateFrom": "2020-01-01T00:00:00+08:00"}
    call(base, "token", "POST", "/api/v1/generate-auth-token", player)
    call(base, "credit", "POST", "/api/v1/credit-balance", credit)
    call(base, "balance", "GET", "/api/v1/get-balance", {"clientId": client_id})
    call(base, "transactions", "GET", "/api/v1/get-transactions", transactions)


if __name__ == "__main__":
    if sys.argv[1] == "vectors":
        vectors(sys.argv[2])
    else:
        live(sys.argv[2].rstrip("/"), sys.argv[3])
