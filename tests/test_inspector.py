"""The inspector page in a real headless Chromium (Debian's), driven by Playwright.

The page must load offline (no external assets), show a rejected request with its signature
diagnosis, sign a request from its form, filter the journal, show a request's detail with a
curl command that replays it, keep its journal counter live, and lay out without overlaps from
1280 px up and on a 390 px phone. Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
BALANCE = "/api/v1/get-balance"
TOKEN = "/api/v1/generate-auth-token"
WRONG = "not-the-secret"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(
        ["--port", "0", "--db", ":memory:", "--quiet", "--scenarios", str(ROOT / "scenarios.yaml")]
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Inspector:
    """One inspector page, and every request it made outside the sandbox (there must be none)."""

    def __init__(
        self, browser: Any, server: ServerProcess, query: str = "", **context: Any
    ) -> None:
        self.context = browser.new_context(
            **{"viewport": {"width": 1400, "height": 900}, **context}
        )
        self.page = self.context.new_page()
        self.external: list[str] = []
        self.page.on(
            "request",
            lambda r: self.external.append(r.url) if not r.url.startswith(server.url) else None,
        )
        self.page.goto(server.url + "/__sandbox/" + query, wait_until="load")

    def row(self, text: str) -> Any:
        return self.page.locator("#journal tbody tr[data-id]", has_text=text)

    def close(self) -> None:
        self.context.close()
        assert self.external == []  # works offline: no asset from anywhere else


@pytest.fixture
def inspector(browser: Any, server: ServerProcess) -> Iterator[Inspector]:
    page = Inspector(browser, server)
    yield page
    page.close()


def status_of_curl(command: str) -> int:
    """Run the page's curl command in bash; the status line it printed (-i)."""
    assert command.startswith("curl ")
    done = subprocess.run(["bash", "-c", command], capture_output=True, timeout=20, check=True)
    statuses = re.findall(rb"^HTTP/[\d.]+ (\d{3})", done.stdout, re.MULTILINE)
    assert statuses, done.stdout[:500]
    return int(statuses[-1])


