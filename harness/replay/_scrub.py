"""What a cassette must never hold, taken out of every string that goes into one.

A `Scrubber` rewrites text in this order:

1. aliases: a value that changes from run to run and is not the API's (the webhook receiver's URL, whose port is
   random) becomes a fixed placeholder, so a replay's requests match the recorded ones;
2. secrets it has learned: the credentials of every `Authorization` header it saw (the Basic base64 and the
   password in it: an auth token or an API secret), the webhook signing token, any value given to it, and every
   credential parameter value it redacted below — wherever they appear again, in any body or header;
3. credential parameters of URLs — a pre-signed URL's `X-Amz-Signature`, `X-Amz-Credential`, `Signature`, `sig`,
   `token`… (the names `harness._redact` knows), plain or percent-encoded — keep their name, lose their value;
   and the `user:password@` of a URL;
4. with `pseudonymise`, account SIDs: each `AC…` becomes `AC000…001`, `AC000…002`, … in order of first appearance,
   the same one everywhere in the file (URLs, headers, bodies, callbacks).

Headers whose name says credential (Authorization, X-Twilio-Signature, cookies, tokens, keys) keep only their name.
Binary bodies are not rewritten, except that a learned secret found in them is replaced (media is content).
Scrubbing is deterministic, so replay puts a live request through the same steps before matching it: a request
that carries a real signature matches the recorded one that carries `<redacted>`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

REDACTED = "<redacted>"
# The credential parameters `harness._redact` scrubs from text (a test keeps the two lists in step).
CREDENTIAL_PARAMETERS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    "x-goog-signature", "x-goog-credential", "x-goog-security-token", "googleaccessid",
    "signature", "awsaccesskeyid", "sig",
    "token", "access_token", "id_token", "refresh_token", "auth_token", "authtoken", "security_token", "sessiontoken",
    "password", "passwd", "pwd", "secret", "client_secret", "api_key", "apikey", "api-key", "private_token",
})  # fmt: skip
SECRET_HEADER = re.compile(r"authorization|signature|token|secret|password|cookie|api[-_]?key|credential", re.I)
MIN_SECRET = 6  # shorter "secrets" would blank out ordinary words all over the file
_PARAMETER = re.compile(
    r"(?:(?<=[?&;])|(?<=%3[fF])|(?<=%26))(?P<name>[A-Za-z0-9_.-]{1,40})(?P<eq>=|%3[dD])"
    r"(?P<value>(?:(?!%26)[^&#\s\"'<>\\])*)"
)
_USERINFO = re.compile(r"(?<=://)[^/?#@\s\"'<>]+@")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")


class Scrubber:
    """Rewrites text for a cassette (see the module docstring); learns secrets as it sees them."""

    def __init__(self, secrets: Iterable[str] = (), *, pseudonymise: bool = False) -> None:
        self.pseudonymise = pseudonymise
        self._secrets: set[str] = set()
        self._ordered: list[str] = []  # longest first, so a secret inside another is not replaced first
        self._aliases: dict[str, str] = {}
        self._pseudonyms: dict[str, str] = {}
        for secret in secrets:
            self.learn_secret(secret)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def learn_secret(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET:
            return
        for spelling in (secret, quote(secret, safe=""), quote(secret, safe="/")):
            if spelling not in self._secrets:
                self._secrets.add(spelling)
        self._ordered = sorted(self._secrets, key=len, reverse=True)

    def learn_authorization(self, value: str) -> None:
        """An Authorization header's credentials: the Basic base64, the user:password in it and the password; a
        Bearer or other scheme's token."""
        scheme, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip() or scheme
        self.learn_secret(credentials)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return
            self.learn_secret(decoded)
            self.learn_secret(decoded.partition(":")[2])

    def alias(self, live: str, placeholder: str) -> None:
        """Write `placeholder` wherever `live` appears (a run-specific value, like the receiver's URL)."""
        if live and live != placeholder:
            self._aliases[live] = placeholder

    def text(self, text: str) -> str:
        for live, placeholder in self._aliases.items():
            if live in text:
                text = text.replace(live, placeholder)
        text = self._without_secrets(text)
        if "=" in text or "%3" in text:
            text = _PARAMETER.sub(self._parameter, text)
        if "@" in text:
            text = _USERINFO.sub(REDACTED + "@", text)
        if self.pseudonymise and "AC" in text:
            text = ACCOUNT_SID.sub(self._pseudonym, text)
        return text

    def value(self, value: Any) -> Any:
        """A parsed JSON value with every string (keys too) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        return value

    def header(self, name: str, value: str) -> tuple[str, str]:
        if name.lower() in ("authorization", "proxy-authorization"):
            self.learn_authorization(value)
        if SECRET_HEADER.search(name):
            return name.lower(), REDACTED
        return name.lower(), self.text(value)

    def binary(self, content: bytes) -> bytes:
        """Bytes with every learned secret replaced (nothing else: media is content)."""
        for secret in self._ordered:
            encoded = secret.encode()
            if encoded in content:
                content = content.replace(encoded, REDACTED.encode())
        return content

    def _without_secrets(self, text: str) -> str:
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _parameter(self, match: re.Match[str]) -> str:
        name, value = match["name"], match["value"]
        if name.lower() not in CREDENTIAL_PARAMETERS or value == REDACTED or not value:
            return match[0]
        self.learn_secret(value)  # the same signature in an error body (S3 echoes it) goes too
        return f"{name}{match['eq']}{REDACTED}"

    def _pseudonym(self, match: re.Match[str]) -> str:
        sid = match[0]
        if sid not in self._pseudonyms:
            if sid in self._pseudonyms.values():  # already a pseudonym (scrubbing twice changes nothing)
                return sid
            self._pseudonyms[sid] = f"AC{len(self._pseudonyms) + 1:032x}"
        return self._pseudonyms[sid]
