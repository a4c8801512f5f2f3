"""The mock as one aiohttp application: state, wiring, and the lifecycle ticker.

`create_app()` builds a `MockState` — the registry (domain model), the global configuration and each account's
overrides, one `AccountLimiter` per account, the fault injector, the webhook dispatcher and the request counters —
stores it under the typed `STATE` key, and routes:

- `/__mock__/…` to the control plane (`_control.py`) and `/__mock__/media/{GT…}` to the signed media download;
- media jobs (a transcript waiting for its audio) to the media pipeline (`_media/_pipeline.py`), which fetches and
  analyses off the request path and reports back to the account;
- every other path to one Twilio handler (`_handlers.py`) that looks the path up in its own precomputed table, so a
  request passes no middleware and no regular expression, and unknown paths and wrong methods get Twilio's JSON;
  the table holds Intelligence v2 and the Video v1 subset, whose rooms, recordings and compositions the video
  service (`_video/`) keeps, records and composes (its own worker threads, ticker and status callbacks).

Determinism: every random choice comes from the app's seed. The registry (SIDs, tokens, lifecycle failures), the
fault injector and the webhook dispatcher each get their own `random.Random` derived from that one seed, so webhook
timing (which depends on the network) can never shift the SIDs that requests get; `POST /__mock__/seed` resets the
mock with the new seed.

Configuration layers: the global `MockConfig`, then each account's merge patches applied in order. An account
follows every global change to keys it has not overridden itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mock_server._clock import Clock, SystemClock
from mock_server._config import MockConfig, WebhookFaultsConfig
from mock_server._faults import FaultInjector
from mock_server._limits import AccountLimiter
from mock_server._media._pipeline import Analyser, MediaPipeline
from mock_server._media._script import ScriptStore

if TYPE_CHECKING:
    from mock_server._media._host import HostedObject
from mock_server._model import Account, Params, Principal, Registry
from mock_server._model._downloads import discard_media_files
from mock_server._routes import ROUTES, RouteTable
from mock_server._stats import Counters
from mock_server._video import VideoService, video_routes
from mock_server._webhooks import CallbackLike, WebhookDispatcher

log = logging.getLogger("mock_server")

TICK_S = 0.05  # the ticker never sleeps longer than this, so a transition is at most this late
READ_TIMEOUT_S = 30.0  # a request's headers, or its body, must arrive within this (slow clients are dropped)
DEV_SERVICE_NAME = "dev"


def _streams(seed: int) -> tuple[str, str, str]:
    return f"{seed}/registry", f"{seed}/faults", f"{seed}/webhooks"


def _needs_decision(config: MockConfig) -> bool:
    latency = config.latency_ms
    return config.faults.any or not latency.default.is_zero or any(not s.is_zero for s in latency.routes.values())


class AccountRuntime:
    """One account's HTTP-side state: its config overrides, effective config, limiter and counters."""

    __slots__ = ("account", "config", "counters", "decide", "limiter", "patches", "sid")

    def __init__(self, account: Account, patches: list[Mapping[str, Any]], config: MockConfig, clock: Clock) -> None:
        self.account = account
        self.sid: str = account.sid
        self.patches = patches
        self.config = config
        self.limiter = AccountLimiter(config, clock)
        self.counters = Counters()
        self.decide = _needs_decision(config)
        account.lifecycle = config.lifecycle
        account.media = config.media

    def apply(self, config: MockConfig) -> None:
        self.config = config
        self.limiter.reconfigure(config)
        self.decide = _needs_decision(config)
        self.account.lifecycle = config.lifecycle
        self.account.media = config.media


