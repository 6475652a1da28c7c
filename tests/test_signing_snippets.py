"""The partner signing snippets of docs/snippets/, each run by its own toolchain.

For each language (Python, PHP, JavaScript, Go, Java) a small driver in docs/snippets/drivers/
calls the snippet; this module feeds it and checks what comes back:

- every vector of docs/signature-vectors.json: the signature (a GET from its decoded
  parameters, a POST from the body text sent), the GET payload, and the query string the
  snippet builds for the URL, which must decode on the server to the vector's payload;
- every vector whose body is a JSON object: the language's own parser reads the body, the
  snippet's serializer writes it back, and the text must be the ``JSON.stringify`` form (what
  the server signs). Where a language cannot produce it (``KNOWN``: the caveats written in the
  snippets and the README), what a partner would get instead is asserted: a refusal, a 401, or
  a changed value;
- a live sandbox: a signed POST generate-auth-token, a signed POST credit-balance whose
  description holds non-ASCII text, ``<``, ``&`` and a URL, a signed GET get-balance and a
  signed GET get-transactions whose ``dateFrom`` holds ``:`` and ``+08:00``: all answer 200.

A language whose toolchain is missing is skipped, naming the Debian package to install. Go and
Java are compiled once per session into a temporary directory.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox import signing
from sandbox.process import ServerProcess

DOCS = Path(__file__).resolve().parents[1] / "docs"
SNIPPETS = DOCS / "snippets"
DRIVERS = SNIPPETS / "drivers"
VECTORS: list[dict[str, Any]] = json.loads(
    (DOCS / "signature-vectors.json").read_text(encoding="utf-8")
)["vectors"]

# What every driver's live run sends (the drivers hold the same constants).
DESCRIPTION = "Dépôt ฝากเงิน 🐓 <promo> & more: https://example.com/a/b?x=1&y=2"
DATE_FROM = "2020-01-01T00:00:00+08:00"


@dataclass(frozen=True)
class Language:
    """A snippet, the tools that run it and the Debian packages that provide them."""

    name: str
    snippet: str
    tools: tuple[str, ...]
    packages: str


LANGUAGES = [
    Language("python", "sign.py", (), ""),
    Language("php", "sign.php", ("php",), "php-cli"),
    Language("javascript", "sign.mjs", ("node",), "nodejs"),
    Language("go", "sign.go", ("go",), "golang-go"),
    Language("java", "Sign.java", ("javac", "java"), "openjdk-17-jdk-headless"),
]
LANGUAGE_IDS = [language.name for language in LANGUAGES]


def _json_object(body: str) -> bool:
    try:
        return isinstance(signing.parse_json(body.encode("utf-8")), dict)
    except signing.InvalidJSON:
        return False


JSON_VECTORS = [v for v in VECTORS if v["method"] == "POST" and _json_object(v["body"])]

# What a partner sees when a body holds a value its language cannot write as JSON.stringify
# does (the caveats in the snippets and the README). Every other JSON vector must come out
# exactly as Node printed it.
SAME = "same"  # the snippet writes what JSON.stringify writes
MISMATCH = "401"  # sent and signed, but the server re-serializes it differently: 401
REFUSED = "refused"  # the snippet (or the language's parser) raises: nothing is sent
ALTERED = "altered"  # the value changes before it is signed and sent: no 401, other data

INTEGER_KEYS = (MISMATCH, "JavaScript lists integer-like keys ('0', '10') first")
BIG_INTEGERS = (MISMATCH, "an integer beyond 2**53 is printed exactly; JavaScript rounds it")
INFINITE = (REFUSED, "1e400 is infinite: no JSON for it (JavaScript prints null)")
PY_SMALL_FLOATS = (MISMATCH, "Python prints floats below 1e-4 as 1e-07 (JavaScript 1e-7)")
PHP_FLOATS = (MISMATCH, "PHP prints floats below 1e-4 or from 1e17 up as 1.0e-7, and -0.0 as -0")
KNOWN: dict[str, dict[str, tuple[str, str]]] = {
    "python": {
        "post reference vector": PY_SMALL_FLOATS,
        "post number 5e-7": PY_SMALL_FLOATS,
        "post number exponent boundaries": PY_SMALL_FLOATS,
        "post number extremes": BIG_INTEGERS,
        "post number 1e400 overflows to null": INFINITE,
        "post escaped lone surrogate stays escaped": (REFUSED, "no UTF-8 for \\ud800"),
        "post integer-like keys are ordered first": INTEGER_KEYS,
    },
    "php": {
        "post reference vector": PHP_FLOATS,
        "post number 5e-7": PHP_FLOATS,
        "post number -1e-400 underflows to 0": PHP_FLOATS,
        "post number exponent boundaries": PHP_FLOATS,
        "post number extremes": PHP_FLOATS,
        "post number 1e400 overflows to null": INFINITE,
        "post escaped lone surrogate stays escaped": (REFUSED, "json_decode refuses \\ud800"),
        "post integer-like keys are ordered first": INTEGER_KEYS,
    },
    "javascript": {},
    "go": {
        "post number 1e400 overflows to null": INFINITE,
        "post escaped lone surrogate stays escaped": (ALTERED, "Go reads \\ud800 as U+FFFD"),
        "post integer-like keys are ordered first": INTEGER_KEYS,
    },
    "java": {
        "post reference vector": BIG_INTEGERS,
        "post number exponent boundaries": BIG_INTEGERS,
        "post number extremes": BIG_INTEGERS,
        "post number 1e400 overflows to null": INFINITE,
        "post integer-like keys are ordered first": INTEGER_KEYS,
    },
}


# --------------------------------------------------------------------------- running drivers


def _missing(language: Language) -> str | None:
    absent = [tool for tool in language.tools if shutil.which(tool) is None]
    if not absent:
        return None
    return f"{', '.join(absent)} not installed (Debian package {language.packages})"


def _run(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> list[str]:
    """The lines the command printed (split on newlines only: output holds raw U+2028)."""
    result = subprocess.run(
        command,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=180,
        check=False,
    )
    stdout = result.stdout.decode("utf-8")
    assert result.returncode == 0, (command, stdout, result.stderr.decode("utf-8", "replace"))
    return [line for line in stdout.split("\n") if line]


class Drivers:
    """Each language's driver command, built on first use (Go and Java compile once)."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        self.commands: dict[str, list[str]] = {}
        self.vector_results: dict[str, dict[str, dict[str, Any]] | str] = {}

    def command(self, language: Language) -> list[str]:
        """The command line that runs the driver, or a skip naming the missing package."""
        reason = _missing(language)
        if reason:
            pytest.skip(reason)
        if language.name not in self.commands:
            self.commands[language.name] = self._build(language.name)
        return self.commands[language.name]

    def _build(self, name: str) -> list[str]:
        if name == "python":
            # -I -S: no site-packages, so the snippet can only use the standard library;
            # -B: no __pycache__ left in docs/.
            return [sys.executable, "-I", "-S", "-B", str(DRIVERS / "driver.py")]
        if name == "php":
            # -n: no php.ini, so no extension beyond the bundled ones and no serialize_precision
            # set for the snippet; warnings go to stderr, never into the JSON lines.
            return ["php", "-n", "-d", "display_errors=stderr", str(DRIVERS / "driver.php")]
        if name == "javascript":
            return ["node", str(DRIVERS / "driver.mjs")]
        if name == "go":
            binary = self.build_dir / "go-driver"
            go_env = {"CGO_ENABLED": "0", "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOWORK": "off"}
            _run(["go", "build", "-o", str(binary), "./drivers"], cwd=SNIPPETS, env=go_env)
            return [str(binary)]
        classes = self.build_dir / "java"
        sources = [str(SNIPPETS / "Sign.java"), str(DRIVERS / "SignDriver.java")]
        _run(["javac", "-encoding", "UTF-8", "-d", str(classes), *sources])
        return ["java", "-XX:TieredStopAtLevel=1", "-cp", str(classes), "SignDriver"]

    def vectors(self, language: Language) -> dict[str, dict[str, Any]]:
        """The driver's answer to every case of the job, by case id (one run per session)."""
        if language.name not in self.vector_results:
            self.vector_results[language.name] = self._run_vectors(language)
        answer = self.vector_results[language.name]
        if isinstance(answer, str):  # the driver failed once: not rerun for every vector
            pytest.fail(answer)
        return answer

    def _run_vectors(self, language: Language) -> dict[str, dict[str, Any]] | str:
        command = self.command(language)
        job = self.build_dir / "job.json"
        job.write_text(json.dumps({"cases": _cases()}), encoding="utf-8")
        try:
            lines = _run([*command, "vectors", str(job)])
            return {line["id"]: line for line in map(json.loads, lines)}
        except (AssertionError, ValueError) as exc:
            return f"the {language.name} driver failed: {exc}"


