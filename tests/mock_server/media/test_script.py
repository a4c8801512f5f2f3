"""Scripts and seeded words for the segments the mock hears (mock_server/_media/_script.py): the control-plane body
and its errors, the store's keys, and how lines, segments and words line up."""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server._media._pii import find_pii
from mock_server._media._pii_results import pii_intervals
from mock_server._media._script import (
    MAX_LINE_CHARS,
    MAX_LINES_PER_CHANNEL,
    WORDS_PER_SECOND,
    Script,
    ScriptedSentence,
    ScriptStore,
    SegmentLike,
    assign_text,
    parse_script,
    seeded_text,
    spread_words,
    url_key,
)

SHA = hashlib.sha256(b"media").hexdigest()
SEED = hashlib.sha256(b"media").digest()


@dataclass(frozen=True)
class Segment:
    """Shaped like the VAD's segments: read-only attributes are enough for the protocol."""

    channel: int
    start_s: float
    end_s: float


class TupleSegment(NamedTuple):
    channel: int
    start_s: float
    end_s: float


def test_a_body_keyed_by_hash() -> None:
    key, script = parse_script({"sha256": SHA.upper(), "channels": {"1": ["Hello  there ", "Bye"], "2": ["Hi"]}})
    assert key == f"sha256:{SHA}"
    assert script.channels == {1: ("Hello there", "Bye"), 2: ("Hi",)}  # whitespace collapsed, one line each
    assert script.as_json() == {"channels": {"1": ["Hello there", "Bye"], "2": ["Hi"]}}


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://bucket.s3.amazonaws.com/a/B.wav?X-Amz-Signature=abc#frag", "https://bucket.s3.amazonaws.com/a/B.wav"),
        ("HTTPS://User:Secret@Example.COM:8443/x.wav", "https://example.com:8443/x.wav"),
        ("http://127.0.0.1:9/m", "http://127.0.0.1:9/m"),
        ("http://[::1]:8080/m.wav?t=1", "http://[::1]:8080/m.wav"),
        ("https://example.com", "https://example.com/"),
    ],
)  # fmt: skip
def test_url_keys_keep_scheme_host_and_path_only(url: str, key: str) -> None:
    assert url_key(url) == key
    assert parse_script({"media_url": url, "channels": {"1": ["x"]}})[0] == f"url:{key}"


def _lines(n: int, text: str = "x") -> list[str]:
    return [text] * n


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ("x", "body"),
        ({"sha256": SHA, "channels": {"1": ["x"]}, "extra": 1}, "extra"),
        ({"channels": {"1": ["x"]}}, "sha256"),
        ({"sha256": SHA, "media_url": "https://a/b", "channels": {"1": ["x"]}}, "sha256"),
        ({"sha256": "abc", "channels": {"1": ["x"]}}, "sha256"),
        ({"sha256": SHA[:-1] + "g", "channels": {"1": ["x"]}}, "sha256"),
        ({"sha256": 5, "channels": {"1": ["x"]}}, "sha256"),
        ({"media_url": "ftp://example.com/a.wav", "channels": {"1": ["x"]}}, "media_url"),
        ({"media_url": "https:///a.wav", "channels": {"1": ["x"]}}, "media_url"),
        ({"media_url": "https://example.com:99999/a", "channels": {"1": ["x"]}}, "media_url"),
        ({"media_url": "https://example.com/" + "a" * 5000, "channels": {"1": ["x"]}}, "media_url"),
        ({"media_url": None, "channels": {"1": ["x"]}}, "media_url"),
        ({"sha256": SHA}, "channels"),
        ({"sha256": SHA, "channels": {}}, "channels"),
        ({"sha256": SHA, "channels": [["x"]]}, "channels"),
        ({"sha256": SHA, "channels": {"3": ["x"]}}, "channels.3"),
        ({"sha256": SHA, "channels": {"0": ["x"]}}, "channels.0"),
        ({"sha256": SHA, "channels": {"1": "x"}}, "channels.1"),
        ({"sha256": SHA, "channels": {"1": []}}, "channels.1"),
        ({"sha256": SHA, "channels": {"2": _lines(MAX_LINES_PER_CHANNEL + 1)}}, "channels.2"),
        ({"sha256": SHA, "channels": {"1": ["ok", ""]}}, "channels.1[1]"),
        ({"sha256": SHA, "channels": {"1": ["ok", "   "]}}, "channels.1[1]"),
        ({"sha256": SHA, "channels": {"1": [3]}}, "channels.1[0]"),
        ({"sha256": SHA, "channels": {"1": [None]}}, "channels.1[0]"),
        ({"sha256": SHA, "channels": {"2": ["x" * (MAX_LINE_CHARS + 1)]}}, "channels.2[0]"),
        ({"sha256": SHA, "channels": {"1": ["tab\there"]}}, "channels.1[0]"),
        ({"sha256": SHA, "channels": {"1": _lines(600, "x" * MAX_LINE_CHARS)}}, "channels"),
    ],
)  # fmt: skip
def test_bad_bodies_are_value_errors_naming_the_field(body: Any, field: str) -> None:
    with pytest.raises(ValueError, match=r"^(\S+):") as info:
        parse_script(body)
    assert str(info.value).split(":")[0] == field


