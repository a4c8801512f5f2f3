"""Manifest reading: JSONL and CSV, row-level rejects with reasons, nothing lost, no secret in a reject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness._manifest import ManifestError, ManifestItem, Reject, read_manifest
from harness._redact import scrub_text, scrub_url

REC = "RE" + "a" * 32
SIGNED = "https://bucket.s3.amazonaws.com/calls/1.wav?X-Amz-Signature=deadbeefcafe&X-Amz-Expires=900"


def write_jsonl(tmp_path: Path, rows: list[Any]) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_good_rows_become_items_with_channel_and_metadata(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path,
        [
            {"media_url": SIGNED, "customer_key": "c1", "agent": "Ana"},
            {"source_sid": REC, "participants": [{"channel_participant": 1, "role": "Customer"}]},
            {"media_url": "http://x.example/a.mp3", "media_start_time": "2024-05-01T10:00:00Z"},
        ],
    )
    items = [i for i in read_manifest(path) if isinstance(i, ManifestItem)]
    assert len(items) == 3
    first, second, third = items
    assert first.channel == {"media_properties": {"media_url": SIGNED}}
    assert first.metadata == {"agent": "Ana"}
    assert second.channel["participants"] == [{"channel_participant": 1, "role": "Customer"}]
    assert second.key_generated
    assert second.customer_key.startswith("ck-")
    assert third.media_start_time == "2024-05-01T10:00:00Z"
    assert [i.row for i in items] == [1, 2, 3]


def test_generated_keys_are_deterministic_across_runs(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, [{"media_url": "https://x.example/1.wav"}, {"media_url": "https://x.example/2.wav"}])
    first = [i.customer_key for i in read_manifest(path)]  # type: ignore[union-attr]
    assert first == [i.customer_key for i in read_manifest(path)]  # type: ignore[union-attr]
    assert len(set(first)) == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be an object"),
        ({"customer_key": "k"}, "no media"),
        ({"media_url": "ftp://x/a.wav"}, "http or https"),
        ({"media_url": 42}, "must be a string"),
        ({"source_sid": "RE123"}, "Recording SID"),
        ({"media_url": "https://x/a.wav", "participants": [{"channel_participant": 3}]}, "1 or 2"),
        ({"media_url": "https://x/a.wav", "participants": [{"channel_participant": n} for n in (1, 2, 1)]},
         "at most two"),
        ({"media_url": "https://x/a.wav", "participants": [{"channel_participant": 1}] * 2}, "two participants on"),
        ({"media_url": "https://x/a.wav", "participants": "Agent"}, "must be a list"),
        ({"media_url": "https://x/a.wav", "media_start_time": "tuesday"}, "ISO-8601"),
        ({"media_url": "https://x/a.wav", "customer_key": "k" * 65}, "65 characters"),
        ({"media_url": "https://x/a.wav", "customer_key": ""}, "non-empty"),
    ],
)  # fmt: skip
def test_bad_rows_are_rejected_with_row_and_reason_and_the_batch_goes_on(tmp_path: Path, row: Any, reason: str) -> None:
    path = write_jsonl(tmp_path, [{"media_url": "https://x.example/ok-1.wav"}, row, {"source_sid": REC}])
    out = list(read_manifest(path))
    assert [type(o) for o in out] == [ManifestItem, Reject, ManifestItem]
    reject = out[1]
    assert isinstance(reject, Reject)
    assert reject.row == 2
    assert reason in reject.reason


def test_duplicate_customer_keys_are_rejected_after_the_first(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path, [{"media_url": "https://x/1.wav", "customer_key": "k"}, {"source_sid": REC, "customer_key": "k"}]
    )
    first, second = read_manifest(path)
    assert isinstance(first, ManifestItem)
    assert isinstance(second, Reject)
    assert "already used" in second.reason


def test_rejects_never_carry_a_presigned_signature(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, [{"media_url": SIGNED, "participants": [{"channel_participant": 9}]}])
    (reject,) = read_manifest(path)
    assert isinstance(reject, Reject)
    assert "deadbeefcafe" not in reject.excerpt
    assert "bucket.s3.amazonaws.com/calls/1.wav" in reject.excerpt


def test_csv_with_participants_as_a_json_cell(tmp_path: Path) -> None:
    path = tmp_path / "batch.csv"
    path.write_text(
        "media_url,customer_key,participants,team\n"
        'https://x.example/1.wav,c1,"[{""channel_participant"": 2, ""role"": ""Agent""}]",blue\n'
        "ftp://x.example/2.wav,c2,,red\n"
        "https://x.example/3.wav,c3,,green,extra\n",
        encoding="utf-8",
    )
    first, second, third = read_manifest(path)
    assert isinstance(first, ManifestItem)
    assert first.channel["participants"] == [{"channel_participant": 2, "role": "Agent"}]
    assert first.metadata == {"team": "blue"}
    assert isinstance(second, Reject)
    assert second.row == 2
    assert isinstance(third, Reject)
    assert "more cell" in third.reason


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("batch.txt", b"{}", "unknown manifest format"),
        ("batch.csv", b"customer_key,team\nk,blue\n", "media_url or source_sid column"),
        ("batch.jsonl", b'{"media_url": "https://x/\xff.wav"}\n', "not UTF-8"),
    ],
)
def test_file_level_problems_name_the_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ManifestError) as caught:
        list(read_manifest(path))
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"nope\.jsonl"):
        list(read_manifest(tmp_path / "nope.jsonl"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
ROWS = st.one_of(
    st.text(max_size=40).filter(lambda s: "\n" not in s and "\r" not in s),
    st.dictionaries(
        st.sampled_from(["media_url", "source_sid", "customer_key", "participants", "media_start_time", "x"]),
        JSON_VALUES | st.sampled_from(["https://x.example/a.wav", REC, "2024-01-01T00:00:00Z"]),
        max_size=5,
    ),
)


@given(rows=st.lists(ROWS, max_size=25))
def test_every_row_is_an_item_or_a_reject_and_nothing_is_lost(rows: list[Any]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_jsonl(Path(tmp), rows)
        out = list(read_manifest(path))
    counted = [r for r in rows if not (isinstance(r, str) and not r.strip())]  # blank lines are not rows
    assert len(out) == len(counted)
    keys = [o.customer_key for o in out if isinstance(o, ManifestItem)]
    assert len(keys) == len(set(keys))
    for o in out:
        if isinstance(o, Reject):
            assert o.reason


def test_scrubbing_keeps_the_recording_and_drops_the_credential() -> None:
    assert scrub_url(SIGNED) == "https://bucket.s3.amazonaws.com/calls/1.wav?<redacted>"
    assert scrub_url("https://user:pw@host.example/a.wav?sig=1") == "https://host.example/a.wav?<redacted>"
    assert scrub_url("https://host.example/a.wav") == "https://host.example/a.wav"
    assert "deadbeef" not in scrub_text(f"failed to fetch {SIGNED} (403)")
