"""Telling the account's errors from an item's, and retrying the runner's own start-up requests.

An error is *the account's* when no item could succeed while it lasts: the credentials are refused (20003), a
restricted key lacks a permission (70051), the account is suspended (20403, any 403), or the service does not
exist in this account (a 404 on the service or on a create). Such an error never marks an item failed: the run
stops with `AccountBlocked` and the same command, run again after the fix, carries on.

Start-up requests (fetch the service, the permission probes, repointing the webhook, listing to reconcile) are
retried on 5xx, resets and refused connections — the client does not retry a POST whose answer was lost, but these
are safe to repeat — until the outage bound; then `ApiUnreachable` (exit 3, resumable), never a usage error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from harness._errors import (
    AccountBlocked,
    ApiUnreachable,
    CintelError,
    Forbidden,
    NotFound,
    RateLimited,
    TwilioApiError,
    Unauthorized,
)

if TYPE_CHECKING:
    from harness._runner import BatchRunner

STARTUP_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


def account_block(error: TwilioApiError, runner: BatchRunner, *, on_service: bool = True) -> AccountBlocked | None:
    """The `AccountBlocked` this error means, or None when it is about one request or item.

    `on_service`: the request addressed the service itself or created a transcript in it, so a 404 means the
    service is unknown (for a transcript fetch, a 404 is that transcript's own fate).
    """
    service = runner.options.service_sid
    account = runner.client.credentials.account_sid
    code = f"{error.code} " if error.code else ""
    if isinstance(error, Unauthorized) and error.code == 70051:
        hint = (
            f"the API key lacks a permission ({error.message}); a batch needs "
            "/twilio/voice/intelligence.transcripts/{create,read,list}, the service's read, and "
            ".transcript-sentences/read and .operator-results/read for results"
        )
    elif isinstance(error, Unauthorized):
        hint = (
            "the credentials were refused: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and "
            "TWILIO_API_SECRET), and that --base-url / CINTEL_BASE_URL is the API they belong to"
        )
    elif isinstance(error, Forbidden):
        hint = "the account may not do this (suspended or closed?): see the Twilio console"
    elif isinstance(error, NotFound) and on_service:
        hint = f"service {service} does not exist in account {account}: check --service (and the account/region)"
    else:
        return None
    return AccountBlocked(f"blocked by the account: HTTP {error.status} {code}{error.message}", cause=error, hint=hint)


async def preflight(runner: BatchRunner) -> None:
    """Check the account before sending anything: the service, the create and the list permissions.

    The three requests go out together (one round trip, not three: it is paid by every run, even of one item).
    """
    service_sid = runner.options.service_sid
    can_create = runner.client.check_can_create_transcripts

    async def list_one() -> None:
        async for _ in runner.client.list_transcripts(service_sid=service_sid, page_size=1):
            break

    checks = [
        asyncio.create_task(startup(runner, "fetch the service", lambda: runner.client.fetch_service(service_sid))),
        asyncio.create_task(startup(runner, "check the create permission", lambda: can_create(service_sid))),
        asyncio.create_task(startup(runner, "check the list permission", list_one)),
    ]
    try:
        done, _ = await asyncio.wait(checks, return_when=asyncio.FIRST_EXCEPTION)
        for check in checks:  # the first refusal, in a fixed order, is the one reported
            error = check.exception() if check in done else None
            if isinstance(error, ApiUnreachable):  # all three wait on the same outage: name the step
                raise ApiUnreachable(
                    f"could not check the account (fetch the service, the create and list permissions): "
                    f"{runner.health.describe() or error} (at {runner.client.credentials.base_url}); check the "
                    "network and --base-url / CINTEL_BASE_URL",
                    unreachable_s=error.unreachable_s,
                ) from None
            if error is not None:
                raise error
    finally:
        for check in checks:
            check.cancel()
        await asyncio.gather(*checks, return_exceptions=True)


async def startup(runner: BatchRunner, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
    """Run one start-up request: account errors raise `AccountBlocked`, outages are retried up to the bound."""
    attempt = 0
    busy_since: float | None = None
    while True:
        try:
            result = await op()
        except RateLimited as busy:
            runner.health.ok()  # answered: only busy (the client already waited out its retries)
            busy_since = runner.now() if busy_since is None else busy_since
            if runner.now() - busy_since > runner.options.unreachable_timeout_s:
                raise ApiUnreachable(
                    f"could not {what}: the API kept answering 429 ({busy.message}) for "
                    f"{runner.now() - busy_since:.0f} s",
                    unreachable_s=runner.now() - busy_since,
                ) from None
        except TwilioApiError as error:
            blocked = account_block(error, runner)
            if blocked is not None:
                raise blocked from None
            if error.status < 500:
                raise
            runner.health.failed(str(error))
        except CintelError as error:  # TransportError, OutcomeUnknown, RetryBudgetExhausted
            runner.health.failed(str(error))
        else:
            runner.health.ok()
            return result
        unreachable = runner.health.unreachable_s()
        if unreachable > runner.options.unreachable_timeout_s:
            raise ApiUnreachable(
                f"could not {what}: {runner.health.describe()} (at {runner.client.credentials.base_url}); "
                "check the network and --base-url / CINTEL_BASE_URL",
                unreachable_s=unreachable,
            )
        await asyncio.sleep(STARTUP_BACKOFF_S[min(attempt, len(STARTUP_BACKOFF_S) - 1)])
        attempt += 1
