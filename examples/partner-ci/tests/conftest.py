import pytest
from partner_wallet.client import WalletClient


@pytest.fixture
def wallet(sabong_sandbox):
    """The partner's own client, pointed at the sandbox the plugin gives this test."""
    return WalletClient(sabong_sandbox.url, sabong_sandbox.secret)
