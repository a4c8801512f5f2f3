"""`cintel merge`: per-participant tracks → one stereo 16-bit FLAC for Intelligence, verified after writing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli._exit import EXIT_FAILED, EXIT_OK
from harness.media import MergeError, Track, ffmpeg_command, plan, verify, write

TWO_CHANNELS = (
    "Intelligence transcribes at most two channels: give exactly two tracks (channel 1, channel 2), or assign "
    "several tracks to a channel with --channel1 A,B --channel2 C (they are mixed)"
)


def _tracks(texts: list[str]) -> list[Track]:
    return [Track.parse(t) for t in texts if t]


def merge_command(args: argparse.Namespace) -> int:
    if args.channel1 or args.channel2:
        if args.tracks:
            raise MergeError("give tracks either as positional arguments or with --channel1/--channel2, not both")
        if not (args.channel1 and args.channel2):
            raise MergeError("--channel1 and --channel2 go together: each channel needs at least one track")
        channel1 = _tracks([t for group in args.channel1 for t in group.split(",")])
        channel2 = _tracks([t for group in args.channel2 for t in group.split(",")])
    else:
        if len(args.tracks) != 2:
            raise MergeError(f"{len(args.tracks)} track(s) given. {TWO_CHANNELS}")
        channel1, channel2 = [Track.parse(args.tracks[0])], [Track.parse(args.tracks[1])]
    output: Path = args.output
    if output.suffix.lower() != ".flac":
        raise MergeError(f"{output}: the output is a FLAC file (name it .flac)")
    merge_plan = plan(channel1, channel2, rate=args.rate, align_ends=args.align_ends)
    for warning in merge_plan.warnings:
        print(f"cintel merge: warning: {warning}", file=sys.stderr)
    for note in merge_plan.notes:
        print(f"cintel merge: note: {note}", file=sys.stderr)
    if args.print_ffmpeg:
        print(ffmpeg_command(merge_plan, output))
    result = write(merge_plan, output)
    check = verify(result)
    rate = merge_plan.rate
    for p in merge_plan.placements:
        info = p.info
        end_s = (p.start + p.length) / rate
        print(
            f"channel {p.channel}: {info.track.path} ({info.rate} Hz, {info.channels} ch, {info.duration_s:.3f} s) "
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
