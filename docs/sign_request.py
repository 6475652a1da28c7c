"""Reference client for the Sabong wallet API v1 signature, in plain Python (stdlib only).

Copy what you need. Usage: python docs/sign_request.py http://127.0.0.1:8080

The rule that avoids almost every "Invalid signature": serialize the body ONCE, compactly,
then sign exactly that text and send exactly that text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SECRET = os.environ.get("SANDBOX_SECRET", "sandbox-secret")


def signature(secret: str, method: str, path: str, timestamp: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of METHOD + PATH + TIMESTAMP + PAYLOAD."""
    message = (method + path + timestamp + payload).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def call(base: str, method: str, path: str, params: dict | None = None, body: dict | None = None):
    timestamp = str(int(time.time()))  # seconds, not milliseconds
    data = None
    if method == "GET":
        # GET payload: the parameters sorted by key, key=value joined with &, not URL-encoded.
        payload = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    else:
        # POST payload: compact JSON (no spaces), keys in the order sent, non-ASCII kept.
        payload = json.dumps(body or {}, separators=(",", ":"), ensure_ascii=False)
        data = payload.encode("utf-8")
        url = base + path
    headers = {
        "x-timestamp": timestamp,
        "x-signature": signature(SECRET, method, path, timestamp, payload),
        "content-type": "application/json",
    }
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


if __name__ == "__main__":
    base_url = sys.argv[1].rstrip("/")
    player = {
        "clientId": "PY_PLAYER",
        "username": "py",
        "displayName": "Café Python",
        "ipAddress": "198.51.100.7",
    }
    for step in (
        call(base_url, "POST", "/api/v1/generate-auth-token", body=player),
        call(
            base_url,
            "POST",
            "/api/v1/credit-balance",
            body={"clientId": "PY_PLAYER", "amount": 25.75, "reference": "PY-1"},
        ),
        call(base_url, "GET", "/api/v1/get-balance", params={"clientId": "PY_PLAYER"}),
    ):
        print(json.dumps({"status": step[0], "body": step[1]}, ensure_ascii=False))
