"""The ``sabong-sandbox`` command: ``serve``, ``fixtures generate``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from . import __version__, signing
from .client import curl_command
from .config import DEFAULT_SECRET, ConfigError, load
from .explain import explain
from .scenarios import ScenarioError, builtin, load_effective, settings_from
from .scenarios.model import rule_text
from .store import StoreError

DEFAULT_SCENARIOS = "scenarios.yaml"


class UserError(click.ClickException):
    """A mistake of the user's (a setting, a file): one clear line, exit code 2, no trace."""

    exit_code = 2


@click.group()
@click.version_option(__version__, prog_name="sabong-sandbox")
def main() -> None:
    """A sandbox of the Sabong wallet API v1 that really verifies signatures."""


@main.command()
@click.option("--host", help="Address to bind. Default 127.0.0.1 (loopback only).")
@click.option("--port", type=int, help="TCP port; 0 picks a free one. Default 8080.")
@click.option("--db", help="SQLite database file, or :memory:. Default .sandbox/sandbox.db.")
@click.option("--secret", help="HMAC secret. Default: sandbox-secret.")
@click.option(
    "--scenarios",
    type=click.Path(dir_okay=False),
    help="scenarios.yaml. Default: ./scenarios.yaml when it exists.",
)
@click.option("--timestamp-window", type=int, help="Replay window in seconds. Default 300.")
@click.option(
    "--signing-payload",
    type=click.Choice(["json", "raw"]),
    help="What a POST signs: json (the JSON.stringify form, default) or raw (exact bytes).",
)
@click.option(
    "--duplicate-reference",
    type=click.Choice(["allow", "reject", "replay"]),
    help="A reused credit/debit reference: allow (default), reject (409) or replay.",
)
@click.option("--journal-size", type=int, help="Requests kept in the journal. Default 1000.")
@click.option("--seed", type=int, help="Seed of probabilities and delay ranges.")
@click.option(
    "--explain-in-body",
    is_flag=True,
    default=None,
    help="Put the signature diagnosis in the 401 body too (default: headers only).",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    help="Write the URL to this file once ready (besides the SANDBOX_URL= line).",
)
@click.option(
    "--cpu",
    help="Pin the server to one CPU: auto (default: a CPU no other sandbox here holds), "
    "none, or a number.",
)
@click.option(
    "--control-token",
    help="Bearer token for /__sandbox/ (default: none on loopback, generated elsewhere).",
)
@click.option("--threads", type=int, help="waitress worker threads. Default 4.")
@click.option(
    "--request-timeout",
    type=float,
    help="Seconds a request may take to arrive whole (then 408). Default 10.",
)
@click.option("--idle-timeout", type=float, help="Seconds an idle connection stays. Default 10.")
@click.option(
    "--max-connections-per-address",
    type=int,
    help="Connections one client address may hold (then 503). Default 32.",
)
@click.option(
    "--max-held",
    type=int,
    help="Requests delay/timeout scenarios may hold at once (then 503). Default 100.",
)
@click.option("--max-held-per-partner", type=int, help="Of those, per partner. Default 25.")
@click.option("--login-base", help="Base URL of loginLink. Default: the sandbox's own URL.")
@click.option(
    "--fixtures",
    type=click.Path(file_okay=False, exists=True),
    help="Seed data directory. Default: the packaged fixtures.",
)
@click.option("--quiet", is_flag=True, default=None, help="Print only the SANDBOX_URL line.")
def serve(**flags: Any) -> None:
    """Serve the sandbox until SIGINT/SIGTERM; prints SANDBOX_URL=... when ready."""
    from .serving import serve as run

    try:
        path = scenarios_path(flags.get("scenarios"))
        scenarios = load_effective(path)
        file_values = {**settings_from(scenarios), "scenarios": path}
        config = load(flags, os.environ, file_values)
    except ScenarioError as exc:
        raise UserError(scenario_problem(exc)) from None
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        code = run(config, scenarios)
    except (ConfigError, StoreError) as exc:
        raise UserError(str(exc)) from None
    sys.exit(code)


def scenario_problem(exc: ScenarioError) -> str:
    """A file that cannot be read is one line with the fix; a broken one lists each error."""
    (first, *others) = exc.problems
    if not others and not first.path and first.line is None:
        return (
            f"cannot use the scenarios file {exc.source}: {first.message} (give an existing "
            "file to --scenarios or SANDBOX_SCENARIOS, or leave both unset for the built-in set)"
        )
    return f"the scenarios file is broken:\n{exc}"