def journal_api(server: ServerProcess, query: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{server.url}/__sandbox/requests?{query}") as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


# --------------------------------------------------------------------------- the basics


def test_inspector_shows_a_rejected_request_with_its_diagnosis(
    server: ServerProcess, inspector: Inspector
) -> None:
    client = SandboxClient(server.url)
    assert client.get(BALANCE, {"clientId": "CLIENT_001"}).status == 200
    rejected = SandboxClient(server.url, secret=WRONG)
    assert rejected.get(BALANCE, {"clientId": "CLIENT_REJECTED"}).status == 401

    page = inspector.page
    page.reload(wait_until="load")
    row = inspector.row("CLIENT_REJECTED")
    assert row.count() == 1
    text = row.inner_text()
    assert "401" in text
    assert "mismatch" in text
    row.click()  # the StringToSign the sandbox computed is in the request's detail
    assert "GET/api/v1/get-balance" in page.inner_text("#d-string-to-sign")
    assert page.locator("aside", has_text="CLIENT_FLAKY").count() == 1

    page.fill("#query", "clientId=CLIENT_002")
    page.click("form#sign button")
    page.wait_for_function(
        "document.getElementById('signed').textContent.includes('x-signature: ')"
    )
    assert "curl " in page.inner_text("#signed")

    # A new request appears without a manual reload (the page polls the journal).
    client.get(BALANCE, {"clientId": "CLIENT_LIVE"})
    page.wait_for_selector("#journal tbody tr:has-text('CLIENT_LIVE')", timeout=10_000)
    assert "x-signature: " in page.inner_text("#signed")  # the refresh kept it
    assert page.is_visible("#d-string-to-sign")  # and the open detail

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "inspector.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


# --------------------------------------------------------------------------- layout

LONG_CLIENT = "LAYOUT_" + "X" * 113  # 120 characters, no break opportunity
ACCENTED_CLIENT = "LAYOUT_" + "é" * 56 + "_" * 57  # 120 characters, percent-encoded x6 in a query
LONG_BODY = '{"clientId": "LAYOUT_BODY", "amount": 1, "note": "Café ' + "Z" * 1500 + '"}'


@pytest.fixture(scope="module")
def full_journal(server: ServerProcess) -> None:
    """About 200 requests: 401s from a wrong secret, long clientIds, long unbroken bodies and
    StringToSigns, non-ASCII."""
    good = SandboxClient(server.url)
    bad = SandboxClient(server.url, secret=WRONG)
    for i in range(200):
        kind = i % 10
        if kind == 0:
            assert bad.get(BALANCE, {"clientId": f"LAYOUT_{i:03}"}).status == 401
        elif kind == 1:
            good.get(BALANCE, {"clientId": LONG_CLIENT if i % 20 == 1 else ACCENTED_CLIENT})
        elif kind == 2:
            assert bad.post("/api/v1/credit-balance", LONG_BODY).status == 401
        elif kind == 3:
            good.get("/api/v1/" + "nowhere-" * 20)  # a 404, refused before any signature check
        else:
            assert good.get(BALANCE, {"clientId": "CLIENT_001"}).status == 200


# Where the page paints, region by region: each region's box grown by the boxes of everything
# inside it (elements and text), each cut by the ancestors that clip it (overflow other than
# visible, the region's own included). Any two regions must not meet; neither may two cells of
# a table row; the page itself must not scroll sideways.
MEASURE = """(regions) => {
  function rectOf(node) {
    if (node.nodeType === 3) {
      const range = document.createRange();
      range.selectNodeContents(node);
      return range.getBoundingClientRect();
    }
    return node.getBoundingClientRect();
  }
  function visible(node, region) {
    const r = rectOf(node);
    if (r.width === 0 && r.height === 0) return null;
    const box = {l: r.left, t: r.top, r: r.right, b: r.bottom};
    for (let a = node.parentElement; a && a !== region.parentElement; a = a.parentElement) {
      const style = getComputedStyle(a);
      const clip = a.getBoundingClientRect();
      if (style.overflowX !== "visible") {
        box.l = Math.max(box.l, clip.left); box.r = Math.min(box.r, clip.right);
      }
      if (style.overflowY !== "visible") {
        box.t = Math.max(box.t, clip.top); box.b = Math.min(box.b, clip.bottom);
      }
      if (box.r <= box.l || box.b <= box.t) return null;
    }
    return box;
  }
  function extent(region) {
    const r = region.getBoundingClientRect();
    const box = {l: r.left, t: r.top, r: r.right, b: r.bottom};
    const walk = document.createTreeWalker(region, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (n.nodeType === 3 && !n.textContent.trim()) continue;
      if (n.nodeType === 1 && getComputedStyle(n).visibility === "hidden") continue;
      const v = visible(n, region);
      if (!v) continue;
      box.l = Math.min(box.l, v.l); box.t = Math.min(box.t, v.t);
      box.r = Math.max(box.r, v.r); box.b = Math.max(box.b, v.b);
    }
    return box;
  }
  function overlap(a, b) {
    const w = Math.min(a.r, b.r) - Math.max(a.l, b.l);
    const h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
    return w > 0.5 && h > 0.5 ? {w: Math.round(w), h: Math.round(h)} : null;
  }
  const boxes = {};
  for (const [name, selector] of Object.entries(regions)) {
    const el = document.querySelector(selector);
    if (el && el.getBoundingClientRect().width > 0) boxes[name] = extent(el);
  }
  const names = Object.keys(boxes);
  const overlaps = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const o = overlap(boxes[names[i]], boxes[names[j]]);
      if (o) overlaps.push(`${names[i]}/${names[j]}: ${o.w}x${o.h} px`);
    }
  }
  let rows = 0;
  for (const row of document.querySelectorAll("#journal tr")) {
    rows += 1;
    const cells = Array.from(row.children).filter((c) => c.getBoundingClientRect().width > 0);
    const painted = cells.map(extent);
    for (let i = 0; i < painted.length; i++) {
      for (let j = i + 1; j < painted.length; j++) {
        const o = overlap(painted[i], painted[j]);
        if (o) overlaps.push(`row ${row.dataset.id} cells ${i}/${j}: ${o.w}x${o.h} px`);
      }
    }
  }
  // Nor may anything paint outside its own region's box, across (its text included).
  for (const [name, box] of Object.entries(boxes)) {
    const own = document.querySelector(regions[name]).getBoundingClientRect();
    const spill = Math.max(own.left - box.l, box.r - own.right);
    if (spill > 0.5) overlaps.push(`${name} spills ${Math.round(spill)} px out of its box`);
  }
  const doc = document.documentElement;
  const side = extent(document.querySelector("aside")), journal = boxes.journal;
  return {
    overlaps: overlaps,
    rows: rows,
    pageOverflow: Math.max(0, doc.scrollWidth - doc.clientWidth),
    journalIntoSide: side && journal && side.l > journal.l ? Math.round(journal.r - side.l) : null,
  };
}"""
REGIONS = {
    "header": "header",
    "filters": "#filters",
    "journal": ".table-scroll",
    "detail": "#detail",
    "signing": "#signing",
    "scenarios": "#scenarios",
}


@pytest.mark.parametrize(
    ("width", "height"),
    [(1280, 800), (1440, 900), (1920, 1080), (390, 844)],
    ids=["1280", "1440", "1920", "phone-390"],
)
def test_no_overlap_with_a_full_journal(
    browser: Any, server: ServerProcess, full_journal: None, width: int, height: int
) -> None:
    phone = width < 700
    inspector = Inspector(
        browser,
        server,
        viewport={"width": width, "height": height},
        is_mobile=phone,
        has_touch=phone,
    )
    try:
        page = inspector.page
        rows = page.locator("#journal tbody tr[data-id]")
        assert rows.count() == 200
        if not phone:  # the detail of the longest request, open beside the journal
            inspector.row("LAYOUT_BODY").first.click()
            assert "Café ZZZZ" in page.inner_text("#d-req-body")
        measured = page.evaluate(MEASURE, REGIONS)
        print(f"\n{width} px: {measured}")  # the figures for the record (pytest -s)
        assert measured["rows"] > 200
        assert measured["overlaps"] == []
        assert measured["pageOverflow"] == 0
        assert measured["journalIntoSide"] is None or measured["journalIntoSide"] <= 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"inspector-{width}.png"), full_page=True)
        if phone:  # the detail covers the screen; its long values wrap or scroll inside it
            inspector.row("LAYOUT_BODY").first.click()
            assert page.is_visible("#d-curl")
            detail = page.locator("#detail").bounding_box()
            assert detail is not None and detail["width"] <= width
            measured = page.evaluate(MEASURE, {"detail": "#detail"})
            print(f"{width} px, detail open: {measured}")
            assert measured["overlaps"] == []
            assert measured["pageOverflow"] == 0
            page.screenshot(path=str(ARTIFACTS / f"inspector-{width}-detail.png"))
            page.keyboard.press("Escape")
            assert page.is_hidden("#detail")
    finally:
        inspector.close()