def test_a_line_with_a_newline_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^channels\.1\[0\]: control characters"):
        parse_script({"sha256": SHA, "channels": {"1": ["two\nlines"]}})


def test_store_finds_by_hash_first_then_by_url_whatever_its_query() -> None:
    store = ScriptStore()
    by_url = store.put({"media_url": "https://h.example/a.wav?sig=1", "channels": {"1": ["by url"]}})
    assert by_url == "url:https://h.example/a.wav"
    store.put({"sha256": SHA, "channels": {"1": ["by hash"]}})
    assert store.get(media_url="https://H.example/a.wav?sig=2&exp=9") == Script({1: ("by url",)})
    assert store.get(sha256=SHA.upper(), media_url="https://h.example/a.wav") == Script({1: ("by hash",)})
    assert store.get(sha256="0" * 64, media_url="https://h.example/a.wav") == Script({1: ("by url",)})
    assert store.get(sha256="0" * 64, media_url="not a url") is None
    assert store.get() is None
    assert len(store) == 2


def test_store_replaces_refuses_when_full_and_clears() -> None:
    store = ScriptStore(max_scripts=2)
    a = store.put({"sha256": "a" * 64, "channels": {"1": ["one"]}})
    store.put({"sha256": "b" * 64, "channels": {"1": ["two"]}})
    store.put({"sha256": "a" * 64, "channels": {"2": ["replaced"]}})  # same key: allowed when full
    assert store.get(sha256="a" * 64) == Script({2: ("replaced",)})
    with pytest.raises(ValueError, match=r"^scripts: at most 2"):
        store.put({"sha256": "c" * 64, "channels": {"1": ["three"]}})
    assert store.delete(a) is True
    assert store.delete(a) is False
    store.put({"sha256": "c" * 64, "channels": {"1": ["three"]}})
    store.clear()
    assert len(store) == 0
    assert store.get(sha256="c" * 64) is None


def test_store_is_safe_across_threads() -> None:
    store = ScriptStore()

    def work(k: int) -> None:
        for i in range(200):
            store.put({"sha256": f"{k:02x}{i:062x}", "channels": {"1": [f"line {i}"]}})
            assert store.get(sha256=f"{k:02x}{i:062x}") is not None

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 1600


def _texts(sentences: list[ScriptedSentence], channel: int) -> list[str]:
    return [s.text for s in sentences if s.media_channel == channel]


def test_lines_go_to_their_channels_segments_in_time_order() -> None:
    script = Script({1: ("Hello, thanks for calling.", "Bye now."), 2: ("Hi.",)})
    segments: list[SegmentLike] = [Segment(2, 1, 2), Segment(1, 3, 4), Segment(1, 0, 0.8), TupleSegment(2, 5, 6)]
    out = assign_text(segments, script, SEED)
    assert [(s.media_channel, s.start_s) for s in out] == [(1, 0.0), (2, 1.0), (1, 3.0), (2, 5.0)]
    assert _texts(out, 1) == ["Hello, thanks for calling.", "Bye now."]
    assert _texts(out, 2)[0] == "Hi."
    assert _texts(out, 2)[1] == seeded_text(SEED, 2, 1, 1.0)  # a segment beyond the lines gets seeded words


def test_lines_beyond_the_segments_join_the_last_one() -> None:
    script = Script({1: ("One.", "Two.", "My number is +1 555 010 4477."), 2: ("Nobody hears this.",)})
    out = assign_text([Segment(1, 0.0, 1.0), Segment(1, 2.0, 4.0)], script, SEED)
    assert [s.text for s in out] == ["One.", "Two. My number is +1 555 010 4477."]
    assert all(s.media_channel == 1 for s in out)  # a channel without speech says nothing


def test_same_media_same_words_other_media_other_words() -> None:
    segments = [Segment(1, 0.0, 4.0), Segment(2, 4.5, 9.0), Segment(1, 10.0, 12.0)]
    first = assign_text(segments, None, SEED)
    assert first == assign_text(list(reversed(segments)), None, SEED)
    other = assign_text(segments, None, hashlib.sha256(b"other media").digest())
    assert [s.text for s in first] != [s.text for s in other]
    assert all(0.82 <= s.confidence <= 0.99 for s in first)