def scenarios_path(flag: str | None) -> str | None:
    """--scenarios, else SANDBOX_SCENARIOS, else ./scenarios.yaml when it exists."""
    path = flag or os.environ.get("SANDBOX_SCENARIOS")
    if not path and Path(DEFAULT_SCENARIOS).is_file():
        path = DEFAULT_SCENARIOS
    return path or None


@main.group()
def scenarios() -> None:
    """scenarios.yaml."""


@scenarios.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def scenarios_check(path: str | None) -> None:
    """Validate a scenarios file and print the effective set (the built-in scenarios it
    extends included); print each located error and exit 1 when there are any.

    Without PATH: SANDBOX_SCENARIOS, else ./scenarios.yaml, else the built-in set alone."""
    path = scenarios_path(path)
    try:
        loaded = load_effective(path)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        click.echo(f"{len(exc.problems)} problem(s) in {path}", err=True)
        sys.exit(1)
    click.echo(f"{path or 'built-in scenarios'}: OK")
    click.echo(f"effective set: {loaded.describe()}")
    width = max((len(c) for c in loaded.rules), default=0)
    shipped = builtin().rules
    for client_id, rule in sorted(loaded.rules.items()):
        origin = "built-in" if shipped.get(client_id) == rule else "file"
        click.echo(f"  {client_id:<{width}}  {rule_text(rule)}  [{origin}]")
    if loaded.clients:
        named = ", ".join(
            f"{c} ({s.balance_cents / 100:.2f})" for c, s in sorted(loaded.clients.items())
        )
        click.echo(f"named clients (balance): {named}")


@main.command()
@click.option("--url", required=True, help="The sandbox, e.g. http://127.0.0.1:8080.")
@click.option("--token", help="The control plane's token (default: SANDBOX_CONTROL_TOKEN).")
@click.option("--partner", help="The partner to report on (the operator's choice).")
@click.option("--client-id", help="Only this clientId, or a prefix ending with * (READY_*).")
@click.option("--since", type=float, help="Only requests since (Unix seconds, sandbox clock).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(
    url: str,
    token: str | None,
    partner: str | None,
    client_id: str | None,
    since: float | None,
    as_json: bool,
) -> None:
    """The readiness report of a partner's integration: a checklist, exit code 1 on fail
    (a CI gate), 0 otherwise."""
    import json
    from urllib.error import URLError

    from .client import SandboxClient

    query = signing.encode_query(
        [
            (k, v)
            for k, v in (("partner", partner), ("clientId", client_id), ("since", since))
            if v is not None
        ]
    )
    client = SandboxClient(url, token=token or os.environ.get("SANDBOX_CONTROL_TOKEN"))
    try:
        reply = client.control("GET", "/report", query=query)
    except (URLError, OSError) as exc:
        raise UserError(f"{url} does not answer ({exc}): start the sandbox, or fix --url") from None
    if reply.status != 200:
        raise UserError(f"the sandbox refused the report: {reply.explain()}")
    data = reply.json()["data"]
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(readiness_text(data))
    sys.exit(1 if data["verdict"] == "fail" else 0)


def readiness_text(data: dict[str, Any]) -> str:
    """The report as a checklist a person reads in a CI log."""
    span = f", {data['from']} to {data['to']}" if data["from"] else ""
    lines = [
        f"Readiness of partner {data['partner']}: {data['verdict'].upper()} "
        f"({data['requests']} requests{span})"
    ]
    for check in data["checks"]:
        lines.append(f"  {check['status'].upper():<5} {check['id']:<26} {check['summary']}")
        for requests in check.get("evidence", [])[:3]:
            lines.append("        " + " ; then ".join(_request_text(r) for r in requests))
    return "\n".join(lines)


def _request_text(request: dict[str, Any]) -> str:
    text = f"{request['time'][11:23]} {request['endpoint']} {request.get('clientId')}"
    if "amount" in request:
        text += f" {request['amount']} ref={request.get('reference')}"
    applied = " (applied)" if request.get("applied") else ""
    return f"{text} -> {request['status']}{applied}"


@main.command()
@click.option("--out", type=click.Path(dir_okay=False), help="Write it to this file.")
def openapi(out: str | None) -> None:
    """Print the OpenAPI 3.1 document of the five endpoints (no server started)."""
    import json

    from .openapi import document

    text = json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
    if out:
        Path(out).write_text(text, "utf-8")
    else:
        click.echo(text, nl=False)


@main.group()
def fixtures() -> None:
    """Seed data."""