# --------------------------------------------------------------------------- filters


def test_the_journal_api_filters_by_verdict(server: ServerProcess) -> None:
    SandboxClient(server.url, secret=WRONG).get(BALANCE, {"clientId": "VERDICT_BAD"})
    SandboxClient(server.url).get("/api/v1/verdict-nowhere")
    status, body = journal_api(server, "verdict=mismatch")
    assert status == 200
    verdicts = {e["signature"]["verdict"] for e in body["data"]["requests"]}
    assert verdicts == {"mismatch"}
    status, body = journal_api(server, "verdict=unchecked&limit=1")
    assert body["data"]["requests"][0]["path"] == "/api/v1/verdict-nowhere"
    assert body["data"]["requests"][0]["signature"] == {}
    journal = body["data"]["journal"]
    assert journal["size"] == 1000 and journal["count"] >= 2
    assert journal["newest"] - journal["oldest"] + 1 == journal["count"]
    status, body = journal_api(server, "verdict=mismatch,nonsense")
    assert status == 400
    assert "verdict" in body["data"]["errors"]


def test_filters_by_client_status_and_verdict_survive_the_live_refresh(
    server: ServerProcess, inspector: Inspector
) -> None:
    good = SandboxClient(server.url)
    bad = SandboxClient(server.url, secret=WRONG)
    assert good.get(BALANCE, {"clientId": "CLIENT_001"}).status == 200
    assert bad.get(BALANCE, {"clientId": "CLIENT_001"}).status == 401
    assert good.get(BALANCE, {"clientId": "FILTER_NOBODY"}).status == 404
    assert good.get("/api/v1/filter-nowhere").status == 404
    page = inspector.page
    page.reload(wait_until="load")

    def cells(column: str) -> list[str]:
        return page.locator(f"#journal tbody tr[data-id] td.c-{column}").all_inner_texts()

    def settled(expression: str) -> None:
        """Wait until rows are shown, and every one of them matches ``expression``."""
        page.wait_for_function(
            f"(rows => rows.length > 0 && rows.every(tr => {expression}))"
            "(Array.from(document.querySelectorAll('#journal tbody tr[data-id]')))",
            timeout=5_000,
        )

    page.fill("#f-client", "CLIENT_001")
    settled("tr.querySelector('.c-client').textContent === 'CLIENT_001'")
    assert set(cells("client")) == {"CLIENT_001"}
    assert {"200", "401"} <= set(cells("status"))

    page.fill("#f-status", "401")
    settled("tr.querySelector('.c-status').textContent === '401'")
    assert set(cells("status")) == {"401"} and set(cells("client")) == {"CLIENT_001"}

    page.fill("#f-client", "")
    page.fill("#f-status", "")
    page.select_option("#f-verdict", "unchecked")
    settled("tr.querySelector('.c-sig').textContent === 'unchecked'")
    assert "GET /api/v1/filter-nowhere" in cells("req")
    assert "FILTER_NOBODY" not in cells("client")  # its signature was checked: valid

    page.select_option("#f-verdict", "failed")  # every failure reason
    page.fill("#f-client", "CLIENT_001")
    settled(
        "tr.querySelector('.c-sig').textContent === 'mismatch' && "
        "tr.querySelector('.c-client').textContent === 'CLIENT_001'"
    )
    shown = len(cells("sig"))

    # The live refresh brings the new matching request only.
    assert good.get(BALANCE, {"clientId": "CLIENT_001"}).status == 200
    assert bad.get(BALANCE, {"clientId": "FILTER_OTHER"}).status == 401
    assert bad.get(BALANCE, {"clientId": "CLIENT_001"}).status == 401
    page.wait_for_function(
        "n => document.querySelectorAll('#journal tbody tr[data-id]').length > n",
        arg=shown,
        timeout=10_000,
    )
    page.wait_for_timeout(1_700)  # one more poll: nothing else may come
    assert set(cells("sig")) == {"mismatch"} and set(cells("client")) == {"CLIENT_001"}
    assert len(cells("sig")) == shown + 1

    # The filters are in the address: a reload keeps them.
    assert "verdict=failed" in page.url and "clientId=CLIENT_001" in page.url
    page.reload(wait_until="load")
    assert page.input_value("#f-client") == "CLIENT_001"
    settled("tr.querySelector('.c-sig').textContent === 'mismatch'")
    assert len(cells("sig")) == shown + 1

    page.fill("#f-status", "4o1")  # said, not sent
    page.wait_for_selector("#filter-error:has-text('status')")
    assert page.get_attribute("#f-status", "aria-invalid") == "true"
    page.click("#f-clear")
    page.wait_for_function("!document.getElementById('filter-error').textContent")
    assert page.input_value("#f-client") == "" and "#" not in page.url


