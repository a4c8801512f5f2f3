"""The `/__mock__/` control plane (DESIGN.md "Mock control plane"): JSON over HTTP, loopback by default.

`GET /__mock__/` answers the index below (built from the same table the routes are), so a user with curl can find
every endpoint. On loopback the control plane needs no credentials; with a control token (required by `serve()`
off loopback) every request but the signed media download must carry it as `Authorization: Bearer <token>` or
`X-Mock-Control-Token: <token>`, else 401.

Config keys in an account's create body are that account's overrides, exactly as a later PATCH of its config; a
key the account does not override follows the global config, now and after every global PATCH. Every answer is
JSON, errors in Twilio's error body: a malformed or non-object body, a wrong type, an unknown or out-of-range config
key is 400 with a message naming the problem, an unknown account 404, a wrong method 405, a bad token 401 — and an
unexpected exception a JSON 500 (counted in `unexpected_errors`, which tests hold at 0).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mock_server import _strict_json as strict_json
from mock_server._app import AccountRuntime, MockState
from mock_server._bounds import SEED
from mock_server._config import ConfigError
from mock_server._errors import ApiError, internal_error, not_found
from mock_server._handlers import error_response, json_response, media_handler, method_not_allowed, read_body
from mock_server._media._host import MediaHost, read_blob
from mock_server._media._script import parse_script
from mock_server._media._serve_media import (
    encrypted_operator_result_handler,
    encrypted_sentences_handler,
    redacted_media_handler,
)
from mock_server._sids import is_sid
from mock_server._stats import totals
from mock_server._video._http import create_room_handler, video_media_handler

__all__ = ["CONTROL_TOKEN_HEADER", "ENDPOINTS", "add_routes", "check_control_token"]

log = logging.getLogger("mock_server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL_TOKEN_HEADER = "X-Mock-Control-Token"  # noqa: S105 - a header name, not a secret
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")


def check_control_token(token: str) -> str:
    """`token` if it can be a control token (16-256 URL-safe or base64 characters); ValueError saying why."""
    if not isinstance(token, str) or not 16 <= len(token) <= 256 or not set(token) <= _TOKEN_CHARS:
        raise ValueError(
            "a control token must be 16 to 256 characters from A-Z a-z 0-9 - . _ ~ + / = "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    return token


def _bad(message: str) -> ApiError:
    return ApiError(400, 20001, message)


async def _json_object(request: web.Request, timeout_s: float) -> dict[str, Any]:
    raw = await read_body(request, timeout_s)
    if not raw.strip():
        return {}
    try:
        data = strict_json.loads(raw)
    except ValueError as exc:
        raise _bad(f"The request body must be a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise _bad(f"The request body must be a JSON object, got a JSON {_json_type(data)}")
    return data


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _unknown_keys(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _bad(f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    description: str


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/__mock__/", "this index: every control-plane endpoint"),
    Endpoint("POST", "/__mock__/accounts", "create an account; body: optional auth_token and config keys (its own)"),
    Endpoint("POST", "/__mock__/accounts/{AccountSid}/keys", 'create an API key; body {"permissions": [..] | null}'),
    Endpoint("GET", "/__mock__/config", "the global configuration, every key with its value"),
    Endpoint("PATCH", "/__mock__/config", "JSON merge patch of the global configuration"),
    Endpoint("GET", "/__mock__/accounts/{AccountSid}/config", "one account's effective configuration"),
    Endpoint("PATCH", "/__mock__/accounts/{AccountSid}/config", "JSON merge patch of one account's overrides"),
    Endpoint("GET", "/__mock__/stats", "global counters (totals over accounts) and every account's"),
    Endpoint("GET", "/__mock__/accounts/{AccountSid}/stats", "one account's counters"),
    Endpoint(
        "POST",
        "/__mock__/reset",
        "forget accounts and counters; keep the config; dev account and service come back",
    ),
    Endpoint("POST", "/__mock__/seed", 'body {"seed": N}: reset and re-seed, exactly as a fresh --seed N process'),
    Endpoint("GET", "/__mock__/media/{AccountSid}/{TranscriptSid}", "signed media download (the signature is the key)"),
    Endpoint(
        "GET",
        "/__mock__/media/{AccountSid}/{TranscriptSid}/redacted",
        "signed download of the redacted media: PII silenced, PCM16 WAV (Media with Redacted=true)",
    ),
    Endpoint(
        "GET",
        "/__mock__/media/{AccountSid}/{TranscriptSid}/sentences/{Variant}",
        "signed download of every sentence, not encrypted (Encrypted Sentences' location)",
    ),
    Endpoint(
        "GET",
        "/__mock__/media/{AccountSid}/{TranscriptSid}/operator_results/{OperatorSid}/{Variant}",
        "signed download of one operator result, not encrypted (Encrypted OperatorResults' locations)",
    ),
    Endpoint("GET", "/__mock__/accounts/{AccountSid}/alerts", "the account's alert log (media failures with codes)"),
    Endpoint(
        "PUT",
        "/__mock__/accounts/{AccountSid}/recordings/{RecordingSid}",
        "store a Recording's audio (the raw bytes as the body) for source_sid transcripts",
    ),
    Endpoint("PUT", "/__mock__/media/{name}", "media host: store the body, answer a signed URL (?ttl_s=N)"),
    Endpoint(
        "POST",
        "/__mock__/scripts",
        'what a media says: body {"sha256": hex | "media_url": url, "channels": {"1": [lines], "2": [lines]}}',
    ),
    Endpoint("GET", "/__mock__/media/{name}", "media host download (the signature is the key; 403 once expired)"),
    Endpoint(
        "POST",
        "/__mock__/rooms",
        'a completed Video room: body {"account_sid", "participants": [{"identity", "joined_s", "left_s", '
        '"media" | "segments"}]} → its Room, Participant and Recording SIDs',
    ),
    Endpoint(
        "GET",
        "/__mock__/media/video/{AccountSid}/{Sid}",
        "signed download of a Video Recording (.mka) or Composition (where their Media redirects point)",
    ),
)


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

    async def _body(self, request: web.Request) -> dict[str, Any]:
        return await _json_object(request, self.state.read_timeout_s)

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
            **self.state.video.stats_for(runtime.sid),
        }

    async def index(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        auth = (
            f"Authorization: Bearer <control token> or {CONTROL_TOKEN_HEADER}: <control token>"
            if state.control_token is not None
            else "none (loopback only)"
        )
        endpoints = [{"method": e.method, "path": e.path, "description": e.description} for e in ENDPOINTS]
        body = {
            "endpoints": endpoints,
            "auth": auth,
            "seed": state.seed,
            "dev_account_sid": state.dev_account.sid,
            "dev_service_sid": state.dev_service_sid,
        }
        return json_response(200, body)

    async def create_account(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        token = body.pop("auth_token", None)
        if token is not None and (
            not isinstance(token, str) or not token or len(token) > 256 or not token.isprintable()
        ):
            raise _bad(f"'auth_token' must be a string of 1 to 256 printable characters, got {token!r:.80}")
        try:
            runtime = self.state.create_account(body, token)
        except ConfigError as exc:
            raise _bad(str(exc)) from None
        return json_response(201, {"account_sid": runtime.sid, "auth_token": runtime.account.auth_token})

    async def create_key(self, request: web.Request) -> web.StreamResponse:
        runtime = self._runtime(request)
        body = await self._body(request)
        _unknown_keys(body, {"permissions"})
        permissions = body.get("permissions")
        if permissions is not None and (
            not isinstance(permissions, list) or not all(isinstance(p, str) and p for p in permissions)
        ):
            raise _bad(f"'permissions' must be a list of permission strings or null, got {permissions!r:.80}")
        key = self.state.registry.create_key(runtime.sid, permissions)
        listed = None if key.permissions is None else sorted(key.permissions)
        return json_response(201, {"sid": key.sid, "secret": key.secret, "permissions": listed})

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, self.state.config.to_json())

    async def patch_config(self, request: web.Request) -> web.StreamResponse:
        patch = await self._body(request)
        try:
            config = self.state.patch_global(patch)
        except ConfigError as exc:
            raise _bad(str(exc)) from None
        return json_response(200, config.to_json())

    async def get_account_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, self._runtime(request).config.to_json())

    async def patch_account_config(self, request: web.Request) -> web.StreamResponse:
        runtime = self._runtime(request)
        patch = await self._body(request)
        try:
            config = self.state.patch_account(runtime, patch)
        except ConfigError as exc:
            raise _bad(str(exc)) from None
        return json_response(200, config.to_json())

    async def stats(self, request: web.Request) -> web.StreamResponse:
        per_account = {sid: self.account_stats(rt) for sid, rt in self.state.accounts.items()}
        out = totals(per_account.values(), self.state.counters)
        out["current_limit"] = self.state.global_limiter.current_limit  # what the global config sets now
        out["unexpected_errors"] = self.state.unexpected_errors
        out["accounts"] = per_account
        return json_response(200, out)

    async def account_stats_handler(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, self.account_stats(self._runtime(request)))

    async def alerts(self, request: web.Request) -> web.StreamResponse:
        return json_response(200, self._runtime(request).account.render_alerts())

    async def put_recording(self, request: web.Request) -> web.StreamResponse:
        runtime = self._runtime(request)
        sid = request.match_info["RecordingSid"]
        if not is_sid(sid, "RE"):
            raise _bad(f"'{sid[:40]}' is not a Recording SID (RE followed by 32 hex digits)")
        data = await read_blob(request, runtime.config.media.max_bytes, self.state.read_timeout_s)
        if not runtime.account.put_recording(sid, data):
            return web.Response(status=204)
        return json_response(201, {"account_sid": runtime.sid, "sid": sid, "size": len(data)})

    async def put_script(self, request: web.Request) -> web.StreamResponse:
        """Register what a media says, per channel, before its transcript completes (replaces an earlier one)."""
        body = await self._body(request)
        try:
            key = self.state.scripts.put(body)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        _, script = parse_script(body)  # cannot fail now: `put` took the same body
        kind, _, value = key.partition(":")
        lines = {channel: len(script.lines(int(channel))) for channel in script.as_json()["channels"]}
        return json_response(201, {"key": key, "sha256" if kind == "sha256" else "media_url": value, "lines": lines})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        await self._body(request)  # read (and judge) whatever was sent, so the connection stays in step
        self.state.reset()
        return json_response(200, self._fresh({"reset": True}))

    async def seed(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        _unknown_keys(body, {"seed"})
        seed = body.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or not SEED.contains(seed):
            raise _bad(f"'seed' must be {SEED.describe()}, got {seed!r:.80}")
        # Re-seeding alone would replay SIDs already in use; with a reset the run is a fresh `--seed N` mock.
        self.state.seed = seed
        self.state.reset()
        return json_response(200, self._fresh({}))

    def _fresh(self, extra: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        return {
            **extra,
            "seed": state.seed,
            "dev_account_sid": state.dev_account.sid,
            "dev_service_sid": state.dev_service_sid,
        }


def _authorized(state: MockState, request: web.Request) -> bool:
    expected = state.control_token
    if expected is None:
        return True
    given = request.headers.get(CONTROL_TOKEN_HEADER)
    if given is None:
        scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else ""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _control_unauthorized() -> ApiError:
    return ApiError(
        401,
        20003,
        f"Authenticate: the control plane needs its token (Authorization: Bearer <token> or {CONTROL_TOKEN_HEADER})",
        {"WWW-Authenticate": 'Bearer realm="cintel mock control plane"'},
    )


def _dispatch(state: MockState, by_method: Mapping[str, Handler], *, open_: frozenset[str] = frozenset()) -> Handler:
    """One aiohttp route per path: token check (except for the `open_` methods), Twilio's JSON 405 for a wrong
    method, JSON for every error."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            if request.method not in open_ and not _authorized(state, request):
                raise _control_unauthorized()
            handler = by_method.get(request.method)
            if handler is None:
                raise method_not_allowed(request.method, request.path, allow=by_method)
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except Exception:  # last resort: still Twilio's JSON, and counted so tests can prove it never happens
            log.exception("unexpected error answering %s %s", request.method, request.path)
            state.unexpected_errors += 1
            return error_response(internal_error())

    return handle


