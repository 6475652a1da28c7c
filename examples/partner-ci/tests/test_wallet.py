"""The partner's integration tests: its own client against the sandbox, through the plugin.

Each test starts from a reset sandbox: fixtures' CLIENT_001 has 1500.50, whatever the other
tests (or the other xdist workers) did.
"""

import pytest
from partner_wallet.client import WalletError


@pytest.mark.parametrize("amount", [1, 2.5, 10, 99.99])
def test_credit_then_balance(wallet, sabong_sandbox, amount):
    before = wallet.balance("CLIENT_001")
    assert before == 1500.5
    wallet.credit("CLIENT_001", amount, reference=f"CR-{amount}")
    assert wallet.balance("CLIENT_001") == pytest.approx(before + amount)
    sabong_sandbox.assert_requested("credit-balance", client_id="CLIENT_001", count=1)


@pytest.mark.parametrize("amount", [1, 20, 1500.5])
def test_debit_then_balance(wallet, amount):
    wallet.debit("CLIENT_001", amount)
    assert wallet.balance("CLIENT_001") == pytest.approx(1500.5 - amount)


def test_insufficient_balance_is_a_400(wallet):
    with pytest.raises(WalletError) as info:
        wallet.debit("CLIENT_001", 1_000_000)
    assert info.value.status == 400
    assert info.value.body["message"] == "Insufficient balance"


def test_built_in_magic_client_ids(wallet):
    with pytest.raises(WalletError) as info:
        wallet.balance("CLIENT_SERVER_ERROR")
    assert (info.value.status, info.value.body["message"]) == (500, "Failed to get balance")
    with pytest.raises(WalletError) as info:
        wallet.balance("CLIENT_NOT_FOUND")
    assert info.value.status == 404


def test_a_forced_outage_then_recovery(wallet, sabong_sandbox):
    # One 500 on credit-balance, then normal answers (sequences count per endpoint).
    sabong_sandbox.force(
        "CLIENT_001", endpoints={"credit-balance": {"sequence": ["server-error", "success"]}}
    )
    with pytest.raises(WalletError):
        wallet.credit("CLIENT_001", 5)
    wallet.credit("CLIENT_001", 5)
    assert wallet.balance("CLIENT_001") == 1505.5
    sabong_sandbox.assert_requested("credit-balance", status=500, count=1)
    sabong_sandbox.assert_requested("credit-balance", status=200, count=1)


def test_a_query_with_several_parameters_is_signed_right(wallet):
    page = wallet.get("get-transactions", clientId="CLIENT_001", limit=5, sortOrder="asc")
    assert page["resultCount"] == 5 and page["totalCount"] == 150


@pytest.mark.parametrize("n", range(4))
def test_new_users_start_empty(wallet, n):
    client_id = f"NEW_PLAYER_{n}"
    wallet.post(
        "generate-auth-token",
        {"clientId": client_id, "username": "p", "displayName": "P", "ipAddress": "10.0.0.1"},
    )
    assert wallet.balance(client_id) == 0
