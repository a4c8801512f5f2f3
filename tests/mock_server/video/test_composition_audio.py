"""What a composition holds: the real mix of the selected tracks, trimmed as Twilio trims, in the format asked.

alice is in the room from 1 s to 3.5 s and says "hello" at 1.5 s; bob from 5 s to 8 s and says "yes" at 5.5 s.
The initial gap (before alice joins) is always removed; with Trim=false the gap between 3.5 s and 5 s stays as
silence, with Trim=true it goes too.
"""

from __future__ import annotations

import pytest

from mock_server._video._speech import RATE
from tests.mock_server.support import Creds
from tests.mock_server.video.video_support import VideoApi, decode, energy, locate, utterance_48k

TOLERANCE = 3 * RATE // 1000  # 3 ms: lossy codecs move a correlation peak by a few samples at most


async def two_speakers(api: VideoApi, creds: Creds) -> str:
    made = await api.room({
        "account_sid": creds.sid,
        "participants": [
            {"identity": "alice", "joined_s": 1.0, "left_s": 3.5, "track_name": "alice",
             "segments": [{"at_s": 1.5, "utterance": "hello", "gain": 0.6}]},
            {"identity": "bob", "joined_s": 5.0, "left_s": 8.0, "track_name": "bob",
             "segments": [{"at_s": 5.5, "utterance": "yes", "gain": 0.6}]},
        ],
    })  # fmt: skip
    return str(made["room_sid"])


async def composed(api: VideoApi, creds: Creds, form: list[tuple[str, str]]) -> tuple[dict[str, object], bytes]:
    created = await api.compose(creds, form)
    done = await api.wait_composition(creds, created["sid"])
    assert done["status"] == "completed", done
    return done, await api.media(creds, f"/v1/Compositions/{created['sid']}/Media")


@pytest.mark.parametrize("media_format", ["mp4", "webm"])
@pytest.mark.parametrize(("trim", "bob_at_s", "length_s"), [("false", 4.5, 7.0), ("true", 3.0, 5.5)])
async def test_speech_lands_where_twilio_puts_it(
    video_api: VideoApi, media_format: str, trim: str, bob_at_s: float, length_s: float
) -> None:
    dev = video_api.dev
    room_sid = await two_speakers(video_api, dev)
    form = [("RoomSid", room_sid), ("AudioSources", "*"), ("Format", media_format), ("Trim", trim)]
    done, data = await composed(video_api, dev, form)
    assert done["duration"] == round(length_s)
    start, samples = decode(data)
    assert start == 0.0
    assert abs(len(samples) - length_s * RATE) <= 1024  # AAC pads its last 1024-sample frame
    hello, yes = utterance_48k("hello"), utterance_48k("yes")
    assert abs(locate(samples, hello) - round(0.5 * RATE)) <= TOLERANCE  # 1.5 s minus the 1 s initial gap
    assert abs(locate(samples, yes) - round(bob_at_s * RATE)) <= TOLERANCE
    if trim == "false":
        assert energy(samples, 2.6, 3.9) < 1e-3  # the gap between them (3.5-5 s in the room) kept as silence


async def test_only_the_selected_tracks_are_mixed_and_the_gap_before_them_goes(video_api: VideoApi) -> None:
    dev = video_api.dev
    room_sid = await two_speakers(video_api, dev)
    done, data = await composed(video_api, dev, [("RoomSid", room_sid), ("AudioSources", "bob"), ("Trim", "false")])
    assert done["duration"] == 3
    _, samples = decode(data)
    assert abs(len(samples) - 3 * RATE) <= 1024
    assert abs(locate(samples, utterance_48k("yes")) - round(0.5 * RATE)) <= TOLERANCE  # bob's join is the start
    assert energy(samples, 0.0, 0.45) < 1e-3


async def test_overlapping_speakers_are_summed(video_api: VideoApi) -> None:
    dev = video_api.dev
    made = await video_api.room({
        "account_sid": dev.sid,
        "participants": [
            {"identity": "a", "joined_s": 0.0, "left_s": 3.0, "segments": [{"at_s": 0.5, "duration_s": 2.0}]},
            {"identity": "b", "joined_s": 0.0, "left_s": 3.0, "segments": [{"at_s": 0.5, "duration_s": 2.0}]},
            {"identity": "c", "joined_s": 0.0, "left_s": 3.0, "segments": []},
        ],
    })  # fmt: skip
    _, one = await composed(video_api, dev, [("RoomSid", made["room_sid"]), ("AudioSources", made["participants"][0]
                                              ["participant_sid"]), ("Format", "webm")])  # fmt: skip
    _, both = await composed(video_api, dev, [("RoomSid", made["room_sid"]), ("AudioSources", "*"), ("Format", "webm")])
    _, single = decode(one)
    _, mixed = decode(both)
    ratio = energy(mixed, 0.6, 2.4) / energy(single, 0.6, 2.4)
    assert 1.8 < ratio < 2.2  # the same speech twice, in phase: twice the amplitude
