"""POST /api/v1/generate-auth-token (SPEC A3, B9). The login link's page is ``sandbox.login``."""

from __future__ import annotations

import secrets
import string
from typing import Any

from ..auth import trusted_host
from ..dates import iso_ms
from .exchange import Exchange
from .fields import TOKEN_BODY, validate

TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 64


def new_token() -> str:
    """64 random alphanumerics from the OS's CSPRNG."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def login_base(call: Exchange) -> str:
    """Where login links point: ``--login-base``, else the sandbox's own URL. Listening on a
    wildcard address it has none of its own: then the Host the client sent, if it is a
    loopback name, else the address the client really connected to; never a Host that could
    be an attacker's (a link to it would be handed to end users)."""
    sandbox = call.sandbox
    base = sandbox.config.login_base or sandbox.base_url
    if not base:
        request = call.request
        host = request.host_url.split("://", 1)[-1].rstrip("/")
        local = request.connection.local_url() if request.connection else None
        trusted = trusted_host(host, sandbox.config.host)
        base = request.host_url if trusted or local is None else local
    return base.rstrip("/")


def generate_auth_token(call: Exchange) -> dict[str, Any]:
    fields = validate(TOKEN_BODY, call.json_object(), query=False)
    minutes: int = fields["expiration"]
    tenant = call.tenant
    now = tenant.clock.now()
    tenant.store.prune_tokens(iso_ms(now))  # expired tokens do not pile up
    user, is_new = tenant.store.upsert_user(
        fields["clientId"],
        fields["username"],
        fields["displayName"],
        fields["ipAddress"],
        iso_ms(now),
    )
    token = new_token()
    expires = iso_ms(now + minutes * 60)
    tenant.store.add_token(token, user.id, expires)
    return {
        "token": token,
        "expiration": expires,
        "expiresIn": minutes * 60,
        "loginLink": f"{login_base(call)}/login/{token}",
        "user": {
            "id": user.id,
            "username": user.username,
            "displayId": user.client_id,
            "displayName": user.display_name,
        },
        "isNewUser": is_new,
    }