# --------------------------------------------------------------------------- detail


def test_detail_shows_bodies_headers_finding_and_a_curl_that_replays_it(
    server: ServerProcess, inspector: Inspector
) -> None:
    cafe = '{"clientId": "DETAIL_CAFE", "amount": 1, "note": "Café au lait"}'
    refused = SandboxClient(server.url, secret=WRONG).post("/api/v1/credit-balance", cafe)
    assert refused.status == 401
    fresh = {
        "clientId": "DETAIL_QUOTE",
        "username": "obrien",
        "displayName": "O'Brien's Café",  # single quotes in the shell command
        "ipAddress": "10.0.0.1",
    }
    raw = json.dumps(fresh, ensure_ascii=False)
    assert SandboxClient(server.url).post(TOKEN, raw).status == 200
    page = inspector.page
    page.reload(wait_until="load")

    inspector.row("DETAIL_CAFE").click()
    assert page.is_visible("#detail")
    assert "Café au lait" in page.inner_text("#d-req-body")
    assert "Invalid signature" in page.inner_text("#d-res-body")
    sent = page.inner_text("#d-req-headers")
    assert "x-timestamp: " in sent and "x-signature: " in sent
    answered = page.inner_text("#d-res-headers")
    assert "X-Sandbox-Signature-Reason: mismatch" in answered
    assert page.inner_text("#d-verdict").startswith("mismatch")
    assert page.inner_text("#d-finding").startswith("Doctor: ")
    signed = page.inner_text("#d-string-to-sign")
    assert signed.startswith("POST/api/v1/credit-balance")
    assert "Café" in signed and "\\u00e9" not in signed  # real characters, no escapes
    curl = page.inner_text("#d-curl")
    assert "--data-binary" in curl and "x-signature: " in curl
    for line in sent.splitlines():  # every header the journal kept, as it kept it
        assert "-H " + shlex.quote(line) in curl
    assert status_of_curl(curl) == 401  # as the journal recorded it

    inspector.row("DETAIL_QUOTE").click()
    assert "O'Brien's Café" in page.inner_text("#d-req-body")
    assert page.inner_text("#d-verdict") == "valid"
    assert page.is_hidden("#d-string-to-sign")
    curl = page.inner_text("#d-curl")
    assert "O'\\''Brien'\\''s Café" in curl  # single quotes, each embedded one escaped
    assert page.inner_text("#d-replay-notes") == ""
    assert status_of_curl(curl) == 200  # the same bytes, signature and timestamp: accepted
    # the replay is journaled like any request, with the very same body
    replayed = inspector.row("DETAIL_QUOTE").first
    page.wait_for_function(
        "document.querySelectorAll('#journal tbody tr[data-id]').length > 0 && "
        "Array.from(document.querySelectorAll('#journal tbody tr[data-id]'))"
        ".filter(tr => tr.textContent.includes('DETAIL_QUOTE')).length === 2",
        timeout=10_000,
    )
    replayed.click()
    assert json.loads(page.inner_text("#d-req-body")) == fresh

    page.keyboard.press("ArrowDown")  # the keyboard walks the journal too
    assert page.inner_text("#d-title").startswith("#") and "DETAIL_QUOTE" not in page.inner_text(
        "#d-facts"
    )
    replayed.click()
    page.click("#d-resign")  # a fresh signature for the same request, in the form
    assert page.is_hidden("#detail")
    assert page.input_value("#path") == TOKEN and page.input_value("#method") == "POST"
    assert json.loads(page.input_value("#body")) == fresh

    replayed.click()
    page.click("#d-only-client")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('#journal tbody tr[data-id] .c-client'))"
        ".every(td => td.textContent === 'DETAIL_QUOTE')"
    )
    page.keyboard.press("Escape")
    assert page.is_hidden("#detail")


