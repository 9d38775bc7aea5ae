"""Tokens as the API plugin issues and checks them: HS256 JWTs, Bearer scheme.

The plugin signs with `Api:SecurityKey` from appsettings, whose shipped default is a public
constant (kept here, as many stores never change it). Claims follow `TokenController`: nbf, exp,
CustomerId, the customer GUID as NameIdentifier, Email and Name. The JWT bearer handler allows
five minutes of clock skew. A missing or bad token is a 401 with an empty body and a
`WWW-Authenticate` challenge, as ASP.NET Core's JwtBearer handler answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

SECURITY_KEY = "NowIsTheTimeForAllGoodMenToComeToTheAideOfTheirCountry"
CLOCK_SKEW_SECONDS = 300
_NAME_ID = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
_EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(customer_id: int, customer_guid: str, email: str | None, issued_at: float, expires_at: float,
          key: str = SECURITY_KEY) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, Any] = {"nbf": int(issued_at), "exp": int(expires_at), "CustomerId": str(customer_id),
                              _NAME_ID: customer_guid}
    if email:
        claims[_EMAIL] = email
        claims[_NAME] = email
    signing_input = _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


@dataclass
class TokenCheck:
    customer_id: int | None
    error: str | None = None          # for the WWW-Authenticate header


def verify(token: str, key: str = SECURITY_KEY, now: float | None = None) -> TokenCheck:
    """Signature and lifetime (the server also checks the token is one it has not revoked)."""
    now = time.time() if now is None else now
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(key.encode(), f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return TokenCheck(None, 'error="invalid_token", error_description="The signature is invalid"')
        claims = json.loads(_unb64(body))
        expires, not_before = float(claims["exp"]), float(claims["nbf"])
        customer_id = int(claims["CustomerId"])
    except (ValueError, KeyError, TypeError):
        return TokenCheck(None, 'error="invalid_token"')
    if now > expires + CLOCK_SKEW_SECONDS:
        stamp = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(expires))
        return TokenCheck(None, f'error="invalid_token", error_description="The token expired at \'{stamp}\'"')
    if now + CLOCK_SKEW_SECONDS < not_before:
        return TokenCheck(None, 'error="invalid_token", error_description="The token is not valid yet"')
    return TokenCheck(customer_id)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
