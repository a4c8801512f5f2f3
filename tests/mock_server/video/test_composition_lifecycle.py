"""Composition status: enqueued → processing → completed | failed, driven by the account's lifecycle config and the
mock's (injected) clock, and the signed, form-encoded status callbacks a receiver on a loopback port gets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from mock_server import ManualClock
from tests.mock_server.support import Creds
from tests.mock_server.video.test_compositions_api import room_and_tracks
from tests.mock_server.video.video_support import Callback, CallbackReceiver, VideoApi, signed_by

EVERY = {"AccountSid", "RoomSid", "CompositionSid", "CompositionUri", "StatusCallbackEvent", "Timestamp"}


async def status_of(api: VideoApi, creds: Creds, sid: str) -> str:
    r = await api.call("GET", f"/v1/Compositions/{sid}", creds)
    assert r.status == 200, r.body
    return str(r.body["status"])


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Wait (bounded) for something the mock does in its worker threads or on its ticker."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - the state is the mock's, read over HTTP: no event to wait on
            await asyncio.sleep(0.02)


async def by_event(receiver: CallbackReceiver, count: int) -> dict[str, Callback]:
    """The next `count` callbacks by event: each is its own delivery, so they may arrive in any order (as Twilio's)."""
    got: dict[str, Callback] = {}
    for _ in range(count):
        callback = await receiver.next()
        got[callback.params["StatusCallbackEvent"]] = callback
    assert len(got) == count, sorted(got)
    return got


async def fetches_do_not_count(api: VideoApi, creds: Creds, sid: str) -> str:
    """The status as the list shows it (a list is not a poll, so `after_polls` is not moved by looking)."""
    r = await api.call("GET", "/v1/Compositions", creds)
    return str(next(c["status"] for c in r.body["compositions"] if c["sid"] == sid))


async def test_after_seconds_follows_the_clock(make_video_api: Any) -> None:
    clock = ManualClock()
    api: VideoApi = await make_video_api({"lifecycle": {"mode": "after_seconds", "seconds": 8}}, clock=clock)
    dev = api.dev
    room_sid, _ = await room_and_tracks(api, dev)
    created = await api.compose(dev, [("RoomSid", room_sid), ("AudioSources", "*")])
    assert created["status"] == "enqueued"
    assert created["date_completed"] is None
    clock.advance(1.9)
    await asyncio.sleep(0.15)  # the ticker has looked at least twice: nothing was due
    assert await status_of(api, dev, created["sid"]) == "enqueued"
    clock.advance(0.2)  # a quarter of 8 s: processing (the media is being made)
    await eventually(lambda: _is(api, dev, created["sid"], "processing"))
    r = await api.get(f"/v1/Compositions/{created['sid']}/Media", dev)
    assert (r.status, r.body["code"]) == (404, 20404)  # not available until completed
    await asyncio.sleep(0.3)  # long enough for the media of a 5 s composition to be made
    assert await status_of(api, dev, created["sid"]) == "processing"  # made, but not due before 8 s
    clock.advance(6.0)
    await eventually(lambda: _is(api, dev, created["sid"], "completed"))
    assert (await api.get(f"/v1/Compositions/{created['sid']}/Media", dev)).status == 302


async def _is(api: VideoApi, creds: Creds, sid: str, status: str) -> bool:
    return await status_of(api, creds, sid) == status


async def test_after_polls_starts_at_the_first_fetch_and_completes_at_the_nth(make_video_api: Any) -> None:
    api: VideoApi = await make_video_api({"lifecycle": {"mode": "after_polls", "polls": 3}})
    dev = api.dev
    room_sid, _ = await room_and_tracks(api, dev)
    created = await api.compose(dev, [("RoomSid", room_sid), ("AudioSources", "*")])
    assert created["status"] == "enqueued"
    await asyncio.sleep(0.1)
    assert await fetches_do_not_count(api, dev, created["sid"]) == "enqueued"
    assert await status_of(api, dev, created["sid"]) == "processing"  # poll 1
    record = api.state.video.accounts[dev.sid].compositions[created["sid"]]

    async def made() -> bool:
        return record.encoded

    await eventually(made)  # the media is made in a worker thread meanwhile
    assert await status_of(api, dev, created["sid"]) == "processing"  # poll 2
    assert await status_of(api, dev, created["sid"]) == "completed"  # poll 3


async def test_a_composition_of_an_in_progress_room_waits_for_the_room_to_end(video_api: VideoApi) -> None:
    dev = video_api.dev
    room_sid, _ = await room_and_tracks(video_api, dev, status="in-progress")
    created = await video_api.compose(dev, [("RoomSid", room_sid), ("AudioSources", "*")])
    assert created["status"] == "enqueued"
    await asyncio.sleep(0.1)
    assert await status_of(video_api, dev, created["sid"]) == "enqueued"
    r = await video_api.call("POST", f"/v1/Rooms/{room_sid}", dev, data={"Status": "completed"})
    assert r.status == 202
    done = await video_api.wait_composition(dev, created["sid"])
    assert done["status"] == "completed"


async def test_callbacks_are_signed_form_posts_started_then_available(
    video_api: VideoApi, receiver: CallbackReceiver
) -> None:
    dev = video_api.dev
    url = receiver.url
    room_sid, _ = await room_and_tracks(video_api, dev)
    created = await video_api.compose(
        dev, [("RoomSid", room_sid), ("AudioSources", "*"), ("Format", "mp4"), ("StatusCallback", url)]
    )
    assert created["status_callback"] == url
    assert created["status_callback_method"] == "POST"
    got = await by_event(receiver, 2)
    started, available = got["composition-started"], got["composition-available"]
    for callback in (started, available):
        assert callback.method == "POST"
        assert callback.content_type == "application/x-www-form-urlencoded"
        assert signed_by(callback, dev.token)
        assert not signed_by(callback, "another-token")
        assert callback.params["AccountSid"] == dev.sid
        assert callback.params["RoomSid"] == room_sid
        assert callback.params["CompositionSid"] == created["sid"]
        assert callback.params["CompositionUri"] == f"/v1/Compositions/{created['sid']}"
    assert started.params["StatusCallbackEvent"] == "composition-started"
    assert set(started.params) == EVERY
    assert available.params["StatusCallbackEvent"] == "composition-available"
    assert set(available.params) == EVERY | {"MediaUri", "Duration", "Size"}
    done = (await video_api.call("GET", f"/v1/Compositions/{created['sid']}", dev)).body
    assert available.params["MediaUri"] == f"/v1/Compositions/{created['sid']}/Media"
    assert (int(available.params["Size"]), int(available.params["Duration"])) == (done["size"], done["duration"])
    assert available.params["Timestamp"].endswith("Z")

    async def both_counted() -> bool:  # counted once the receiver's answer has been read
        stats = (await video_api.control("GET", f"/__mock__/accounts/{dev.sid}/stats")).body
        return bool(stats["composition_callbacks_sent"] == 2)

    await eventually(both_counted)


async def test_get_callbacks_carry_the_parameters_in_the_signed_query(
    video_api: VideoApi, receiver: CallbackReceiver
) -> None:
    dev = video_api.dev
    url = receiver.url
    room_sid, _ = await room_and_tracks(video_api, dev)
    form = [("RoomSid", room_sid), ("AudioSources", "teacher"), ("StatusCallback", url + "?tenant=a%20b"),
            ("StatusCallbackMethod", "get")]  # fmt: skip
    created = await video_api.compose(dev, form)
    assert created["status_callback_method"] == "GET"
    got = await by_event(receiver, 2)
    assert set(got) == {"composition-started", "composition-available"}
    for callback in got.values():
        assert callback.method == "GET"
        assert callback.params["tenant"] == "a b"
        assert signed_by(callback, dev.token)


async def test_failure_rate_fails_compositions_with_a_failed_callback(
    make_video_api: Any, receiver: CallbackReceiver
) -> None:
    api: VideoApi = await make_video_api({"lifecycle": {"mode": "immediate", "failure_rate": 1.0}})
    dev = api.dev
    url = receiver.url
    room_sid, _ = await room_and_tracks(api, dev)
    created = await api.compose(dev, [("RoomSid", room_sid), ("AudioSources", "*"), ("StatusCallback", url)])
    done = await api.wait_composition(dev, created["sid"])
    assert (done["status"], done["size"], done["duration"]) == ("failed", 0, 0)
    assert (await api.get(f"/v1/Compositions/{created['sid']}/Media", dev)).status == 404
    got = await by_event(receiver, 2)
    assert set(got) == {"composition-started", "composition-failed"}
    failed = got["composition-failed"]
    assert set(failed.params) == EVERY | {"FailedOperation", "ErrorMessage"}
    assert failed.params["ErrorMessage"].startswith("53626")
    assert signed_by(failed, dev.token)
    stats = (await api.control("GET", f"/__mock__/accounts/{dev.sid}/stats")).body
    assert stats["compositions_failed"] == 1


async def test_a_composition_of_deleted_recordings_fails_with_53628(
    video_api: VideoApi, receiver: CallbackReceiver
) -> None:
    dev = video_api.dev
    room_sid, tracks = await room_and_tracks(video_api, dev)
    rec = tracks["teacher"]["recording_sid"]
    assert (await video_api.call("DELETE", f"/v1/Recordings/{rec}", dev)).status == 204
    form = [("RoomSid", room_sid), ("AudioSources", "*"), ("StatusCallback", receiver.url)]
    created = await video_api.compose(dev, form)
    assert (await video_api.wait_composition(dev, created["sid"]))["status"] == "failed"
    failed = (await by_event(receiver, 2))["composition-failed"]
    assert failed.params["ErrorMessage"].startswith("53628: Room recordings deleted")
    assert rec in failed.params["ErrorMessage"]


async def test_webhook_faults_apply_to_composition_callbacks(make_video_api: Any, receiver: CallbackReceiver) -> None:
    api: VideoApi = await make_video_api({"lifecycle": {"mode": "immediate"}, "webhook_faults": {"drop": 1.0}})
    dev = api.dev
    url = receiver.url
    room_sid, _ = await room_and_tracks(api, dev)
    created = await api.compose(dev, [("RoomSid", room_sid), ("AudioSources", "*"), ("StatusCallback", url)])
    await api.wait_composition(dev, created["sid"])
    stats = (await api.control("GET", f"/__mock__/accounts/{dev.sid}/stats")).body
    assert (stats["composition_callbacks_dropped"], stats["composition_callbacks_sent"]) == (2, 0)
    assert receiver.received.empty()
