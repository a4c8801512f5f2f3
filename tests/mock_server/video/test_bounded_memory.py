"""Recording and composing stream in blocks: a long track never sits in memory as one array (numpy reports its
allocations to tracemalloc, so the peak below counts every sample buffer the mock's code makes)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from mock_server._video._compose import SourceTrack, compose
from mock_server._video._room_body import ParticipantPlan, SpeechSegment
from mock_server._video._speech import RATE
from mock_server._video._tracks import write_track

SECONDS = 180.0
WHOLE_TRACK_BYTES = int(SECONDS * RATE * 4)  # one float32 array of the whole track: 34.6 MB
PEAK_LIMIT = 4 * 1024 * 1024  # measured: ~1.9 MB recording, ~0.7 MB composing


def test_three_minutes_are_recorded_and_composed_with_a_few_megabytes(tmp_path: Path) -> None:
    speech = (SpeechSegment(1.0, None, SECONDS - 2.0, 0.5),)
    plans = [
        ParticipantPlan(name, start, start + SECONDS, None, None, speech) for name, start in (("a", 0.0), ("b", 0.0))
    ]
    warm = ParticipantPlan("warm", 0.0, 1.0, None, None, (SpeechSegment(0.0, None, 0.5, 0.5),))
    write_track(warm, None, str(tmp_path / "warm.mka"))  # the packaged utterances, cached once per process
    tracemalloc.start()
    try:
        written = [write_track(p, None, str(tmp_path / f"{p.identity}.mka")) for p in plans]
        _, record_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        tracks = [SourceTrack(w.path, 0, round(SECONDS * RATE)) for w in written]
        result = compose(tracks, True, "webm", str(tmp_path / "mix.webm"))
        _, compose_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.seconds == SECONDS
    assert record_peak < PEAK_LIMIT < WHOLE_TRACK_BYTES, record_peak
    assert compose_peak < PEAK_LIMIT, compose_peak
