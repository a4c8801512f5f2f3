"""The mock throughput benchmark's wrk driver: Lua scripts that send what they say, summaries that count what
happened, and CPU figures that are the server's and wrk's own. Each wrk run is one second, on loopback."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from benchmarks import _wrk

needs_wrk = pytest.mark.skipif(_wrk.wrk_path() is None, reason="wrk is not installed (Debian: apt-get install wrk)")


@pytest.mark.parametrize("text", ['a"b', "a\\b", "a\nb", "é"])
def test_a_lua_string_refuses_what_it_would_have_to_escape(text: str) -> None:
    with pytest.raises(ValueError, match="not a plain ASCII Lua string"):
        _wrk.get_script(["/x"], {"Authorization": text})


def _recording_app(status: int = 202) -> web.Application:
    """Answers every request with `status`; GET /seen tells what the requests before it carried."""
    seen: list[dict[str, object]] = []

    async def record(request: web.Request) -> web.Response:
        form = dict(parse_qsl((await request.read()).decode()))
        seen.append({"method": request.method, "path": request.path, "auth": request.headers.get("Authorization"),
                     "type": request.headers.get("Content-Type"), "form": form})  # fmt: skip
        return web.Response(status=status, text="{}", content_type="application/json")

    async def report(request: web.Request) -> web.Response:
        return web.json_response(seen[:50])

    app = web.Application()
    app.router.add_get("/seen", report)
    app.router.add_route("*", "/{tail:.*}", record)
    return app


def _failing_app() -> web.Application:
    return _recording_app(status=500)


def _seen(server: _wrk.Server) -> list[dict[str, object]]:
    from urllib.request import urlopen

    with urlopen(f"{server.base_url}/seen", timeout=10) as answer:  # noqa: S310 - our own loopback server
        seen: list[dict[str, object]] = json.loads(answer.read())
    return seen


@needs_wrk
def test_wrk_posts_each_form_with_its_headers_and_counts_the_answers() -> None:
    cpus = _wrk.cores()
    with _wrk.pinned_server(_recording_app, cpus[0]) as server:
        bodies = ["A=1&B=x", "A=2&B=y"]
        script = _wrk.post_form_script("/v2/Transcripts", {"Authorization": "Basic dTpw"}, bodies)
        run = _wrk.run_wrk(server, script, seconds=1, connections=4, cpu=cpus[-1])
        seen = _seen(server)
    assert run.requests > 10
    assert run.errors == 0
    assert run.per_second > 0
    assert run.per_cpu_second > 0
    assert run.server_cpu_seconds > 0
    assert run.generator_cpu > 0
    assert {(s["method"], s["path"], s["auth"], s["type"]) for s in seen} == {
        ("POST", "/v2/Transcripts", "Basic dTpw", "application/x-www-form-urlencoded")
    }
    assert {json.dumps(s["form"], sort_keys=True) for s in seen} == {
        json.dumps({"A": "1", "B": "x"}),
        json.dumps({"A": "2", "B": "y"}),
    }


@needs_wrk
def test_wrk_cycles_over_the_paths_and_counts_error_statuses() -> None:
    with _wrk.pinned_server(_failing_app, None) as server:
        paths = [f"/v2/Transcripts/GT{i}" for i in range(3)]
        run = _wrk.run_wrk(server, _wrk.get_script(paths, {"Authorization": "x"}), seconds=1, connections=2)
        seen = _seen(server)
    assert run.requests > 0
    assert run.errors == run.requests  # every answer was a 500
    assert {(s["method"], s["path"]) for s in seen} == {("GET", path) for path in paths}
