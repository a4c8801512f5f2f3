"""Manifest rows with `tracks` or `room_sid` (issue 9): their shapes, the scan that refuses a bad one naming the file,
row, column and value before anything is sent, and how participants are put on the two channels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness._manifest import ManifestError, ManifestItem, Reject, read_manifest, scan_manifest
from harness._merge_assign import AssignmentError, assign_room, assign_tracks, room_channels
from harness._merge_rows import MergeSpec, parse_merge_participants

ROOM = "RM" + "c" * 32
SIGNED = "https://b.example/c.mp3?X-Amz-Signature=Zs3cr3tZ&X-Amz-Credential=AKIA"


def manifest(tmp_path: Path, rows: list[Any], name: str = "calls.jsonl") -> Path:
    (tmp_path / "agent.wav").write_bytes(b"RIFF")  # the scan checks that a path names a file, not what is in it
    (tmp_path / "customer.flac").write_bytes(b"fLaC")
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def two_tracks(**extra: Any) -> dict[str, Any]:
    tracks = [{"path": "agent.wav", "offset_s": 0}, {"path": "customer.flac", "offset_s": 2.5, "identity": "alice"}]
    return {"tracks": tracks, "customer_key": "k1", **extra}


def test_a_tracks_row_is_an_item_with_its_tracks_resolved_beside_the_manifest(tmp_path: Path) -> None:
    path = manifest(tmp_path, [two_tracks(team="blue")])
    scan = scan_manifest(path)
    assert (scan.rows, scan.merge_rows, scan.room_rows, scan.unknown_columns) == (1, 1, 0, ["team"])
    (item,) = read_manifest(path)
    assert isinstance(item, ManifestItem)
    assert item.merge is not None
    assert [(t.source, t.offset_s, t.identity) for t in item.merge.tracks] == [
        (str(tmp_path / "agent.wav"), 0.0, None),
        (str(tmp_path / "customer.flac"), 2.5, "alice"),
    ]
    assert item.channel == {"media_properties": {}}  # the media URL comes once the merged file is hosted
    assert item.metadata == {"team": "blue"}
    assert item.shown_media == "tracks: agent.wav@0, customer.flac@2.5"


def test_a_csv_row_gives_tracks_and_participants_as_json_cells(tmp_path: Path) -> None:
    manifest(tmp_path, [])
    tracks = json.dumps([{"path": "agent.wav"}, {"path": "customer.flac", "offset_s": 1}]).replace('"', '""')
    participants = json.dumps([{"channel_participant": 2, "role": "Agent"}]).replace('"', '""')
    path = tmp_path / "calls.csv"
    path.write_text(f'tracks,participants,customer_key\n"{tracks}","{participants}",k\n"[oops",,k2\n')
    with pytest.raises(ManifestError, match=r"row 2: .*tracks is not a JSON list"):
        scan_manifest(path)
    path.write_text(f'tracks,participants,customer_key\n"{tracks}","{participants}",k\n')
    assert scan_manifest(path).merge_rows == 1
    (item,) = read_manifest(path)
    assert isinstance(item, ManifestItem)
    assert item.merge is not None
    assert item.merge.participants == ({"channel_participant": 2, "role": "Agent"},)


def test_a_room_row_with_an_identity_mapping(tmp_path: Path) -> None:
    mapping = [{"identity": ["bob", "bob-phone"], "channel_participant": 2, "role": "Agent"}]
    path = manifest(tmp_path, [{"room_sid": ROOM, "participants": mapping}])
    scan = scan_manifest(path)
    assert (scan.merge_rows, scan.room_rows) == (1, 1)
    (item,) = read_manifest(path)
    assert isinstance(item, ManifestItem)
    assert item.merge is not None
    assert (item.merge.room_sid, item.merge.participants) == (ROOM, tuple(mapping))
    assert item.shown_media == f"room {ROOM}"
    assert item.key_generated


BAD_ROWS: dict[str, tuple[dict[str, Any], str]] = {
    "negative offset": (
        {"tracks": [{"path": "agent.wav", "offset_s": -2}, {"path": "customer.flac"}]},
        "tracks[0].offset_s: must be seconds from the call's start, 0 to 86400, got -2",
    ),
    "offset in ms": (
        {"tracks": [{"path": "agent.wav", "offset_s": 1_500_000}, {"path": "customer.flac"}]},
        "tracks[0].offset_s",
    ),
    "offset as text": ({"tracks": [{"path": "agent.wav", "offset_s": "2"}, {"path": "customer.flac"}]}, "got '2'"),
    "missing file": ({"tracks": [{"path": "agent.wav"}, {"path": "nobody.wav"}]}, "tracks[1].path: "),
    "a directory": ({"tracks": [{"path": "agent.wav"}, {"path": "."}]}, "a directory, not a file"),
    "path and url": ({"tracks": [{"path": "agent.wav", "url": SIGNED}, {"path": "agent.wav"}]}, "exactly one of"),
    "ftp url": ({"tracks": [{"url": "ftp://b.example/a.wav"}, {"path": "agent.wav"}]}, "tracks[0].url: must be an"),
    "unknown field": ({"tracks": [{"path": "agent.wav", "start": 1}, {"path": "agent.wav"}]}, "tracks[0].start"),
    "channel 3": ({"tracks": [{"path": "agent.wav", "channel": 3}, {"path": "agent.wav"}]}, "channel: must be 1 or 2"),
    "one track": ({"tracks": [{"path": "agent.wav"}]}, "1 track(s): a merge needs 2"),
    "three, no channels": ({"tracks": [{"path": "agent.wav"}] * 3}, "3 tracks and no channels"),
    "some channels": (
        {"tracks": [{"path": "agent.wav", "channel": 1}, {"path": "agent.wav"}]},
        "tracks[1].channel: missing: give every track a channel",
    ),
    "channel 2 empty": (
        {"tracks": [{"path": "agent.wav", "channel": 1}, {"path": "agent.wav", "channel": 1}]},
        "no track on channel 2",
    ),
    "participant vs channel": (
        {
            "tracks": [
                {"path": "agent.wav", "channel": 1, "participant": {"channel_participant": 2}},
                {"path": "agent.wav", "channel": 2},
            ]
        },
        "tracks[0].participant.channel_participant: 2, but the track's channel is 1",
    ),
    "two participants on a channel": (
        {
            "tracks": [
                {"path": "agent.wav", "channel": 1, "participant": {"role": "Agent"}},
                {"path": "agent.wav", "channel": 1, "participant": {"role": "Bot"}},
                {"path": "agent.wav", "channel": 2},
            ]
        },
        "tracks[1].participant: channel 1 already has tracks[0]'s participant",
    ),
    "row participants clash": (
        {
            "tracks": [
                {"path": "agent.wav", "participant": {"channel_participant": 1}},
                {"path": "agent.wav", "channel": 2},
            ],
            "participants": [{"channel_participant": 1, "role": "Agent"}],
        },
        "participants[0]: channel 1 already has tracks[0]'s participant",
    ),
    "identity in a tracks row": (
        {
            "tracks": [{"path": "agent.wav"}, {"path": "agent.wav"}],
            "participants": [{"channel_participant": 1, "identity": "bob"}],
        },
        "participants[0].identity: not a participant field; in a tracks row give each track its identity",
    ),
    "participant field not a string": (
        {"tracks": [{"path": "agent.wav", "participant": {"full_name": 7}}, {"path": "agent.wav"}]},
        "tracks[0].participant.full_name: must be a string, got 7",
    ),
    "tracks and media_url": (
        {"tracks": [{"path": "agent.wav"}, {"path": "agent.wav"}], "media_url": "https://b.example/a.wav"},
        "give one of media_url/source_sid, room_sid and tracks, not media_url too",
    ),
    "tracks and room": ({"tracks": [], "room_sid": ROOM}, "give room_sid or tracks, not both"),
    "tracks not a list": ({"tracks": "agent.wav,customer.flac"}, "tracks: must be a list of track objects, got str"),
    "bad room sid": ({"room_sid": "RM123"}, "room_sid: must be a Room SID (RM + 32 hex digits), got 'RM123'"),
    "room sid not hex": ({"room_sid": "RM" + "z" * 32}, "room_sid: must be a Room SID"),
    "identity on both channels": (
        {
            "room_sid": ROOM,
            "participants": [
                {"channel_participant": 1, "identity": "bob"},
                {"channel_participant": 2, "identity": ["amy", "bob"]},
            ],
        },
        "participants[1].identity: 'bob' is on both channels",
    ),
    "empty identity list": (
        {"room_sid": ROOM, "participants": [{"channel_participant": 1, "identity": []}]},
        "participants[0].identity: an empty list",
    ),
    "channel twice": (
        {"room_sid": ROOM, "participants": [{"channel_participant": 1}, {"channel_participant": 1}]},
        "participants[1].channel_participant: channel 1 is given twice",
    ),
    "bad customer key": ({"room_sid": ROOM, "customer_key": "x" * 65}, "customer_key is 65 characters"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_bad_merge_row_stops_the_scan_naming_file_row_column_and_value(tmp_path: Path, case: str) -> None:
    row, expected = BAD_ROWS[case]
    path = manifest(tmp_path, [{"media_url": "https://b.example/1.wav"}, "not json", row])
    with pytest.raises(ManifestError) as caught:
        scan_manifest(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: row 3: ")
    assert expected in message
    assert "nothing was sent" in message
    (_, _, reject) = read_manifest(path)  # the reader alone (a library user) still gets a reject, not a crash
    assert isinstance(reject, Reject)
    assert expected in reject.reason


def test_every_bad_merge_row_is_listed_at_once_and_no_secret_is_quoted(tmp_path: Path) -> None:
    rows = [
        {"tracks": [{"url": SIGNED, "offset_s": -1}, {"path": "agent.wav"}]},
        two_tracks(),
        {"tracks": [{"url": SIGNED}, {"path": "missing.wav"}]},
    ]
    with pytest.raises(ManifestError) as caught:
        scan_manifest(manifest(tmp_path, rows))
    message = str(caught.value)
    assert "row 1: tracks[0].offset_s" in message
    assert "row 3: tracks[1].path" in message
    assert "row 2" not in message
    assert "Zs3cr3tZ" not in message
    assert "AKIA" not in message


def test_a_signed_track_url_is_shown_without_its_query(tmp_path: Path) -> None:
    (item,) = read_manifest(manifest(tmp_path, [{"tracks": [{"url": SIGNED, "offset_s": 1}, {"path": "agent.wav"}]}]))
    assert isinstance(item, ManifestItem)
    assert item.shown_media == "tracks: https://b.example/c.mp3?<redacted>@1, agent.wav"


# --- channels and participants -------------------------------------------------------------------------------------


def spec_of(tmp_path: Path, row: dict[str, Any]) -> MergeSpec:
    (item,) = read_manifest(manifest(tmp_path, [row]))
    assert isinstance(item, ManifestItem)
    assert item.merge is not None
    return item.merge


def test_tracks_without_channels_go_on_in_join_order_agent_first(tmp_path: Path) -> None:
    row = {"tracks": [{"path": "customer.flac", "offset_s": 3, "identity": "alice"},
                      {"path": "agent.wav", "offset_s": 0.5, "identity": "bob"}]}  # fmt: skip
    spec = spec_of(tmp_path, row)
    files = [tmp_path / "customer.flac", tmp_path / "agent.wav"]
    placed = assign_tracks(spec, files)
    assert [(s.path.name, s.offset_s) for s in placed.channel1] == [("agent.wav", 0.5)]
    assert [(s.path.name, s.offset_s) for s in placed.channel2] == [("customer.flac", 3.0)]
    assert placed.participants == (
        {"channel_participant": 1, "role": "Agent", "user_id": "bob"},
        {"channel_participant": 2, "role": "Customer", "user_id": "alice"},
    )


def test_swapped_tracks_put_the_agent_on_channel_2(tmp_path: Path) -> None:
    agent = {"path": "agent.wav", "channel": 2, "participant": {"role": "Agent", "full_name": "Bob B"}}
    row = {"tracks": [{"path": "customer.flac", "channel": 1}, agent]}
    placed = assign_tracks(spec_of(tmp_path, row), [tmp_path / "customer.flac", tmp_path / "agent.wav"])
    assert [s.path.name for s in placed.channel2] == ["agent.wav"]
    assert placed.participants == (
        {"channel_participant": 1, "role": "Customer"},  # the other role, since the row gave only channel 2's
        {"channel_participant": 2, "role": "Agent", "full_name": "Bob B"},
    )


def test_several_tracks_on_one_channel_are_mixed_there(tmp_path: Path) -> None:
    row = {"tracks": [{"path": "agent.wav", "channel": 1, "identity": "bob"},
                      {"path": "agent.wav", "channel": 1, "offset_s": 60, "identity": "bob"},
                      {"path": "customer.flac", "channel": 2}],
           "participants": [{"channel_participant": 2, "role": "Patient", "user_id": "p-17"}]}  # fmt: skip
    placed = assign_tracks(spec_of(tmp_path, row), [tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    assert [s.offset_s for s in placed.channel1] == [0.0, 60.0]
    assert placed.participants == (
        {"channel_participant": 1, "role": "Agent", "user_id": "bob"},
        {"channel_participant": 2, "role": "Patient", "user_id": "p-17"},
    )


@given(offsets=st.tuples(st.floats(0, 86_400), st.floats(0, 86_400)))
def test_two_tracks_without_channels_put_the_earlier_joiner_on_channel_1(offsets: tuple[float, float]) -> None:
    spec = MergeSpec(tracks=tuple(_track(i, o) for i, o in enumerate(offsets)))
    placed = assign_tracks(spec, [Path("first"), Path("second")])
    (one,), (two,) = placed.channel1, placed.channel2
    assert one.offset_s <= two.offset_s
    if offsets[0] == offsets[1]:
        assert one.path == Path("first")  # a tie: listing order
    assert [p["channel_participant"] for p in placed.participants] == [1, 2]


def _track(index: int, offset: float) -> Any:
    from harness._merge_rows import TrackSpec

    return TrackSpec(index, f"/t{index}.wav", False, offset)


@dataclass(frozen=True)
class RoomTrack:
    participant_sid: str
    identity: str
    path: Path
    offset_s: float


def room(*people: tuple[str, float]) -> list[RoomTrack]:
    return [RoomTrack(f"PA{i:032x}", who, Path(f"/r/{who}-{i}.mka"), at) for i, (who, at) in enumerate(people)]


def room_spec(participants: list[dict[str, Any]] | None = None) -> MergeSpec:
    return MergeSpec(room_sid=ROOM, participants=parse_merge_participants(participants or [], room=True))


def test_a_room_without_a_mapping_puts_the_first_joiner_on_channel_1() -> None:
    placed = assign_room(room_spec(), room(("alice", 4.2), ("bob", 1.0), ("alice", 30.0)))
    assert [(s.identity, s.offset_s) for s in placed.channel1] == [("bob", 1.0)]
    assert [(s.identity, s.offset_s) for s in placed.channel2] == [("alice", 4.2), ("alice", 30.0)]  # a rejoin
    assert placed.participants == (
        {"channel_participant": 1, "role": "Agent", "user_id": "bob"},
        {"channel_participant": 2, "role": "Customer", "user_id": "alice"},
    )


def test_a_room_mapping_swaps_the_agent_onto_channel_2_and_the_other_fills_channel_1() -> None:
    spec = room_spec([{"identity": "bob", "channel_participant": 2, "role": "Agent", "full_name": "Bob"}])
    placed = assign_room(spec, room(("bob", 0.0), ("alice", 2.0)))
    assert [s.identity for s in placed.channel1] == ["alice"]
    assert [s.identity for s in placed.channel2] == ["bob"]
    assert placed.participants == (
        {"channel_participant": 1, "role": "Customer", "user_id": "alice"},
        {"channel_participant": 2, "role": "Agent", "user_id": "bob", "full_name": "Bob"},
    )


def test_three_room_participants_without_a_mapping_is_an_error_naming_them() -> None:
    with pytest.raises(AssignmentError) as caught:
        assign_room(room_spec(), room(("bob", 0.0), ("alice", 2.0), ("supervisor", 9.0)))
    assert f"{ROOM} has 3 participants with audio (bob, alice, supervisor)" in str(caught.value)
    assert "map identities to channels" in str(caught.value)


def test_a_room_mapping_may_mix_several_identities_onto_one_channel() -> None:
    spec = room_spec([{"identity": ["bob", "supervisor"], "channel_participant": 1}])
    placed = assign_room(spec, room(("bob", 0.0), ("alice", 2.0), ("supervisor", 9.0)))
    assert [s.identity for s in placed.channel1] == ["bob", "supervisor"]
    assert [s.identity for s in placed.channel2] == ["alice"]
    assert "user_id" not in placed.participants[0]  # two people share channel 1: no single user id


@pytest.mark.parametrize(
    ("mapping", "people", "expected"),
    [
        ([{"identity": "carol", "channel_participant": 1}], [("bob", 0.0), ("alice", 1.0)],
         "no participant with audio whose identity is 'carol' (its participants with audio: bob, alice)"),
        ([{"identity": "bob", "channel_participant": 1}], [("bob", 0.0), ("alice", 1.0), ("sup", 2.0)],
         "participant(s) sup not mapped to a channel"),
        ([], [("bob", 0.0)], "nobody for channel 2"),
        ([{"identity": "bob", "channel_participant": 1}], [("bob", 0.0)], "nobody for channel 2"),
        ([], [], "nobody for channel 1"),
    ],
)  # fmt: skip
def test_a_room_that_cannot_fill_two_channels_says_why(
    mapping: list[dict[str, Any]], people: list[tuple[str, float]], expected: str
) -> None:
    with pytest.raises(AssignmentError) as caught:
        assign_room(room_spec(mapping), room(*people))
    assert expected in str(caught.value)


def test_a_room_mapping_of_both_channels_leaves_the_other_participants_out() -> None:
    spec = room_spec([{"identity": "alice", "channel_participant": 2}, {"identity": "bob", "channel_participant": 1}])
    assert room_channels(spec, ["bob", "recorder-bot", "alice"]) == {"bob": 1, "alice": 2}  # only theirs downloaded
    placed = assign_room(spec, room(("bob", 0.0), ("recorder-bot", 0.1), ("alice", 2.0)))
    assert [s.identity for s in placed.channel1 + placed.channel2] == ["bob", "alice"]


@pytest.mark.parametrize(
    ("mapping", "joined", "chosen"),
    [
        ([], ["bob", "alice"], {"bob": 1, "alice": 2}),
        ([{"identity": "bob", "channel_participant": 2}], ["bob", "alice"], {"bob": 2, "alice": 1}),
        ([{"identity": ["bob", "sup"], "channel_participant": 1}], ["bob", "alice", "sup"],
         {"bob": 1, "alice": 2, "sup": 1}),
        ([], ["bob", "alice", "sup"], None),  # three without a mapping: refused before any download
        ([{"identity": "bob", "channel_participant": 1}], ["bob", "alice", "sup"], None),
        ([{"identity": "carol", "channel_participant": 1}], ["bob", "alice"], None),
    ],
)  # fmt: skip
def test_the_participants_to_download_are_decided_from_the_participant_list(
    mapping: list[dict[str, Any]], joined: list[str], chosen: dict[str, int] | None
) -> None:
    """The same rules as for the downloaded tracks (`assign_room`): what `room_channels` refuses, `assign_room`
    refuses too, so a row that cannot be mapped fails before anything is downloaded."""
    spec = room_spec(mapping)
    people = room(*((who, float(i)) for i, who in enumerate(joined)))
    if chosen is None:
        with pytest.raises(AssignmentError) as before:
            room_channels(spec, joined)
        with pytest.raises(AssignmentError) as after:
            assign_room(spec, people)
        assert str(before.value) == str(after.value)
        return
    assert room_channels(spec, joined) == chosen
    placed = assign_room(spec, people)
    assert {s.identity: c for c in (1, 2) for s in placed.channel(c)} == chosen