def _cases() -> list[dict[str, Any]]:
    """The job every driver runs: a signature case per vector, a JSON case per object body."""
    cases: list[dict[str, Any]] = []
    for v in VECTORS:
        case = {k: v[k] for k in ("secret", "path", "timestamp")}
        if v["method"] == "GET":
            # The parameters as the server decodes them: what a partner puts in its URL.
            cases.append(
                {"id": v["name"], "kind": "get", **case, "params": signing.parse_query(v["query"])}
            )
        else:
            # The text a partner sends (the JSON.stringify form: see the json cases).
            cases.append({"id": v["name"], "kind": "post", **case, "body": v["payload"]})
    for v in JSON_VECTORS:
        cases.append({"id": "json: " + v["name"], "kind": "json", "body": v["body"]})
    return cases


@pytest.fixture(scope="session")
def drivers(tmp_path_factory: pytest.TempPathFactory) -> Drivers:
    return Drivers(tmp_path_factory.mktemp("signing-snippets"))


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(["--port", "0", "--db", ":memory:", "--quiet"]) as proc:
        yield proc


# --------------------------------------------------------------------------- the snippets


def _imports(language: Language, text: str) -> list[str]:
    """What a snippet imports, as written in its source."""
    if language.name == "python":
        found = []
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                found.append(node.module or "")
        return found
    if language.name == "php":
        return re.findall(r"^\s*(?:require|include|use)\b.*", text, re.MULTILINE)
    if language.name == "javascript":
        return re.findall(r"^import .* from \"([^\"]+)\"", text, re.MULTILINE)
    if language.name == "go":
        block = re.search(r"^import \(\n(.*?)^\)", text, re.MULTILINE | re.DOTALL)
        assert block is not None
        return re.findall(r"\"([^\"]+)\"", block.group(1))
    return re.findall(r"^import (?:static )?([\w.]+);", text, re.MULTILINE)


