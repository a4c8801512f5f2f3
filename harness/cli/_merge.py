"""`cintel merge`: per-participant tracks, or a Video room's, → one stereo 16-bit FLAC for Intelligence, verified
after writing.

With `--room`, the room's participants with audio are listed first (so a room that cannot be mapped onto two
channels is refused before anything is downloaded), then only the chosen participants' tracks are downloaded into a
temporary directory (removed afterwards) and placed at their offsets from room start (`download_room_tracks`).
The credentials are checked first, in the command's own words: which environment variables to set (exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness._errors import AccountBlocked, Forbidden, Unauthorized
from harness._redact import scrub_text
from harness.cli._env import require_credentials
from harness.cli._exit import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from harness.cli._recording import video_client
from harness.media import (
    MergeError,
    MergePlan,
    Participant,
    RoomNotReady,
    RoomTrack,
    Track,
    download_room_tracks,
    ffmpeg_command,
    participants_with_audio,
    plan,
    verify,
    write,
)

TWO_CHANNELS = (
    "Intelligence transcribes at most two channels: give exactly two tracks (channel 1, channel 2), or assign "
    "several tracks to a channel with --channel1 A,B --channel2 C (they are mixed)"
)
ROOM_SID = re.compile(r"^RM[0-9a-fA-F]{32}$")


def _tracks(texts: list[str]) -> list[Track]:
    return [Track.parse(t) for t in texts if t]


def _names(groups: Sequence[str] | None) -> list[str]:
    return [name.strip() for group in groups or () for name in group.split(",") if name.strip()]


def merge_command(args: argparse.Namespace) -> int:
    output: Path = args.output
    if output.suffix.lower() != ".flac":
        raise MergeError(f"{output}: the output is a FLAC file (name it .flac)")
    if bool(args.channel1) != bool(args.channel2):
        raise MergeError("--channel1 and --channel2 go together: each channel needs at least one track")
    if args.room is not None:
        return _room_command(args)
    if args.base_url or args.via != "recordings":
        raise MergeError("--base-url and --via go with --room")
    if args.channel1:
        if args.tracks:
            raise MergeError("give tracks either as positional arguments or with --channel1/--channel2, not both")
        channel1, channel2 = _tracks(_names(args.channel1)), _tracks(_names(args.channel2))
    else:
        if len(args.tracks) != 2:
            raise MergeError(f"{len(args.tracks)} track(s) given. {TWO_CHANNELS}")
        channel1, channel2 = [Track.parse(args.tracks[0])], [Track.parse(args.tracks[1])]
    merge_plan = plan(channel1, channel2, rate=args.rate, align_ends=args.align_ends)
    return _write_and_report(merge_plan, output, print_ffmpeg=args.print_ffmpeg)


def _room_command(args: argparse.Namespace) -> int:
    if args.tracks:
        raise MergeError("--room downloads the room's tracks: give no TRACK arguments with it")
    if args.align_ends:
        raise MergeError("--align-ends does not apply to --room: each track's offset from room start is known")
    if not ROOM_SID.match(args.room):
        raise MergeError(f"--room {args.room[:40]!r} is not a Room SID (RM followed by 32 hex digits)")
    if getattr(args, "replay", None) is None:  # a replay sends nothing, so needs no credentials
        _check_credentials(os.environ)
    with tempfile.TemporaryDirectory(prefix="cintel-room-") as folder:
        try:
            tracks, channels = asyncio.run(_download(args, Path(folder)))
        except RoomNotReady as error:  # the room or its media is not ready yet: the same command works later
            print(f"cintel merge: error: {scrub_text(str(error))}", file=sys.stderr)
            print("cintel merge: run the same command again once the room's media is ready", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (Unauthorized, Forbidden) as error:
            hint = (
                "the credentials were refused: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY "
                "and TWILIO_API_SECRET), and that --base-url / CINTEL_VIDEO_BASE_URL is the Video API they belong to"
            )
            if isinstance(error, Forbidden):
                hint = "the account may not do this (suspended or closed?): see the Twilio console"
            code = f"{error.code} " if error.code else ""
            raise AccountBlocked(f"blocked by the account: HTTP {error.status} {code}{error.message}", cause=error,
                                 hint=hint) from None  # fmt: skip
        by_sid = {t.participant_sid: channel for channel, people in channels.items() for t in people}
        placed: dict[int, list[Track]] = {1: [], 2: []}
        labels: dict[Path, str] = {}
        for track in tracks:
            placed[by_sid[track.participant_sid]].append(Track(track.path, track.offset_s))
            labels[track.path] = f"{track.identity} ({track.participant_sid})"
        for channel in (1, 2):
            names = ", ".join(dict.fromkeys(t.identity for t in channels[channel]))
            print(f"channel {channel}: {names}")
        merge_plan = plan(placed[1], placed[2], rate=args.rate)
        return _write_and_report(merge_plan, args.output, print_ffmpeg=args.print_ffmpeg, labels=labels,
                                 folder=Path(folder))  # fmt: skip


async def _download(args: argparse.Namespace, folder: Path) -> tuple[list[RoomTrack], dict[int, list[RoomTrack]]]:
    """The chosen participants' tracks, and which channel each participant's tracks go on."""
    async with video_client(args, base_url=args.base_url) as video:
        people = await participants_with_audio(video, args.room)
        channel1, channel2 = _assign(args.room, people, _names(args.channel1), _names(args.channel2))
        chosen = {p.sid for p in channel1 + channel2}
        tracks = await download_room_tracks(video, args.room, folder, via=args.via, participants=chosen)
    ones = {p.sid for p in channel1}
    channels = {1: [t for t in tracks if t.participant_sid in ones],
                2: [t for t in tracks if t.participant_sid not in ones]}  # fmt: skip
    for channel, mine in channels.items():
        if not mine:
            raise MergeError(f"room {args.room}: no audio downloaded for channel {channel}")
    return tracks, channels


def _check_credentials(env: Mapping[str, str]) -> None:
    """The Video API's credentials are in the environment, or a `ConfigurationError` (exit 2) naming the variables."""
    require_credentials(env, "--room reads the room from the Video API with your Twilio credentials")