@fixtures.command("generate")
@click.option("--out", default="fixtures", show_default=True, type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=None, help="Faker seed (default: the fixed one).")
def fixtures_generate(out: str, seed: int | None) -> None:
    """Write the deterministic seed data (users.json, transactions.json) into OUT."""
    try:
        from . import fakedata
    except ImportError as exc:  # Faker is an extra: the committed fixtures ship as data
        raise UserError(
            f"fixtures generate needs Faker ({exc.name} is not installed): "
            "pip install 'sabong-sandbox[fixtures]'"
        ) from None

    paths = fakedata.write(out, seed if seed is not None else fakedata.DEFAULT_SEED)
    for path in paths:
        click.echo(str(path))


query_option = click.option(
    "--query",
    "-q",
    "queries",
    multiple=True,
    metavar="KEY=VALUE",
    help="A query parameter (repeatable), as the client sends it.",
)


payload_option = click.option(
    "--signing-payload",
    "mode",
    type=click.Choice([signing.JSON_PAYLOAD, signing.RAW_PAYLOAD]),
    default=signing.JSON_PAYLOAD,
    show_default=True,
    help="What a POST signs, as the sandbox is configured: json (JSON.stringify form) or raw.",
)


def _query(queries: tuple[str, ...]) -> str:
    """--query KEY=VALUE options as the query string a client would send."""
    pairs = []
    for item in queries:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--query")
        pairs.append((key, value))
    return signing.encode_query(pairs)


def _secret(flag: str | None) -> str:
    return flag or os.environ.get("SANDBOX_SECRET") or DEFAULT_SECRET


@main.command()
@click.argument("method")
@click.argument("path")
@query_option
@click.option("--body", "-d", help="The JSON body, any spacing or number formatting.")
@click.option("--timestamp", "-t", help="Unix seconds. Default: now.")
@click.option("--secret", help="Default: SANDBOX_SECRET, else sandbox-secret.")
@click.option(
    "--curl",
    "curl_base",
    metavar="BASE_URL",
    help="Also print a ready curl command against BASE_URL.",
)
@payload_option
def sign(
    method: str,
    path: str,
    queries: tuple[str, ...],
    body: str | None,
    timestamp: str | None,
    secret: str | None,
    curl_base: str | None,
    mode: str,
) -> None:
    """Print the x-timestamp and x-signature headers for a request.

    The body is signed in its canonical JSON.stringify form, whatever spacing or number
    formatting the text uses; the query is signed decoded and sorted by key.
    """
    method = method.upper()
    query = _query(queries)
    ts = timestamp or str(int(time.time()))
    raw = (body or "").encode("utf-8")
    payload, parsed = signing.request_payload(method, query, raw, mode=mode)
    if parsed is not None and body is not None and parsed.problem:
        click.echo(f"warning: {parsed.problem} It is signed as raw bytes.", err=True)
    signature = signing.sign(_secret(secret), method, path, ts, query=query, body=raw, mode=mode)
    click.echo(f"x-timestamp: {ts}")
    click.echo(f"x-signature: {signature}")
    if curl_base:
        # the body the command sends is the one signed: canonical (json) or as given (raw)
        sent = None if parsed is None else payload.decode("utf-8", "replace")
        click.echo(curl_command(curl_base, method, path, query, ts, signature, sent))


@main.command()
@click.argument("method")
@click.argument("path")
@query_option
@click.option("--raw-query", help="The raw query string as sent (instead of --query).")
@click.option("--body", "-d", default="", help="The body exactly as the client sent it.")
@click.option("--timestamp", "-t", required=True, help="The x-timestamp header as sent.")
@click.option("--signature", "-s", required=True, help="The x-signature header as sent.")
@click.option("--secret", help="Default: SANDBOX_SECRET, else sandbox-secret.")
@click.option("--now", type=float, help="The clock to check the window against. Default: now.")
@payload_option
def verify(
    method: str,
    path: str,
    queries: tuple[str, ...],
    raw_query: str | None,
    body: str,
    timestamp: str,
    signature: str,
    secret: str | None,
    now: float | None,
    mode: str,
) -> None:
    """Check a signature and explain why it fails (the signature doctor); exit 1 if invalid."""
    result = explain(
        secret=_secret(secret),
        method=method,
        path=path,
        query=raw_query if raw_query is not None else _query(queries),
        body=body,
        timestamp=timestamp,
        signature=signature,
        now=time.time() if now is None else now,
        mode=mode,
    )
    click.echo(f"canonical payload: {result['canonicalPayload']}")
    click.echo(f"StringToSign:      {result['stringToSign']}")
    verdict = result["verdict"]
    valid = verdict["reason"] == "valid"
    click.echo(
        f"verdict:           {'valid' if valid else verdict['reason'] + ': ' + verdict['detail']}"
    )
    if "finding" in result:
        click.echo(f"doctor:            {result['finding']['message']}")
    if verdict["reason"] != "valid":
        sys.exit(1)