def _standard(language: Language, module: str) -> bool:
    if language.name == "python":
        return module.split(".")[0] in (*sys.stdlib_module_names, "__future__")
    if language.name == "javascript":
        return module.startswith("node:")
    if language.name == "go":
        return "." not in module.split("/")[0]  # third-party paths start with a host name
    return module.startswith(("java.", "javax."))  # java; php: any import at all fails


@pytest.mark.parametrize("language", LANGUAGES, ids=LANGUAGE_IDS)
def test_snippet_is_documented_and_standalone(language: Language) -> None:
    """Each snippet opens with what it signs and its caveats, and needs only its standard library."""
    text = (SNIPPETS / language.snippet).read_text(encoding="utf-8")
    head = text[: text.index("Caveats:") + 2000]
    for word in ("x-signature", "HMAC-SHA256", "GET", "POST", "JSON.stringify"):
        assert word in head
    imports = _imports(language, text)
    assert imports or language.name == "php"
    assert [m for m in imports if not _standard(language, m)] == []


# --------------------------------------------------------------------------- the vectors


@pytest.mark.parametrize("language", LANGUAGES, ids=LANGUAGE_IDS)
@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_signature(drivers: Drivers, language: Language, v: dict[str, Any]) -> None:
    got = drivers.vectors(language)[v["name"]]
    assert "error" not in got, got["error"]
    if v["method"] == "GET":
        assert got["payload"] == v["payload"]
        # The URL the snippet builds must give the server the same parameters.
        assert signing.canonical_query(got["query"]).decode("utf-8") == v["payload"]
    assert got["signature"] == v["signature"]


def _outcome(got: dict[str, Any], v: dict[str, Any]) -> str:
    if "error" in got:
        return REFUSED
    if got["json"] == v["payload"]:
        return SAME
    sent = got["json"].encode("utf-8")
    return ALTERED if signing.canonical_json(sent) == sent else MISMATCH


@pytest.mark.parametrize("language", LANGUAGES, ids=LANGUAGE_IDS)
@pytest.mark.parametrize("v", JSON_VECTORS, ids=[v["name"] for v in JSON_VECTORS])
def test_vector_body_as_javascript_prints_it(
    drivers: Drivers, language: Language, v: dict[str, Any]
) -> None:
    """The language's parser reads the body, the snippet writes it: JSON.stringify's text."""
    got = drivers.vectors(language)["json: " + v["name"]]
    expected, why = KNOWN[language.name].get(v["name"], (SAME, "the JSON.stringify form"))
    assert _outcome(got, v) == expected, (why, got, v["payload"])


# --------------------------------------------------------------------------- a live sandbox


@pytest.mark.parametrize("language", LANGUAGES, ids=LANGUAGE_IDS)
def test_live_sandbox(drivers: Drivers, server: ServerProcess, language: Language) -> None:
    client_id = f"SNIPPET_{language.name.upper()}"
    lines = _run([*drivers.command(language), "live", server.url, client_id])
    steps = {line["step"]: line for line in map(json.loads, lines)}
    assert list(steps) == ["token", "credit", "balance", "transactions"]
    for step in steps.values():
        assert step["status"] == 200, step
    token, credit, balance, transactions = (json.loads(s["body"])["data"] for s in steps.values())
    assert token["user"]["displayName"] == "Café <Partner> & Co"
    assert (credit["amount"], credit["balance"]) == (100.5, 100.5)
    assert balance["balance"] == 100.5
    assert transactions["limit"] == 5
    assert transactions["filters"] == {"dateFrom": DATE_FROM}
    [item] = transactions["data"]
    assert (item["amount"], item["description"]) == ("100.50", DESCRIPTION)