class MockState:
    """Everything one running mock knows. Handlers hold a direct reference, so a request does no app lookups."""

    def __init__(
        self,
        config: MockConfig,
        seed: int,
        clock: Clock,
        *,
        control_token: str | None = None,
        read_timeout_s: float = READ_TIMEOUT_S,
        analyse: Analyser | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.control_token = control_token  # when set, every control-plane request must carry it
        self.read_timeout_s = read_timeout_s
        reg_seed, fault_seed, hook_seed = _streams(seed)
        self.rng = random.Random(reg_seed)
        self.fault_rng = random.Random(fault_seed)
        self.webhook_rng = random.Random(hook_seed)
        self.config = config
        self.global_limiter = AccountLimiter(config, clock)  # reports the global `current_limit` only
        self.media = MediaPipeline(clock, analyse=analyse)
        self.hosted_media: dict[str, HostedObject] = {}  # the media host's objects (`_media/_host.py`), by name
        self.scripts = ScriptStore()  # what media says (`POST /__mock__/scripts`), read when a transcript completes
        self.registry = self._new_registry()
        self.faults = FaultInjector(self.fault_rng)
        self.webhooks = WebhookDispatcher(self.webhook_rng, clock)
        # Rooms, recordings and compositions (`_video/`): SIDs from the registry's stream, callbacks with the
        # account's webhook faults.
        self.video = VideoService(clock, lambda: self.registry, self._webhook_faults, seed)
        self.accounts: dict[str, AccountRuntime] = {}
        # Authorization header → verdict; accounts and keys only disappear on reset, which clears it.
        self.principals: dict[str, tuple[Principal, AccountRuntime]] = {}
        self.counters = Counters()
        self.unexpected_errors = 0  # requests that reached the last-resort 500; tests assert it stays 0
        self.base_url_known = False
        self.wake = asyncio.Event()
        self.ticker_due = float("inf")  # when the ticker will next look; a create due earlier wakes it
        self.dev_account, self.dev_service_sid = self._create_dev_account()

    def _new_registry(self) -> Registry:
        registry = Registry(self.rng, self.clock)
        registry.media_url_ttl_s = self.config.media_url_ttl_s
        registry.ctx.scripts = self.scripts
        registry.ctx.discard_media = discard_media_files(self.media.discard)  # the original and its redacted copy
        return registry

    # --- accounts and configuration ---------------------------------------------------------------------------

    def _create_dev_account(self) -> tuple[Account, str]:
        """The dev account and its ready service (UniqueName `dev`), as the banner prints them.

        Token and SIDs come from the seeded stream, so `cintel mock --seed N` prints the same ones every time, and
        a reset or `POST /__mock__/seed` brings back exactly what a fresh `--seed N` process starts with.
        """
        account = self.create_account({}, f"{self.rng.getrandbits(128):032x}").account
        created = account.create_service(Params({"UniqueName": [DEV_SERVICE_NAME]}))
        assert created.body is not None
        return account, str(created.body["sid"])

    def create_account(self, patch: Mapping[str, Any], auth_token: str | None = None) -> AccountRuntime:
        """A new account with `patch` as its config overrides (validated first: a bad key creates nothing)."""
        patches: list[Mapping[str, Any]] = [dict(patch)] if patch else []
        config = self._effective(patches)
        account = self.registry.create_account(auth_token=auth_token, lifecycle=config.lifecycle)
        runtime = AccountRuntime(account, patches, config, self.clock)
        self.accounts[account.sid] = runtime
        return runtime

    def _effective(self, patches: Iterable[Mapping[str, Any]]) -> MockConfig:
        config = self.config
        for patch in patches:
            config = config.patched(patch, where="account config")
        return config

    def patch_global(self, patch: Mapping[str, Any]) -> MockConfig:
        """Apply a merge patch to the global config; every account is recomputed (all-or-nothing on errors)."""
        new = self.config.patched(patch)
        old, self.config = self.config, new
        try:
            effective = {sid: self._effective(rt.patches) for sid, rt in self.accounts.items()}
        except Exception:
            self.config = old
            raise
        for sid, config in effective.items():
            self.accounts[sid].apply(config)
        self.global_limiter.reconfigure(new)
        self.registry.media_url_ttl_s = new.media_url_ttl_s
        return new

    def patch_account(self, runtime: AccountRuntime, patch: Mapping[str, Any]) -> MockConfig:
        patches: list[Mapping[str, Any]] = [*runtime.patches, dict(patch)]
        config = self._effective(patches)
        runtime.patches = patches
        runtime.apply(config)
        return config

    def _webhook_faults(self, account_sid: str) -> WebhookFaultsConfig | None:
        runtime = self.accounts.get(account_sid)
        return runtime.config.webhook_faults if runtime is not None else None

    # --- reset and seed -----------------------------------------------------------------------------------------

    def reseed(self, seed: int) -> None:
        self.seed = seed
        for rng, stream in zip((self.rng, self.fault_rng, self.webhook_rng), _streams(seed), strict=True):
            rng.seed(stream)

    def reset(self) -> None:
        """Forget every account, resource and counter; keep the global config; start again as at boot.

        The generators are re-seeded with the current seed first, so after a reset the dev account and service
        have the same SIDs and token as at startup and the same requests get the same SIDs as in a fresh process.
        """
        base_url = self.registry.public_base_url
        self.accounts.clear()
        self.principals.clear()
        self.webhooks.reset_stats()
        self.counters = Counters()
        self.unexpected_errors = 0
        self.media.reset()
        self.video.reset(self.seed)
        self.hosted_media.clear()
        self.scripts.clear()
        self.reseed(self.seed)
        self.registry = self._new_registry()  # a fresh registry draws its secrets exactly as at startup
        self.registry.public_base_url = base_url
        self.global_limiter = AccountLimiter(self.config, self.clock)  # its schedule restarts, as at boot
        self.dev_account, self.dev_service_sid = self._create_dev_account()

    # --- lifecycle callbacks -------------------------------------------------------------------------------------

    def submit(self, events: Iterable[CallbackLike]) -> None:
        """Hand completion callbacks to the dispatcher with their account's webhook faults."""
        for event in events:
            runtime = self.accounts.get(event.account_sid)
            if runtime is None:
                continue  # the account was reset away between the transition and now
            self.webhooks.submit(event, runtime.config.webhook_faults)

    def after_create(self) -> None:
        """Start the media jobs a request left; wake the ticker when a transition is due before it would look."""
        for job in self.registry.drain_media_jobs():
            runtime = self.accounts.get(job.account_sid)
            if runtime is not None:
                self.media.start(runtime.account, job, self.media_settled)
        due = self.registry.next_due()
        if due is not None and due < self.ticker_due:
            self.wake.set()

    def media_settled(self) -> None:
        """A media job told its account the outcome: send any callback now and look at the new due time."""
        events = self.registry.drain_callbacks()
        if events:
            self.submit(events)
        self.after_create()

    async def run_ticker(self) -> None:
        """Apply due lifecycle transitions and send their callbacks, sleeping until the next one (≤ TICK_S)."""
        while True:
            now = self.clock.now()
            try:
                self.submit(self.registry.tick(now))
            except Exception:  # a bug here must not stop every later transition
                log.exception("lifecycle tick failed")
            due = self.registry.next_due()
            delay = TICK_S if due is None else min(max(due - now, 0.0), TICK_S)
            self.ticker_due = now + delay
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), delay)