# --------------------------------------------------------------------------- header, scenarios


def test_counter_follows_the_live_refresh_and_scenarios_name_their_set(
    browser: Any, server: ServerProcess
) -> None:
    # A partner of its own: this test clears its journal without touching the other tests'.
    operator = SandboxClient(server.url)
    created = operator.control("POST", "/partners", {"name": "inspector-counter"})
    assert created.status == 201, created
    partner = SandboxClient(server.url, secret=created.json()["data"]["secret"])
    assert partner.get(BALANCE, {"clientId": "CLIENT_001"}).status == 200
    inspector = Inspector(browser, server, "?partner=inspector-counter")
    try:
        page = inspector.page
        count = page.locator("#journal-count")
        assert count.inner_text() == "1"
        for _ in range(3):
            partner.get(BALANCE, {"clientId": "COUNTER"})
        page.wait_for_function(
            "document.getElementById('journal-count').textContent === '4'", timeout=10_000
        )
        assert inspector.row("COUNTER").count() == 3

        # A reset clears the journal: the page follows, rows and counter.
        assert partner.control("POST", "/reset", signed=True).status == 200
        page.wait_for_function(
            "document.getElementById('journal-count').textContent === '0'", timeout=10_000
        )
        page.wait_for_selector("#journal tbody td.empty")
        partner.get(BALANCE, {"clientId": "AFTER_RESET"})
        page.wait_for_selector("#journal tbody tr:has-text('AFTER_RESET')", timeout=10_000)
        assert count.inner_text() == "1"
        assert page.locator("#journal tbody tr[data-id]").count() == 1

        heading = page.inner_text("#scenarios h2")
        assert heading.count("scenarios.yaml") == 1
        assert "extending the built-in set" in heading
    finally:
        inspector.close()
        operator.control("DELETE", "/partners/inspector-counter")