def _assign(
    room: str, people: list[Participant], names1: list[str], names2: list[str]
) -> tuple[list[Participant], list[Participant]]:
    """Participants for channel 1 and 2: the named ones (identity or PA SID; an identity that rejoined counts
    with every one of its participants), else the first two identities by join time."""
    identities = list(dict.fromkeys(p.identity or p.sid for p in people))
    if not names1:
        if len(identities) != 2:
            listed = ", ".join(identities) or "none"
            raise MergeError(
                f"room {room} has {len(identities)} participant(s) with audio ({listed}). Intelligence transcribes "
                "at most two channels: choose who goes where with --channel1 IDENTITY[,IDENTITY] --channel2 IDENTITY"
                if len(identities) > 2
                else f"room {room} has {len(identities)} participant(s) with audio ({listed}): a two-channel file "
                "needs two"
            )
        names1, names2 = [identities[0]], [identities[1]]
    chosen: list[list[Participant]] = []
    for option, names in (("--channel1", names1), ("--channel2", names2)):
        matched = []
        for name in names:
            found = [p for p in people if name in (p.sid, p.identity)]
            if not found:
                raise MergeError(f"{option} {name}: no participant with audio in room {room} has this identity or "
                                 f"SID (its participants with audio: {', '.join(identities) or 'none'})")  # fmt: skip
            matched += found
        chosen.append(matched)
    both = {p.sid for p in chosen[0]} & {p.sid for p in chosen[1]}
    if both:
        raise MergeError(f"{', '.join(sorted(both))}: a participant can be on one channel only")
    return chosen[0], chosen[1]


def _write_and_report(
    merge_plan: MergePlan,
    output: Path,
    *,
    print_ffmpeg: bool,
    labels: dict[Path, str] | None = None,
    folder: Path | None = None,
) -> int:
    for warning in merge_plan.warnings:
        print(f"cintel merge: warning: {warning}", file=sys.stderr)
    for note in merge_plan.notes:
        print(f"cintel merge: note: {note}", file=sys.stderr)
    if print_ffmpeg:
        command = ffmpeg_command(merge_plan, output)
        if folder is not None:  # the downloaded tracks are named as they were: run it where they are kept
            command = command.replace(f"{folder}/", "")
        print(command)
    result = write(merge_plan, output)
    check = verify(result)
    rate = merge_plan.rate
    for p in merge_plan.placements:
        info = p.info
        name = (labels or {}).get(info.track.path, str(info.track.path))
        end_s = (p.start + p.length) / rate
        print(
            f"channel {p.channel}: {name} ({info.rate} Hz, {info.channels} ch, {info.duration_s:.3f} s) "
            f"at {p.offset_s:.3f} s, ends {end_s:.3f} s"
        )
    print(f"wrote {output}: 2 channels, {rate} Hz, 16-bit FLAC, {result.frames_written / rate:.3f} s")
    if result.clipped:
        print(f"clipped {result.clipped} samples where mixed tracks summed beyond full scale")
    if check.ok:
        print("verified: 2 channels, the expected duration, each channel has signal where its tracks had it")
        return EXIT_OK
    for problem in check.problems:
        print(f"cintel merge: verification failed: {problem}", file=sys.stderr)
    return EXIT_FAILED
