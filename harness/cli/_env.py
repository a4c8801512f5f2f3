"""The Twilio credentials a command reads from the environment, checked before anything is sent.

The library's own message speaks of its arguments (`account_sid=`), which a command has none of: a command names the
variables to set instead (exit 2, like every usage error).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness._errors import ConfigurationError

__all__ = ["CREDENTIALS", "require_credentials"]

CREDENTIALS = (
    "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or, with an API key, TWILIO_ACCOUNT_SID, TWILIO_API_KEY and "
    "TWILIO_API_SECRET) in the environment"
)


def require_credentials(env: Mapping[str, str], what: str) -> None:
    """A `ConfigurationError` naming the unset variables unless `env` holds a full set; `what` says why they are
    needed, e.g. "--room reads the room from the Video API with your Twilio credentials"."""
    missing = [] if env.get("TWILIO_ACCOUNT_SID") else ["TWILIO_ACCOUNT_SID"]
    if not env.get("TWILIO_AUTH_TOKEN"):
        if env.get("TWILIO_API_KEY"):
            missing += [] if env.get("TWILIO_API_SECRET") else ["TWILIO_API_SECRET"]
        else:
            missing.append("TWILIO_AUTH_TOKEN")
    if missing:
        unset = f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
        raise ConfigurationError(f"{what}, and {unset}: {CREDENTIALS}")
