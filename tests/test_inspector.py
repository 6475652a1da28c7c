"""The inspector page in a real headless Chromium (Debian's), driven by Playwright.

The page must load offline (no external assets), show a rejected request with its signature
diagnosis, and sign a request from its form. The test saves a screenshot in tests/artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.client import SandboxClient
from sandbox.process import ServerProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)"
)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(
        ["--port", "0", "--db", ":memory:", "--quiet", "--scenarios", str(ROOT / "scenarios.yaml")]
    ) as proc:
        yield proc


def test_inspector_shows_a_rejected_request_with_its_diagnosis(server: ServerProcess) -> None:
    client = SandboxClient(server.url)
    assert client.get("/api/v1/get-balance", {"clientId": "CLIENT_001"}).status == 200
    rejected = SandboxClient(server.url, secret="not-the-secret")
    assert rejected.get("/api/v1/get-balance", {"clientId": "CLIENT_REJECTED"}).status == 401

    external: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "request",
                lambda r: external.append(r.url) if not r.url.startswith(server.url) else None,
            )
            page.goto(server.url + "/__sandbox/", wait_until="load")
            row = page.locator("#journal tbody tr", has_text="CLIENT_REJECTED")
            assert row.count() == 1
            text = row.inner_text()
            assert "401" in text
            assert "mismatch" in text
            assert "GET/api/v1/get-balance" in text  # the StringToSign the sandbox computed
            assert page.locator("aside", has_text="CLIENT_FLAKY").count() == 1

            page.fill("#query", "clientId=CLIENT_002")
            page.click("form#sign button")
            page.wait_for_function(
                "document.getElementById('signed').textContent.includes('x-signature: ')"
            )
            assert "curl " in page.inner_text("#signed")

            # A new request appears without a manual reload (the page polls the journal).
            client.get("/api/v1/get-balance", {"clientId": "CLIENT_LIVE"})
            page.wait_for_selector("#journal tbody tr:has-text('CLIENT_LIVE')", timeout=10_000)
            assert "x-signature: " in page.inner_text("#signed")  # the refresh kept it

            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "inspector.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert external == []  # works offline: no asset from anywhere else
