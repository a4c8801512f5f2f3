"""The pure parts of compositions: which stretches of the room are kept (Twilio's trim rules) and which tracks
`AudioSources` / `AudioSourcesExcluded` name."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server._errors import ApiError
from mock_server._video._sources import Track, check_sources, select_tracks
from mock_server._video._timeline import kept_spans, output_position, total_length

intervals = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(1, 5_000)).map(lambda t: (t[0], t[0] + t[1])), min_size=1, max_size=8
)


def covered(spans: list[tuple[int, int]], point: int) -> bool:
    return any(begin <= point < end for begin, end in spans)


@given(intervals)
def test_trimmed_spans_are_the_union_of_the_tracks_without_any_gap(tracks: list[tuple[int, int]]) -> None:
    spans = kept_spans(tracks, trim=True)
    assert spans == sorted(spans)
    assert all(end < next_begin for (_, end), (next_begin, _) in itertools.pairwise(spans))  # disjoint
    union = {p for begin, end in tracks for p in range(begin, end)}
    assert total_length(spans) == len(union)
    assert output_position(spans, min(b for b, _ in tracks)) == 0  # the initial gap is always removed
    positions = [output_position(spans, p) for p in sorted(union)]
    assert positions == list(range(len(union)))  # every kept sample, in order, one after the other


@given(intervals)
def test_untrimmed_spans_keep_later_gaps_but_not_the_initial_one(tracks: list[tuple[int, int]]) -> None:
    first, last = min(b for b, _ in tracks), max(e for _, e in tracks)
    spans = kept_spans(tracks, trim=False)
    assert spans == [(first, last)]
    for begin, _ in tracks:
        assert output_position(spans, begin) == begin - first  # a late joiner is placed at its join minus the gap


def test_a_gap_between_tracks_is_removed_only_with_trim() -> None:
    tracks = [(100, 300), (500, 800)]
    assert kept_spans(tracks, trim=True) == [(100, 300), (500, 800)]
    assert output_position(kept_spans(tracks, trim=True), 500) == 200
    assert output_position(kept_spans(tracks, trim=True), 400) is None  # in the removed gap
    assert output_position(kept_spans(tracks, trim=False), 500) == 400
    assert kept_spans([], trim=True) == []


ROOM = [
    Track("RT" + "1" * 32, "PA" + "a" * 32, "student"),
    Track("RT" + "2" * 32, "PA" + "b" * 32, "studentTeam"),
    Track("RT" + "3" * 32, "PA" + "c" * 32, "teacher"),
    Track("RT" + "4" * 32, "PA" + "c" * 32, "teacher screen"),
]


@pytest.mark.parametrize(
    ("included", "excluded", "names"),
    [
        (["*"], [], ["student", "studentTeam", "teacher", "teacher screen"]),
        (["student*"], [], ["student", "studentTeam"]),
        (["*Team"], [], ["studentTeam"]),
        (["t*r"], [], ["teacher"]),
        (["*e*"], ["*screen"], ["student", "studentTeam", "teacher"]),
        (["PA" + "c" * 32], [], ["teacher", "teacher screen"]),  # a participant's every track
        (["RT" + "2" * 32, "teacher"], [], ["studentTeam", "teacher"]),
        (["*"], ["RT" + "1" * 32, "PA" + "c" * 32], ["studentTeam"]),
        (["Student"], [], []),  # names are case-sensitive
        (["student.*"], [], []),  # only * is special: the rest is literal
        ([], [], []),
    ],
)
def test_sources_name_tracks_by_wildcard_name_rt_or_pa(
    included: list[str], excluded: list[str], names: list[str]
) -> None:
    assert [t.track_name for t in select_tracks(ROOM, included, excluded)] == names


@pytest.mark.parametrize("bad", ["", "   ", "x" * 129, "tab\there"])
def test_a_source_twilio_could_not_mean_is_refused_naming_the_parameter(bad: str) -> None:
    with pytest.raises(ApiError) as caught:
        check_sources("AudioSourcesExcluded", ["ok", bad])
    assert (caught.value.status, caught.value.code) == (400, 20001)
    assert "AudioSourcesExcluded" in caught.value.message
    assert check_sources("AudioSources", ["*", "a" * 128]) == ["*", "a" * 128]
