"""The Twilio-facing request path, and the signed media download.

One handler serves every `/v2/…` operation; it is the only code between aiohttp and the account's domain method,
so it is written for speed (a benchmark holds it to ≥ 0.6× / 0.7× a bare aiohttp handler): no middleware, a
precomputed trie lookup, cached Basic-auth parsing, the limiter and fault injector consulted only when the account's
config has limits, latency or faults, and compact JSON.

Order of checks, each answered with Twilio's JSON error body:
1. path (404 / 20404) and method (405 / 20004, with `Allow`) — before auth, so a stray probe costs nothing;
2. credentials (401 / 20003) and, for a restricted key, the operation's permission (401 / 70051);
3. the account's limiter: over the concurrency limit or out of tokens → 429 / 20429 at once, nothing processed;
4. the fault decision: `reset_before` drops the connection unanswered; then the sampled latency is slept while the
   concurrency slot is held (capacity = limit / latency, as on the real service); `error_5xx` answers 500;
5. parameters: form body for POST (`application/x-www-form-urlencoded`, UTF-8, repeated keys kept) or the query
   string otherwise; anything else is 400 / 20001 naming the parameter;
6. the domain method; `reset_after_commit` then drops the connection although the operation happened.
An unexpected exception is logged and answered with a Twilio 500 as a last resort (counted, so tests can prove no
input reaches it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from _codecs import escape_decode
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from mock_server._app import AccountRuntime, MockState
from mock_server._auth import basic_credentials
from mock_server._errors import (
    ApiError,
    authenticate,
    internal_error,
    invalid_parameter,
    not_found,
    permission_missing,
)
from mock_server._errors import method_not_allowed as _method_not_allowed
from mock_server._model import Params, Principal
from mock_server._routes import RouteTable

log = logging.getLogger("mock_server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PRINCIPAL_CACHE_LIMIT = 10_000
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"

# The stdlib encoder, compact and without the circularity check (bodies are trees we built). orjson was measured
# against it with `python -m benchmarks.bench_mock`: no difference that the machine's noise did not swamp, so the
# mock keeps one code path and one dependency fewer.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _dumps(body: Any) -> bytes:
    return _encode(body).encode()


_EMPTY = Params()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_dumps(body), status=status, headers=headers, content_type=_JSON)


def _response(result: Any, admission_headers: dict[str, str]) -> web.Response:
    """An operation's `Result` (or `EncodedResult`) as the HTTP answer, with the limiter's headers."""
    headers = admission_headers
    if result.headers:
        headers = {**headers, **result.headers} if headers else result.headers
    encoded = result.encoded
    if encoded is not None:
        return web.Response(body=encoded, status=result.status, headers=headers or None, content_type=_JSON)
    if result.body is None:
        return web.Response(status=result.status, headers=headers or None)
    return json_response(result.status, result.body, headers or None)


def error_response(error: ApiError) -> web.Response:
    response = json_response(error.status, error.body(), error.headers or None)
    if error.headers.get("Connection") == "close":
        response.force_close()  # e.g. a body that never arrived: the rest of it must not be read as a request
    return response


def method_not_allowed(method: str, path: str, allow: Iterable[str]) -> ApiError:
    error = _method_not_allowed(method, path)
    error.headers["Allow"] = ", ".join(sorted(allow))
    return error


# --- parameters ------------------------------------------------------------------------------------------------


def parse_pairs(raw: bytes | str) -> Params:
    """Form/query pairs as Twilio reads them: `+` is a space, percent-escapes must decode as UTF-8, blanks kept."""
    if not raw:
        return _EMPTY
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _not_utf8(raw) from None
    else:
        text = raw
    values: dict[str, list[str]] = {}
    for chunk in text.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        try:
            name = _unquote_plus(name)
        except UnicodeDecodeError:
            raise invalid_parameter("parameter name", name, "not UTF-8") from None
        try:
            value = _unquote_plus(value)
        except UnicodeDecodeError:
            raise invalid_parameter(name, value, "not UTF-8") from None
        values.setdefault(name, []).append(value)
    return Params(values)


def _unquote_plus(text: str) -> str:
    """`unquote_plus(text, errors="strict")`, ten times faster on the ASCII text forms are made of.

    For ASCII text `unquote_plus` is `unquote_to_bytes` (a Python loop over every `%`) then a strict UTF-8 decode.
    The same bytes come from one C call: with every backslash doubled and every `%` turned into `\\x`, CPython's
    bytes-literal decoder (`_codecs.escape_decode`, what pickle uses) reads exactly the `%XX` escapes and nothing
    else. A `%` without two hex digits after it (which `unquote` keeps as it is) makes it raise, and so do bytes that
    are not UTF-8: both go the general way, which gives the answer or the error it always did.
    """
    if "%" not in text:
        return text.replace("+", " ") if "+" in text else text
    if text.isascii():
        try:
            return escape_decode(text.replace("+", " ").replace("\\", "\\\\").replace("%", "\\x"))[0].decode()
        except ValueError:
            pass
    return unquote_plus(text, errors="strict")


def _not_utf8(raw: bytes) -> ApiError:
    """A 20001 naming the pair whose bytes are not UTF-8, so the message says which parameter was wrong."""
    for chunk in raw.split(b"&"):
        name, _, value = chunk.partition(b"=")
        shown_name = name.decode("utf-8", "replace")
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            return invalid_parameter("parameter name", shown_name, "not UTF-8")
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return invalid_parameter(shown_name, value.decode("utf-8", "replace"), "not UTF-8")
    return invalid_parameter("body", raw.decode("utf-8", "replace"), "not UTF-8")  # pragma: no cover


async def read_body(request: web.Request, timeout_s: float) -> bytes:
    """The whole request body, or Twilio-style JSON 408 when it has not arrived within `timeout_s` (413 if huge).

    Without the bound a client that announces a body and sends it byte by byte holds its connection (and, on the
    Twilio side, a concurrency slot) for ever. After a 408 the connection is closed, since the rest of the body may
    still be on its way.
    """
    try:
        if request.content.is_eof():
            # All of it has arrived already (a small form comes in the headers' packet): nothing can keep us
            # waiting, so no timer is armed and cancelled for it.
            return await request.read()
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise ApiError(
            408, 20408, f"Request body not received within {timeout_s:g} s", {"Connection": "close"}
        ) from None
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, 20001, "Request body too large", {"Connection": "close"}) from None


def _form(body: bytes, content_type: str | None) -> Params:
    if content_type is not None and content_type != _FORM and content_type.partition(";")[0].strip().lower() != _FORM:
        raise invalid_parameter("Content-Type", content_type, f"the body must be {_FORM}")
    return parse_pairs(body)


# --- the Twilio handler ------------------------------------------------------------------------------------------


def _drop(request: web.Request) -> web.Response:
    """Abort the TCP connection: the client sees a reset / server-disconnected and no answer at all."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)  # never written: the transport is gone


