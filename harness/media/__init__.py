"""Audio work on the client side: decode (soundfile, or PyAV for Video's containers), resample and merge
per-participant tracks into the dual-channel file Intelligence transcribes (`cintel merge`), verify the result, and
fetch a Video room's tracks with their offsets from room start (`VideoClient`, `download_room_tracks`)."""

from harness.media._decode import MergeError, SourceInfo, container_start, inspect
from harness.media._merge import (
    MergePlan,
    MergeResult,
    Placement,
    Track,
    TrackInfo,
    ffmpeg_command,
    plan,
    probe,
    write,
)
from harness.media._resample import Resampler
from harness.media._room import RoomNotReady, RoomTrack, download_room_tracks, participants_with_audio
from harness.media._verify import Verification, verify
from harness.media._video import MediaDownloadError, VideoClient
from harness.media._video_models import Composition, Participant, Recording, Room

__all__ = [
    "Composition",
    "MediaDownloadError",
    "MergeError",
    "MergePlan",
    "MergeResult",
    "Participant",
    "Placement",
    "Recording",
    "Resampler",
    "Room",
    "RoomNotReady",
    "RoomTrack",
    "SourceInfo",
    "Track",
    "TrackInfo",
    "Verification",
    "VideoClient",
    "container_start",
    "download_room_tracks",
    "ffmpeg_command",
    "inspect",
    "participants_with_audio",
    "plan",
    "probe",
    "verify",
    "write",
]
