"""What a user sees of a replay miss: the diff, not respx. respx raises a side effect's exception chained to its own
`SideEffectError` with a dozen of its frames; the cassette's transport raises it again without them."""

from __future__ import annotations

import json
import traceback

import httpx
import pytest

from harness.replay import ReplayMiss, parse_cassette, respx_router

pytest_plugins = ["pytester"]

CASSETTE = json.dumps({"version": 1, "exchanges": [
    {"id": 1, "at_ms": 0, "request": {"method": "GET", "url": "http://h/v2/Services/GA1"},
     "response": {"status": 200, "body": {"json": {"sid": "GA1"}}}},
    {"id": 2, "at_ms": 1, "request": {"method": "GET", "url": "http://h/v2/Transcripts/GT1"},
     "error": {"type": "ConnectError", "message": "recorded: connection refused"}},
]})  # fmt: skip


async def _raised(url: str) -> BaseException:
    router = respx_router(parse_cassette(CASSETTE, source="test.json"))
    async with httpx.AsyncClient(transport=router.transport()) as http:
        try:
            await http.get(url)
        except (ReplayMiss, httpx.ConnectError) as error:
            return error
    raise AssertionError(f"{url} was answered")


def _shown(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


async def test_a_miss_reaches_the_caller_without_respx_frames_or_respx_exceptions_chained() -> None:
    miss = await _raised("http://h/v2/Services/GA2")

    assert isinstance(miss, ReplayMiss)
    shown = _shown(miss)
    assert shown.count("Traceback (most recent call last)") == 1
    assert "/respx/" not in shown
    assert "SideEffectError" not in shown
    assert "direct cause" not in shown
    assert shown.rstrip().endswith("path: recorded /v2/Services/GA1, sent /v2/Services/GA2")


async def test_a_recorded_transport_error_is_raised_again_without_respx_in_its_traceback() -> None:
    error = await _raised("http://h/v2/Transcripts/GT1")

    assert isinstance(error, httpx.ConnectError)
    assert str(error) == "recorded: connection refused"
    assert "/respx/" not in _shown(error)


def test_a_users_test_that_misses_fails_on_the_diff_not_on_respx(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=f"""
        import asyncio
        import httpx
        from harness.replay import parse_cassette, respx_router

        def test_fetch():
            router = respx_router(parse_cassette({CASSETTE!r}))

            async def fetch():
                async with httpx.AsyncClient(transport=router.transport()) as http:
                    await http.get("http://h/v2/Services/GA2")

            asyncio.run(fetch())
    """)  # fmt: skip

    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:cintel", "--tb=long")

    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "ReplayMiss: the cassette has no answer for GET /v2/Services/GA2" in output
    assert "path: recorded /v2/Services/GA1, sent /v2/Services/GA2" in output
    assert "/respx/" not in output  # no frame of respx's (its name is in the plugin list and the user's code)
    assert "SideEffectError" not in output
