"""After answering 202 the mock fetches `media_url` once, off the request path, and the transcript's fate follows
what it got: real HTTP over loopback to a media server on a random port, a fake analyser in the thread pool.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import pytest

from mock_server._clock import ManualClock
from mock_server._model import Account
from tests.mock_server.media_support import GatedAnalyser, fake_analyse, media_server, settle
from tests.mock_server.support import Api

FETCH = {"media": {"fetch": True}, "lifecycle": {"mode": "immediate"}}


async def _create(api: Api, url: str, customer_key: str | None = "k1") -> dict[str, Any]:
    form = {"ServiceSid": api.state.dev_service_sid, "Channel": json.dumps({"media_properties": {"media_url": url}})}
    if customer_key is not None:
        form["CustomerKey"] = customer_key
    r = await api.call("POST", "/v2/Transcripts", api.dev, data=form)
    assert r.status == 202, r.body
    return dict(r.body)


def _account(api: Api) -> Account:
    return api.state.dev_account


async def _final(api: Api, sid: str) -> dict[str, Any]:
    account = _account(api)
    await settle(lambda: not account.transcripts[sid].media_pending)
    r = await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)
    return dict(r.body)


async def _alerts(api: Api) -> list[dict[str, Any]]:
    r = await api.control("GET", f"/__mock__/accounts/{api.dev.sid}/alerts")
    assert r.status == 200
    return list(r.body)


async def test_a_reachable_wav_completes_with_its_real_duration_and_its_analysis_on_the_record(make_api: Any) -> None:
    async with media_server() as media:
        api: Api = await make_api(FETCH, analyse=fake_analyse)
        created = await _create(api, media.url("/ok.wav"))
        assert created["status"] == "queued"  # answered before anything was fetched
        done = await _final(api, created["sid"])
        assert done["status"] == "completed"
        assert done["duration"] == 3  # the WAV is 3 s long (invented lengths were 30-600 s)
        record = _account(api).transcripts[created["sid"]]
        assert record.analysis is not None
        assert (record.analysis.channels, record.analysis.sample_rate) == (2, 16_000)
        assert [s.channel for s in record.analysis.segments] == [1, 2]
        assert media.hits("/ok.wav") == 1
        stats = (await api.control("GET", f"/__mock__/accounts/{api.dev.sid}/stats")).body
        assert (stats["media_fetched"], stats["media_failed"], stats["alerts"]) == (1, 0, 0)
        assert await _alerts(api) == []


async def test_the_media_is_fetched_once_without_credentials_even_when_the_url_has_userinfo(make_api: Any) -> None:
    async with media_server() as media:
        api: Api = await make_api(FETCH, analyse=fake_analyse)
        url = media.url("/ok.wav").replace("http://", "http://user:pw@")
        created = await _create(api, url)
        assert (await _final(api, created["sid"]))["status"] == "completed"
        for _ in range(5):
            await api.call("GET", f"/v2/Transcripts/{created['sid']}", api.dev)
        assert media.hits("/ok.wav") == 1  # once, never again, whatever the polling
        headers = media.requests[0][1]
        assert "Authorization" not in headers
        assert "Cookie" not in headers


async def test_the_media_subresource_serves_the_bytes_the_transcript_was_made_from(make_api: Any) -> None:
    async with media_server() as media:
        api: Api = await make_api(FETCH, analyse=fake_analyse)
        created = await _create(api, media.url("/ok.wav"))
        await _final(api, created["sid"])
        link = (await api.call("GET", f"/v2/Transcripts/{created['sid']}/Media", api.dev)).body["media_url"]
        path = link.split("://", 1)[1].split("/", 1)[1]
        async with api.client.get("/" + path) as r:
            assert r.status == 200
            assert r.content_type == "audio/wav"
            assert await r.read() == media.wav
        assert (await api.call("DELETE", f"/v2/Transcripts/{created['sid']}", api.dev)).status == 204


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("path", "media", "code", "said"),
    [
        ("/status/403", {}, 17553, "HTTP 403 Forbidden"),
        ("/status/404", {}, 17552, "HTTP 404 Not Found"),
        ("/status/500", {}, 17551, "HTTP 500"),
        ("/status/204", {}, 17551, "HTTP 204"),
        ("/slow", {"timeout_s": 0.3}, 17551, "did not finish within 0.3 s"),
        ("/big", {"max_bytes": 200_000}, 17551, "more than the 200000 allowed"),
        ("/stream", {"max_bytes": 10_000}, 17551, "more than the 10000 bytes allowed"),
        ("/redirect/6", {}, 17550, "more than 5 redirects"),
        ("/redirect/1", {"max_redirects": 0}, 17550, "more than 0 redirects"),
        ("/to-ftp", {}, 17550, "http and https only"),
        ("/html", {}, 95104, "Invalid media type"),
    ],
)
async def test_each_fetch_failure_fails_the_transcript_with_its_code_and_an_alert(
    make_api: Any, path: str, media: dict[str, Any], code: int, said: str
) -> None:
    async with media_server() as server:
        api: Api = await make_api({**FETCH, "media": {"fetch": True, **media}}, analyse=fake_analyse)
        url = server.url(path) + "?X-Amz-Signature=s3cr3t&X-Amz-Expires=60#frag"
        created = await _create(api, url, customer_key="call-7")
        done = await _final(api, created["sid"])
        assert done["status"] == "failed"
        assert done["duration"] == 0
        [alert] = await _alerts(api)
        assert alert["code"] == code
        assert said in alert["message"]
        assert alert["transcript_sid"] == created["sid"]
        assert alert["customer_key"] == "call-7"
        assert alert["media_url"] == server.url(path)  # scrubbed: no query, no fragment
        assert "s3cr3t" not in json.dumps(alert)
        assert alert["date_created"].endswith("Z")
        stats = (await api.control("GET", "/__mock__/stats")).body
        assert (stats["media_failed"], stats["alerts"], stats["transcripts_failed"]) == (1, 1, 1)
        sentences = (await api.call("GET", f"/v2/Transcripts/{created['sid']}/Sentences", api.dev)).body
        assert sentences["sentences"] == []


async def test_redirects_are_followed_up_to_the_limit(make_api: Any) -> None:
    async with media_server() as media:
        api: Api = await make_api(FETCH, analyse=fake_analyse)
        created = await _create(api, media.url("/redirect/5"))
        assert (await _final(api, created["sid"]))["status"] == "completed"
        assert [p for p, _ in media.requests] == [f"/redirect/{n}" for n in (5, 4, 3, 2, 1)] + ["/ok.wav"]


@pytest.mark.parametrize(
    ("url", "code", "title", "said"),
    [
        ("http://no-such-host.invalid/a.wav?sig=s3cr3t", 17550, "Invalid media URL",
         "cannot resolve the host no-such-host.invalid"),
        ("http://127.0.0.1:CLOSED/a.wav?sig=s3cr3t", 17551, "Failed to download audio file",
         "cannot connect to http://127.0.0.1:"),
    ],
)  # fmt: skip
async def test_an_unresolvable_host_is_17550_and_a_refused_connection_17551(
    make_api: Any, url: str, code: int, title: str, said: str
) -> None:
    url = url.replace("CLOSED", str(_closed_port()))
    api: Api = await make_api(FETCH, analyse=fake_analyse)
    created = await _create(api, url, customer_key=None)
    assert (await _final(api, created["sid"]))["status"] == "failed"
    [alert] = await _alerts(api)
    assert alert["code"] == code
    assert alert["message"].startswith(f"{title}: ")
    assert said in alert["message"]
    assert alert["customer_key"] is None
    assert alert["media_url"] == url.split("?")[0]


async def test_the_lifecycle_delay_starts_when_the_media_has_been_heard(make_api: Any) -> None:
    clock = ManualClock()
    config = {"media": {"fetch": True}, "lifecycle": {"mode": "after_seconds", "seconds": 10}}
    gated = GatedAnalyser()
    async with media_server() as media:
        api: Api = await make_api(config, analyse=gated, clock=clock)
        sid = (await _create(api, media.url("/ok.wav")))["sid"]
        await settle(gated.entered.is_set)
        assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "in-progress"
        clock.advance(60)  # a long analysis: the lifecycle has not started, so nothing completes
        assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "in-progress"
        gated.release()
        await settle(lambda: not _account(api).transcripts[sid].media_pending)
        clock.advance(9)
        assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "in-progress"
        clock.advance(1)
        done = (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body
        assert (done["status"], done["duration"]) == ("completed", 3)


async def test_polls_while_the_media_is_processed_do_not_count_for_after_polls(make_api: Any) -> None:
    gated = GatedAnalyser()
    config = {"media": {"fetch": True}, "lifecycle": {"mode": "after_polls", "polls": 2}}
    async with media_server() as media:
        api: Api = await make_api(config, analyse=gated)
        sid = (await _create(api, media.url("/ok.wav")))["sid"]
        await settle(gated.entered.is_set)
        for _ in range(5):
            assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "in-progress"
        gated.release()
        await settle(lambda: not _account(api).transcripts[sid].media_pending)
        assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "in-progress"
        assert (await api.call("GET", f"/v2/Transcripts/{sid}", api.dev)).body["status"] == "completed"


async def test_analysis_runs_in_the_thread_pool_and_the_api_keeps_answering(make_api: Any) -> None:
    gated = GatedAnalyser()
    async with media_server() as media:
        api: Api = await make_api(FETCH, analyse=gated)
        sid = (await _create(api, media.url("/ok.wav")))["sid"]
        await settle(gated.entered.is_set)
        assert gated.threads[0].startswith("cintel-mock-media")
        assert gated.threads[0] != threading.current_thread().name
        for i in range(20):  # the analysis is blocked, the event loop is not
            r = await asyncio.wait_for(api.call("GET", f"/v2/Transcripts/{sid}", api.dev), 2)
            assert r.body["status"] == "in-progress", i
        other = await _create(api, media.url("/status/404"), customer_key="k2")  # other jobs are not held up
        assert (await _final(api, other["sid"]))["status"] == "failed"
        gated.release()
        assert (await _final(api, sid))["status"] == "completed"


async def test_a_transcript_deleted_while_its_media_is_processed_is_forgotten(make_api: Any) -> None:
    gated = GatedAnalyser()
    async with media_server() as media:
        api: Api = await make_api(FETCH, analyse=gated)
        sid = (await _create(api, media.url("/ok.wav")))["sid"]
        await settle(gated.entered.is_set)
        assert (await api.call("DELETE", f"/v2/Transcripts/{sid}", api.dev)).status == 204
        gated.release()
        await settle(lambda: not api.state.media.tasks)
        stats = (await api.control("GET", f"/__mock__/accounts/{api.dev.sid}/stats")).body
        assert (stats["media_fetched"], stats["media_failed"], stats["transcripts_deleted"]) == (0, 0, 1)
        assert await _alerts(api) == []
        assert api.state.unexpected_errors == 0


async def test_a_reset_cancels_media_jobs_and_the_fresh_mock_is_clean(make_api: Any) -> None:
    gated = GatedAnalyser()
    async with media_server() as media:
        api: Api = await make_api(FETCH, analyse=gated)
        await _create(api, media.url("/slow"))
        await settle(lambda: media.hits("/slow") == 1)
        assert api.state.media.tasks
        assert (await api.control("POST", "/__mock__/reset")).status == 200
        await settle(lambda: not api.state.media.tasks)
        stats = (await api.control("GET", "/__mock__/stats")).body
        assert (stats["media_fetched"], stats["media_failed"], stats["alerts"]) == (0, 0, 0)
        gated.release()


async def test_with_fetch_off_nothing_is_fetched_and_transcripts_complete_as_before(make_api: Any) -> None:
    async with media_server() as media:
        api: Api = await make_api({"media": {"fetch": False}, "lifecycle": {"mode": "immediate"}}, analyse=fake_analyse)
        created = await _create(api, media.url("/status/404"))
        assert created["status"] == "completed"
        await asyncio.sleep(0.1)
        assert media.requests == []
        assert (await api.control("GET", "/__mock__/stats")).body["media_fetched"] == 0


async def test_fetching_can_be_switched_per_account(make_api: Any) -> None:
    async with media_server() as media:
        api: Api = await make_api({"media": {"fetch": False}, "lifecycle": {"mode": "immediate"}}, analyse=fake_analyse)
        listening = await api.account(media={"fetch": True}, lifecycle={"mode": "immediate"})
        service = await api.service(listening)
        form = {"ServiceSid": service, "Channel": json.dumps({"media_properties": {"media_url": media.url("/ok.wav")}})}
        r = await api.call("POST", "/v2/Transcripts", listening, data=form)
        assert r.body["status"] == "queued"
        account = api.state.accounts[listening.sid].account
        await settle(lambda: account.transcripts[r.body["sid"]].status == "completed")
        assert media.hits("/ok.wav") == 1


@pytest.mark.parametrize(
    "url",
    ["http://xn--/a.wav", "http://a..b/x", "http://256.256.256.256/x", "http://[::1]:1/x", "http://%zz/x",
     "http://" + "a" * 300 + "/x", "https://127.0.0.1:1/x"],
)  # fmt: skip
async def test_odd_hosts_fail_with_a_download_code_never_as_an_unexpected_error(
    make_api: Any, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    api: Api = await make_api(FETCH, analyse=fake_analyse)
    created = await _create(api, url + "?sig=s3cr3t")
    assert (await _final(api, created["sid"]))["status"] == "failed"
    [alert] = await _alerts(api)
    assert alert["code"] in (17550, 17551)  # unresolvable, or a host that refuses
    assert len(alert["message"]) < 200
    assert "s3cr3t" not in alert["message"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