STATE: web.AppKey[MockState] = web.AppKey("cintel_mock_state", MockState)


async def _background(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.wake = asyncio.Event()  # bind to the running loop (the app may have been built outside it)
    await state.webhooks.start()
    await state.video.start()
    ticker = asyncio.create_task(state.run_ticker(), name="cintel-mock-ticker")
    # Everything alive once the server starts (modules, aiohttp, numpy: ~100k objects, none of it garbage) moves to
    # the permanent generation, so a full collection — which may run in the middle of any request — walks only
    # what requests made since. Measured: gen-2 pauses of ~26 ms fell to ~6 ms while media was heard.
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await state.media.close()
        await state.video.close()
        await state.webhooks.close()


def create_app(
    config: MockConfig | None = None,
    *,
    seed: int = 0,
    clock: Clock | None = None,
    control_token: str | None = None,
    read_timeout_s: float = READ_TIMEOUT_S,
    analyse: Analyser | None = None,
) -> web.Application:
    """The mock as an aiohttp application (all limits off and no faults unless `config` says otherwise).

    `control_token`: when given, every `/__mock__/` request must carry it (`Authorization: Bearer …` or
    `X-Mock-Control-Token`), else 401; `serve()` insists on one off loopback. `read_timeout_s` bounds how long a
    request body may take to arrive (and, under `serve()`, its headers and an idle keep-alive connection).
    `analyse`: what hears fetched media (default `mock_server._media.analyse`; tests inject a fake).
    """
    from mock_server import _control, _handlers

    if control_token is not None:
        control_token = _control.check_control_token(control_token)
    if not (isinstance(read_timeout_s, int | float) and 0 < read_timeout_s <= 3600):
        raise ValueError(f"read_timeout_s must be a number of seconds in (0, 3600], got {read_timeout_s!r}")
    state = MockState(
        config or MockConfig(),
        seed,
        clock or SystemClock(),
        control_token=control_token,
        read_timeout_s=read_timeout_s,
        analyse=analyse,
    )
    app = web.Application()
    app[STATE] = state
    _control.add_routes(app, state)
    # [\s\S]: a path may hold a decoded newline, which "." would not match (aiohttp would answer text/plain).
    table = RouteTable((*ROUTES, *video_routes(state.video)))  # Intelligence v2 and the Video v1 subset
    app.router.add_route("*", r"/{tail:[\s\S]*}", _handlers.twilio_handler(state, table))
    app.cleanup_ctx.append(_background)
    return app
