"""Credentials and the base URL, from arguments or the environment, checked before any request is made.

Auth token and API secret are kept out of `repr()` so that they cannot reach a log line by accident.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from harness._errors import ConfigurationError

TWILIO_BASE_URL = "https://intelligence.twilio.com"
_ACCOUNT = re.compile(r"^AC[0-9a-fA-F]{32}$")
_KEY = re.compile(r"^SK[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    username: str  # the account SID, or the API key SID
    password: str = field(repr=False)  # the auth token, or the API key secret
    base_url: str = TWILIO_BASE_URL

    @property
    def authorization(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"

    @property
    def signing_token(self) -> str | None:
        """The auth token (webhook signatures are made with it); None when authenticating with an API key."""
        return self.password if self.username == self.account_sid else None


def resolve_credentials(
    account_sid: str | None = None,
    auth_token: str | None = None,
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Arguments first, then TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN or + TWILIO_API_KEY + TWILIO_API_SECRET."""
    env = os.environ if environ is None else environ
    account_sid = account_sid or env.get("TWILIO_ACCOUNT_SID")
    if not account_sid:
        raise ConfigurationError("no account SID: pass account_sid= or set TWILIO_ACCOUNT_SID")
    if not _ACCOUNT.match(account_sid):
        raise ConfigurationError(f"account SID {account_sid[:40]!r} is not AC followed by 32 hex digits")
    api_key = api_key or (None if auth_token else env.get("TWILIO_API_KEY"))
    if api_key:
        api_secret = api_secret or env.get("TWILIO_API_SECRET")
        if not _KEY.match(api_key):
            raise ConfigurationError(f"API key {api_key[:40]!r} is not SK followed by 32 hex digits")
        if not api_secret:
            raise ConfigurationError("API key given without its secret: pass api_secret= or set TWILIO_API_SECRET")
        username, password = api_key, api_secret
    else:
        auth_token = auth_token or env.get("TWILIO_AUTH_TOKEN")
        if not auth_token:
            raise ConfigurationError(
                "no credentials: set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET "
                "(or pass auth_token= / api_key= and api_secret=)"
            )
        username, password = account_sid, auth_token
    url = (base_url or env.get("CINTEL_BASE_URL") or TWILIO_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"base URL {url!r} must be an http or https URL")
    return Credentials(account_sid, username, password, url)