def add_routes(app: web.Application, state: MockState) -> None:
    c = _Control(state)
    host = MediaHost(state)
    handlers: dict[tuple[str, str], Handler] = {
        ("GET", "/__mock__/"): c.index,
        ("POST", "/__mock__/accounts"): c.create_account,
        ("POST", "/__mock__/accounts/{AccountSid}/keys"): c.create_key,
        ("GET", "/__mock__/config"): c.get_config,
        ("PATCH", "/__mock__/config"): c.patch_config,
        ("GET", "/__mock__/accounts/{AccountSid}/config"): c.get_account_config,
        ("PATCH", "/__mock__/accounts/{AccountSid}/config"): c.patch_account_config,
        ("GET", "/__mock__/stats"): c.stats,
        ("GET", "/__mock__/accounts/{AccountSid}/stats"): c.account_stats_handler,
        ("POST", "/__mock__/reset"): c.reset,
        ("POST", "/__mock__/seed"): c.seed,
        ("GET", "/__mock__/media/{AccountSid}/{TranscriptSid}"): media_handler(state),
        ("GET", "/__mock__/media/{AccountSid}/{TranscriptSid}/redacted"): redacted_media_handler(state),
        ("GET", "/__mock__/media/{AccountSid}/{TranscriptSid}/sentences/{Variant}"): encrypted_sentences_handler(state),
        (
            "GET",
            "/__mock__/media/{AccountSid}/{TranscriptSid}/operator_results/{OperatorSid}/{Variant}",
        ): encrypted_operator_result_handler(state),
        ("GET", "/__mock__/accounts/{AccountSid}/alerts"): c.alerts,
        ("PUT", "/__mock__/accounts/{AccountSid}/recordings/{RecordingSid}"): c.put_recording,
        ("PUT", "/__mock__/media/{name}"): host.put,
        ("GET", "/__mock__/media/{name}"): host.get,
        ("POST", "/__mock__/scripts"): c.put_script,
        ("POST", "/__mock__/rooms"): create_room_handler(state),
        ("GET", "/__mock__/media/video/{AccountSid}/{Sid}"): video_media_handler(state),
    }
    assert {(e.method, e.path) for e in ENDPOINTS} == set(handlers), "the index must list exactly the routes"
    by_path: dict[str, dict[str, Handler]] = {}
    for (method, path), handler in handlers.items():
        by_path.setdefault(path, {})[method] = handler
    for path, by_method in by_path.items():
        route = path.replace("{AccountSid}", "{account_sid}").replace("{TranscriptSid}", "{sid}")
        route = route.replace("{RecordingSid}", "{RecordingSid:[^/]+}")  # any segment reaches the handler (400)
        # Downloads need no token: the signature is the credential, as on Twilio's media URLs and S3's.
        open_ = frozenset({"GET"}) if path.startswith("/__mock__/media/") else frozenset()
        app.router.add_route("*", route, _dispatch(state, by_method, open_=open_))
        if path == "/__mock__/":
            app.router.add_route("*", "/__mock__", _dispatch(state, by_method))
