"""Audio work on the client side: decode, resample and merge per-participant tracks into the dual-channel file
Intelligence transcribes (`cintel merge`), and verify the result."""

from harness.media._merge import (
    MergeError,
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
from harness.media._verify import Verification, verify

__all__ = [
    "MergeError",
    "MergePlan",
    "MergeResult",
    "Placement",
    "Resampler",
    "Track",
    "TrackInfo",
    "Verification",
    "ffmpeg_command",
    "plan",
    "probe",
    "verify",
    "write",
]