@given(duration=st.floats(0.0, 120.0), seed=st.binary(min_size=32, max_size=32), index=st.integers(0, 500))
def test_seeded_words_are_about_two_and_a_half_a_second_and_never_pii(duration: float, seed: bytes, index: int) -> None:
    text = seeded_text(seed, 1, index, duration)
    assert len(text.split()) == max(1, round(duration * WORDS_PER_SECOND))
    assert text[0].isupper() and text.endswith(".")  # noqa: PT018
    assert find_pii(text) == []


_SEGMENTS = st.lists(
    st.tuples(st.integers(1, 2), st.floats(0, 3600, allow_nan=False), st.floats(0, 30, allow_nan=False)),
    max_size=30,
).map(lambda raw: [Segment(ch, start, start + length) for ch, start, length in raw])
_LINE = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=60).filter(str.strip)
_SCRIPTS = st.none() | st.dictionaries(st.sampled_from([1, 2]), st.lists(_LINE, min_size=1, max_size=8)).map(
    lambda d: Script({ch: tuple(" ".join(line.split()) for line in lines) for ch, lines in d.items()})
)


@given(segments=_SEGMENTS, script=_SCRIPTS, seed=st.binary(min_size=32, max_size=32))
def test_every_segment_gets_one_sentence_with_words_inside_it(
    segments: list[Segment], script: Script | None, seed: bytes
) -> None:
    out = assign_text(segments, script, seed)
    assert sorted((s.media_channel, s.start_s, s.end_s) for s in out) == sorted(
        (g.channel, g.start_s, g.end_s) for g in segments
    )
    assert [(s.start_s, s.media_channel) for s in out] == sorted((s.start_s, s.media_channel) for s in out)
    for s in out:
        assert [w.word for w in s.words] == s.text.split()
        assert all(s.start_s <= w.start_s <= w.end_s <= s.end_s + 1e-9 for w in s.words)
        assert all(a.end_s <= b.start_s for a, b in zip(s.words, s.words[1:], strict=False))
    # A channel's lines are said in order, one per segment; lines beyond its segments are said in its last one.
    per_channel: dict[int, list[str]] = defaultdict(list)
    for s in out:
        per_channel[s.media_channel].append(s.text)
    for channel, texts in per_channel.items():
        lines = list(script.lines(channel)) if script else []
        if len(lines) <= len(texts):
            assert texts[: len(lines)] == lines
        else:
            last = len(texts) - 1
            assert texts == [*lines[:last], " ".join(lines[last:])]


def test_words_take_time_in_proportion_to_their_length() -> None:
    words = spread_words("a bbbb cc", 10.0, 20.0)  # 1 + 4 + 2 letters and 2 spaces: 9 units of 10/9 s
    unit = 10 / 9
    assert [w.word for w in words] == ["a", "bbbb", "cc"]
    times = [t for w in words for t in (w.start_s, w.end_s)]
    assert times == pytest.approx([10, 10 + unit, 10 + 2 * unit, 10 + 6 * unit, 10 + 7 * unit, 20])
    assert spread_words("   ", 0.0, 1.0) == ()


@pytest.mark.parametrize(
    "segment",
    [Segment(0, 0.0, 1.0), Segment(-1, 0.0, 1.0), Segment(1, 2.0, 1.0), Segment(1, -1.0, 1.0),
     Segment(1, float("nan"), 1.0), Segment(1, 0.0, float("inf")), Segment(1.0, 0.0, 1.0)],  # type: ignore[arg-type]
)  # fmt: skip
def test_bad_segments_are_refused(segment: Segment) -> None:
    with pytest.raises(ValueError, match=r"^segment:"):
        assign_text([segment], None, SEED)


def test_numpy_scalars_are_plain_numbers_in_the_sentences() -> None:
    [sentence] = assign_text([Segment(np.int64(2), np.float32(0.5), np.float64(1.5))], None, SEED)  # type: ignore[arg-type]
    assert (sentence.media_channel, sentence.start_s, sentence.end_s) == (2, 0.5, 1.5)
    assert type(sentence.media_channel) is int and type(sentence.start_s) is float  # noqa: PT018


def test_a_scripted_phone_number_is_silenced_where_its_words_are() -> None:
    script = Script({2: ("Sure, it is +1 555 010 4477.",)})
    out = assign_text([Segment(1, 0.0, 2.0), Segment(2, 3.0, 6.0)], script, SEED)
    [interval] = pii_intervals(out)
    spoken = out[1]
    assert interval.channel == 2
    assert interval.start_s == spoken.words[3].start_s > spoken.start_s  # from "+1"…
    assert interval.end_s == spoken.words[-1].end_s == spoken.end_s  # …to "4477."