def test_built_in_scenarios_are_named_once(browser: Any) -> None:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"], cwd="/") as bare:
        inspector = Inspector(browser, bare)
        try:
            heading = inspector.page.inner_text("#scenarios h2")
            assert heading.startswith("Scenarios: the built-in set")
            assert heading.count("built-in") == 1
        finally:
            inspector.close()


def test_hostile_entries_are_shown_as_text(server: ServerProcess, inspector: Inspector) -> None:
    """What clients send is data: markup stays text, and an oversized body's replay says what
    it leaves out."""
    marked = "<img src=x onerror=document.title='pwned'>"
    client = SandboxClient(server.url)
    client.post("/api/v1/credit-balance", json.dumps({"clientId": marked, "amount": 1}))
    oversized = '{"clientId": "HOSTILE_BIG", "note": "' + "A" * 3000 + '"}'
    client.post("/api/v1/credit-balance", oversized)
    errors: list[str] = []
    page = inspector.page
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.reload(wait_until="load")
    inspector.row("<img").click()
    assert marked in page.inner_text("#d-req-body")
    inspector.row("HOSTILE_BIG").click()
    assert "2 KiB" in page.inner_text("#d-replay-notes")
    assert "more bytes]" not in page.inner_text("#d-curl")
    assert page.locator("img").count() == 0
    assert page.title() == "sabong-sandbox inspector"
    assert errors == []


def test_the_readiness_section_shows_the_report(
    server: ServerProcess, inspector: Inspector
) -> None:
    """The inspector's Readiness section: the verdict and each check of the partner's report
    (here a naive retry under a new reference after an applied-then-500 credit)."""
    client = SandboxClient(server.url)
    profile = {"clientId": "READY_INSPECT", "username": "r", "displayName": "R", "ipAddress": "::1"}
    client.post("/api/v1/generate-auth-token", profile)
    for reference in ("A", "B", "C"):  # success, applied then 500, then a new reference
        client.post(
            "/api/v1/credit-balance",
            {"clientId": "READY_INSPECT", "amount": 1, "reference": reference},
        )
    page = inspector.page
    page.fill("#r-client", "READY_INSPECT")
    page.click("#r-form button")
    page.wait_for_selector("#r-checks li")
    assert page.inner_text("#r-verdict").startswith("FAIL")
    failing = page.locator("#r-checks li.check-fail", has_text="retry-new-reference")
    assert failing.count() == 1
    assert "(applied)" in failing.inner_text()
    assert page.locator("#r-checks li").count() == 9
