"""Two ways to integrate the same wallet, run against the sandbox's readiness preset.

Both use the partner's own client of ``examples/partner-ci`` (its signing is the partner's,
written from the API docs). They differ only in what they do after a failure:

- ``naive``: retries at once, with a fresh reference each time, whatever the failure;
- ``careful``: a definitive answer (4xx) is final; after an ambiguous one (a 5xx, no answer)
  it asks get-transactions whether the operation went through, and only if not, retries the
  same operation with the same reference, after a pause.

``python clients.py naive|careful SANDBOX_URL CLIENT_ID`` runs one flow: create the user,
credit 10 eight times, debit 5 six times; the sandbox's report then grades it.
"""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "partner-ci"))

from partner_wallet.client import WalletClient, WalletError

SECRET = "sandbox-secret"
AMBIGUOUS = (OSError, http.client.HTTPException)  # no answer: dropped, reset, timed out


def naive(wallet: WalletClient, client_id: str, kind: str, amount: float, n: int) -> None:
    for attempt in range(3):
        try:
            operate(wallet, kind, client_id, amount, f"{kind}-{n}-{attempt}")  # a new reference
            return
        except (WalletError, *AMBIGUOUS):
            continue  # at once, whatever the failure


def careful(wallet: WalletClient, client_id: str, kind: str, amount: float, n: int) -> None:
    reference = f"{kind}-{n}"
    for pause in (0.5, 1.0, None):
        try:
            operate(wallet, kind, client_id, amount, reference)
            return
        except WalletError as error:
            if error.status < 500:
                return  # definitive: sending it again cannot change the answer
        except AMBIGUOUS:
            pass
        if applied(wallet, client_id, reference) or pause is None:  # did it go through?
            return
        time.sleep(pause)  # if not, the same operation, same reference, after a pause


def operate(wallet: WalletClient, kind: str, client_id: str, amount: float, ref: str) -> Any:
    return (wallet.credit if kind == "credit" else wallet.debit)(client_id, amount, ref)


def applied(wallet: WalletClient, client_id: str, reference: str) -> bool:
    page = wallet.get("get-transactions", clientId=client_id, limit=100)
    return any(row["referenceId"] == reference for row in page["data"])


def flow(style: str, url: str, client_id: str) -> None:
    wallet = WalletClient(url, SECRET)
    wallet.post(
        "generate-auth-token",
        {"clientId": client_id, "username": "ready", "displayName": "Ready", "ipAddress": "::1"},
    )
    retry = naive if style == "naive" else careful
    for n in range(8):
        retry(wallet, client_id, "credit", 10, n)
    for n in range(6):
        retry(wallet, client_id, "debit", 5, n)


if __name__ == "__main__":
    flow(sys.argv[1], sys.argv[2], sys.argv[3])