def twilio_handler(state: MockState, table: RouteTable | None = None) -> Handler:
    """The one handler behind every Twilio path (see the module docstring for the order of checks)."""
    routes = table or RouteTable()

    async def handle(request: web.Request) -> web.StreamResponse:
        runtime: AccountRuntime | None = None
        registry = state.registry  # replaced on reset: read it per request
        try:
            if not state.base_url_known:
                registry.public_base_url = f"{request.scheme}://{request.host}"
                state.base_url_known = True
            path = request.path
            methods, ids = routes.match(path)
            if methods is None:
                raise not_found(path)
            method = request.method
            route = methods.get(method)
            if route is None:
                raise method_not_allowed(method, path, allow=methods)
            headers = request.headers
            header = headers.get("Authorization")
            known = state.principals.get(header) if header is not None else None
            if known is None:
                known = _authenticate(state, header)
            principal, runtime = known
            if principal.permissions is not None and not route.allowed(principal.permissions):
                raise permission_missing(route.permission)
            limiter = runtime.limiter
            admission = limiter.admit(route.family)  # raises 429 / 20429 before anything is processed
            try:
                fault = await _fault(request, runtime, route.family, method) if runtime.decide else None
                if fault == "reset_before":
                    response = None
                else:
                    if method == "POST":
                        body = await read_body(request, state.read_timeout_s)
                        params = _form(body, headers.get("Content-Type")) if body else _EMPTY
                    else:
                        params = _query(request)
                    result = route.call(runtime.account, ids, params, headers.get("If-Match"))
                    if method != "GET":
                        state.after_create()
                    events = state.registry.drain_callbacks()
                    if events:
                        state.submit(events)
                    response = None if fault == "reset_after_commit" else _response(result, admission.headers)
            except ApiError as error:
                if admission.headers:
                    raise ApiError(
                        error.status, error.code, error.message, {**admission.headers, **error.headers}
                    ) from None
                raise
            finally:
                limiter.release(admission)
        except ApiError as error:
            response = error_response(error)
        except ConnectionResetError:
            response = None  # the client went away mid-request (e.g. was killed): a dropped connection, not a bug
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            state.unexpected_errors += 1
            response = error_response(internal_error())
        # Each request is counted once: on its account, or app-wide when no account was known (401, 404, 405).
        counters = state.counters if runtime is None else runtime.counters
        if response is None:
            counters.dropped += 1
            return _drop(request)
        counters.count(response.status)
        return response

    async def _fault(request: web.Request, runtime: AccountRuntime, family: str, method: str) -> str | None:
        """The fault decision for an admitted request: sleep its latency (holding the concurrency slot, as the
        service does), raise its 5xx, or name the reset to do ("reset_before", "reset_after_commit")."""
        decision = state.faults.decide(runtime.config, family, method)
        kind = decision.kind
        if kind == "reset_before":
            return kind
        if decision.latency_s > 0:
            await asyncio.sleep(decision.latency_s)
        if kind == "error_5xx":
            raise internal_error()
        return kind if kind == "reset_after_commit" else None

    return handle


