"""The `/__mock__/` control plane (DESIGN.md "Mock control plane"): JSON over HTTP, no auth, loopback by default.

    POST  /__mock__/accounts                     {"auth_token"?, <config keys>…}  → 201 {"account_sid", "auth_token"}
    POST  /__mock__/accounts/{AccountSid}/keys   {"permissions": [..] | null}    → 201 {"sid", "secret", "permissions"}
    GET   /__mock__/config                       the global config (every key, defaults filled in)
    PATCH /__mock__/config                       JSON merge patch → the new global config
    GET   /__mock__/accounts/{AccountSid}/config the account's effective config (global + its overrides)
    PATCH /__mock__/accounts/{AccountSid}/config merge patch kept as the account's override → effective config
    GET   /__mock__/stats                        global totals and {"accounts": {sid: stats}}
    GET   /__mock__/accounts/{AccountSid}/stats  one account's stats
    POST  /__mock__/reset                        forget all accounts, resources and counters; keep the global
                                                 config; re-seed, so the dev account is the one printed at start
    POST  /__mock__/seed                         {"seed": N} → a reset with seed N: from here on the mock behaves
                                                 exactly like a fresh `--seed N` process (same SIDs, faults)
    GET   /__mock__/media/{AccountSid}/{GT…}     ?Expires=&Signature= → audio/wav (the signature is the credential)

Config keys in an account's create body are that account's overrides, exactly as a later PATCH of its config; a
key the account does not override follows the global config, now and after every global PATCH. Errors use Twilio's
error body: an unknown or invalid config key is 400 with a message naming the key, an unknown account 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from mock_server._app import AccountRuntime, MockState
from mock_server._config import ConfigError
from mock_server._errors import ApiError, not_found
from mock_server._handlers import error_response, json_response, media_handler, method_not_allowed
from mock_server._stats import totals

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bad(message: str) -> ApiError:
    return ApiError(400, 20001, message)


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _bad("The request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise _bad(f"The request body must be a JSON object, got {type(data).__name__}")
    return data


def _config_error(exc: ConfigError) -> ApiError:
    return _bad(str(exc))


class _Control:
    """The control-plane handlers for one app's state."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    def _runtime(self, request: web.Request) -> AccountRuntime:
        sid = request.match_info["account_sid"]
        runtime = self.state.accounts.get(sid)
        if runtime is None:
            raise not_found(f"/__mock__/accounts/{sid}")
        return runtime

    def account_stats(self, runtime: AccountRuntime) -> dict[str, Any]:
        limiter = runtime.limiter
        return {
            "account_sid": runtime.sid,
            **runtime.counters.to_json(),
            "rejected_429": limiter.rejected_429,
            "in_flight": limiter.in_flight,
            "peak_in_flight": limiter.peak_in_flight,
            "current_limit": limiter.current_limit,
            **runtime.account.stats(),
            **self.state.webhooks.stats_for(runtime.sid),
        }

    async def create_account(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        token = body.pop("auth_token", None)
        if token is not None and (not isinstance(token, str) or not token):
            raise _bad(f"'auth_token' must be a non-empty string, got {token!r}")
        try:
            runtime = self.state.create_account(body, token)
        except ConfigError as exc:
            raise _config_error(exc) from None
        return json_response(201, {"account_sid": runtime.sid, "auth_token": runtime.account.auth_token})

    async def create_key(self, request: web.Request) -> web.StreamResponse:
        runtime = self._runtime(request)
        body = await _json_object(request)
        unknown = sorted(set(body) - {"permissions"})
        if unknown:
            raise _bad(f"unknown key '{unknown[0]}'")
        permissions = body.get("permissions")
        if permissions is not None and (
            not isinstance(permissions, list) or not all(isinstance(p, str) and p for p in permissions)
        ):
            raise _bad(f"'permissions' must be a list of permission strings or null, got {permissions!r}")
        key = self.state.registry.create_key(runtime.sid, permissions)
        listed = None if key.permissions is None else sorted(key.permissions)
        return json_response(201, {"sid": key.sid, "secret": key.secret, "permissions": listed})

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, self.state.config.to_json())

    async def patch_config(self, request: web.Request) -> web.StreamResponse:
        patch = await _json_object(request)
        try:
            config = self.state.patch_global(patch)
        except ConfigError as exc:
            raise _config_error(exc) from None
        return json_response(200, config.to_json())

    async def get_account_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, self._runtime(request).config.to_json())

    async def patch_account_config(self, request: web.Request) -> web.StreamResponse:
        runtime = self._runtime(request)
        patch = await _json_object(request)
        try:
            config = self.state.patch_account(runtime, patch)
        except ConfigError as exc:
            raise _config_error(exc) from None
        return json_response(200, config.to_json())

    async def stats(self, request: web.Request) -> web.StreamResponse:
        per_account = {sid: self.account_stats(rt) for sid, rt in self.state.accounts.items()}
        out = totals(per_account.values(), self.state.counters)
        out["unexpected_errors"] = self.state.unexpected_errors
        out["accounts"] = per_account
        return json_response(200, out)

    async def account_stats_handler(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, self.account_stats(self._runtime(request)))

    async def reset(self, request: web.Request) -> web.StreamResponse:
        self.state.reset()
        return json_response(200, {"reset": True, "seed": self.state.seed})

    async def seed(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        seed = body.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise _bad(f"'seed' must be an integer, got {seed!r}")
        unknown = sorted(set(body) - {"seed"})
        if unknown:
            raise _bad(f"unknown key '{unknown[0]}'")
        # Re-seeding alone would replay SIDs already in use; with a reset the run is a fresh `--seed N` mock.
        self.state.seed = seed
        self.state.reset()
        dev = self.state.dev_account
        return json_response(200, {"seed": seed, "dev_account_sid": dev.sid})


def _dispatch(by_method: Mapping[str, Handler]) -> Handler:
    """One aiohttp route per path, so a wrong method gets Twilio's JSON 405 instead of aiohttp's text page."""

    async def handle(request: web.Request) -> web.StreamResponse:
        handler = by_method.get(request.method)
        try:
            if handler is None:
                raise method_not_allowed(request.method, request.path, allow=by_method)
            return await handler(request)
        except ApiError as error:
            return error_response(error)

    return handle


def add_routes(app: web.Application, state: MockState) -> None:
    c = _Control(state)
    table: dict[str, dict[str, Handler]] = {
        "/__mock__/accounts": {"POST": c.create_account},
        "/__mock__/accounts/{account_sid}/keys": {"POST": c.create_key},
        "/__mock__/config": {"GET": c.get_config, "PATCH": c.patch_config},
        "/__mock__/accounts/{account_sid}/config": {"GET": c.get_account_config, "PATCH": c.patch_account_config},
        "/__mock__/stats": {"GET": c.stats},
        "/__mock__/accounts/{account_sid}/stats": {"GET": c.account_stats_handler},
        "/__mock__/reset": {"POST": c.reset},
        "/__mock__/seed": {"POST": c.seed},
        "/__mock__/media/{account_sid}/{sid}": {"GET": media_handler(state)},
    }
    for path, by_method in table.items():
        app.router.add_route("*", path, _dispatch(by_method))
