"""Credentials and base URL: arguments, then the environment; one clear error before any request; no secret in repr."""

from __future__ import annotations

import logging

import pytest

from harness import ConfigurationError, Credentials, IntelligenceClient, resolve_credentials

SID = "AC" + "0123456789abcdef" * 2
KEY = "SK" + "fedcba9876543210" * 2
TOKEN = "auth-token-value-1234"
SECRET = "api-secret-value-5678"


def test_arguments_win_over_the_environment() -> None:
    """Explicit arguments are used as given; the environment fills only what is missing."""
    env = {"TWILIO_ACCOUNT_SID": "AC" + "9" * 32, "TWILIO_AUTH_TOKEN": "other", "CINTEL_BASE_URL": "http://env:1"}
    creds = resolve_credentials(SID, TOKEN, base_url="http://127.0.0.1:8080/", environ=env)

    assert (creds.account_sid, creds.username, creds.password) == (SID, SID, TOKEN)
    assert creds.base_url == "http://127.0.0.1:8080"


def test_account_and_token_from_the_environment() -> None:
    """TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN; CINTEL_BASE_URL selects the mock, else Twilio."""
    env = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN}

    assert resolve_credentials(environ=env).base_url == "https://intelligence.twilio.com"
    assert resolve_credentials(environ={**env, "CINTEL_BASE_URL": "http://h:9"}).base_url == "http://h:9"


def test_api_key_and_secret_from_the_environment() -> None:
    """TWILIO_API_KEY + TWILIO_API_SECRET authenticate as the key; the account SID stays the account."""
    creds = resolve_credentials(environ={"TWILIO_ACCOUNT_SID": SID, "TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET})

    assert (creds.account_sid, creds.username, creds.password) == (SID, KEY, SECRET)
    assert creds.signing_token is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({}, "TWILIO_ACCOUNT_SID", id="nothing"),
        pytest.param({"TWILIO_ACCOUNT_SID": SID}, "TWILIO_AUTH_TOKEN", id="no-token"),
        pytest.param({"TWILIO_ACCOUNT_SID": "ACnot-hex", "TWILIO_AUTH_TOKEN": TOKEN}, "32 hex", id="bad-sid"),
        pytest.param({"TWILIO_ACCOUNT_SID": SID, "TWILIO_API_KEY": KEY}, "TWILIO_API_SECRET", id="key-no-secret"),
        pytest.param(
            {"TWILIO_ACCOUNT_SID": SID, "TWILIO_API_KEY": "SKshort", "TWILIO_API_SECRET": SECRET}, "SK", id="bad-key"
        ),
        pytest.param(
            {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "CINTEL_BASE_URL": "ftp://x"}, "http", id="bad-url"
        ),
    ],
)
def test_missing_or_malformed_credentials_fail_clearly(env: dict[str, str], message: str) -> None:
    """One ConfigurationError naming what to set, raised when the client is made — before any request."""
    with pytest.raises(ConfigurationError, match=message):
        resolve_credentials(environ=env)


def test_client_refuses_to_start_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Constructing the client with nothing configured raises at once."""
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError):
        IntelligenceClient()


def test_secrets_never_in_repr_or_str(caplog: pytest.LogCaptureFixture) -> None:
    """Neither the token nor the API secret nor the Authorization value shows in repr(), str() or a log line."""
    caplog.set_level(logging.DEBUG)
    for creds in (
        resolve_credentials(SID, TOKEN, environ={}),
        resolve_credentials(SID, api_key=KEY, api_secret=SECRET, environ={}),
    ):
        client = IntelligenceClient(SID, creds.password if creds.username == SID else None,
                                    api_key=None if creds.username == SID else KEY,
                                    api_secret=None if creds.username == SID else SECRET)  # fmt: skip
        logging.getLogger("harness").info("client %r creds %r", client, creds)
        shown = " ".join([repr(creds), str(creds), repr(client), repr(client._requester), caplog.text])
        for secret in (TOKEN, SECRET, creds.authorization.split()[1]):
            assert secret not in shown
    assert isinstance(creds, Credentials)