def _authenticate(state: MockState, header: str | None) -> tuple[Principal, AccountRuntime]:
    """Check credentials with the registry; remember the verdict for this exact header (cleared on reset).

    Accounts and keys are only ever removed by a reset, which empties the cache, so a remembered success stays true.
    """
    username, password = basic_credentials(header)
    principal = state.registry.authenticate(username, password)
    runtime = state.accounts.get(principal.account.sid) if principal is not None else None
    if principal is None or runtime is None:
        raise authenticate()
    if header is not None and len(state.principals) < PRINCIPAL_CACHE_LIMIT:
        state.principals[header] = (principal, runtime)
    return principal, runtime


def _query(request: web.Request) -> Params:
    raw = request.rel_url.raw_query_string
    return parse_pairs(raw) if raw else _EMPTY


# --- media -------------------------------------------------------------------------------------------------------


def _head(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(64)


def media_handler(state: MockState) -> Handler:
    """GET /__mock__/media/{AC…}/{GT…}?Expires=&Signature= → the transcript's audio; the signature is the credential.

    A transcript made from fetched media serves those bytes (Content-Type sniffed from them); one whose media was
    never fetched (`media.fetch` off) serves a generated two-tone WAV.
    """
    from mock_server._media._host import sniff_content_type

    async def handle(request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        try:
            data = state.registry.media(
                request.match_info["account_sid"],
                request.match_info["sid"],
                query.get("Expires"),
                query.get("Signature"),
            )
        except ApiError as error:
            return error_response(error)
        if isinstance(data, str):
            try:
                head = await asyncio.to_thread(_head, data)
            except OSError:
                return error_response(not_found(request.path))
            return web.FileResponse(data, headers={"Content-Type": sniff_content_type(head)})
        return web.Response(body=data, content_type="audio/wav")

    return handle
