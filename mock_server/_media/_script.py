"""Text for the speech the mock found: scripts registered through the control plane, else seeded words.

A script says what is spoken on each channel, line by line; the mock cannot recognise speech, so a test that needs
particular words (a phone number to redact, a phrase an operator must find) registers them for its media. Lines go to
that channel's speech segments in time order. Without a script, each segment gets plausible call-centre words drawn
from a generator seeded by the media's hash: the same media always reads the same, and the words are about as many as
a person says in that time (about 2.5 words a second).

Pure logic and a small thread-safe store; the control-plane endpoint (`POST /__mock__/scripts`) lives elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import operator
import random
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from mock_server._media._pii import Word

WORDS_PER_SECOND = 2.5
MAX_SCRIPTS = 10_000
MAX_LINES_PER_CHANNEL = 5_000
MAX_LINE_CHARS = 2_000
MAX_SCRIPT_CHARS = 1_000_000
MAX_URL_CHARS = 4_096
CHANNELS = (1, 2)  # Twilio transcribes mono or dual-channel media

_BODY_KEYS = frozenset({"sha256", "media_url", "channels"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SegmentLike(Protocol):
    """A stretch of speech on one channel; the VAD's segment type fits (read-only attributes are enough)."""

    @property
    def channel(self) -> int: ...  # 1-based, as Twilio's media_channel
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ScriptedSentence:
    """A sentence for a segment: a superset of `mock_server._model._content.SentenceRecord`, with its words.

    Words are kept only when they cannot be recomputed (`given_words`: a redacted sentence's labels); otherwise they
    are spread over the sentence when read. A one-hour transcript has ~1,400 sentences and ~15,000 words: keeping the
    words as objects made every full garbage collection walk them all, and those pauses (70–370 ms) were the mock's
    slowest answers while media was processed (BENCHMARKS.md, "API latency while the mock hears media").
    """

    media_channel: int
    start_s: float
    end_s: float
    text: str
    confidence: float
    given_words: tuple[Word, ...] | None = None

    def __reduce__(self) -> tuple[type[ScriptedSentence], tuple[Any, ...]]:
        # Rebuilt by the constructor: a worker sends ~1,400 of these per hour of media, and the mock unpickles them
        # on a thread holding the GIL; a slots dataclass's default __setstate__ is ~2x slower (see Segment).
        return (
            ScriptedSentence,
            (self.media_channel, self.start_s, self.end_s, self.text, self.confidence, self.given_words),
        )

    @property
    def words(self) -> tuple[Word, ...]:
        """The sentence's words with their timestamps, one per whitespace-separated token of `text`."""
        if self.given_words is not None:
            return self.given_words
        return spread_words(self.text, self.start_s, self.end_s)


@dataclass(frozen=True, slots=True)
class Script:
    """Lines per channel (1 and/or 2), in the order they are spoken."""

    channels: Mapping[int, tuple[str, ...]]

    def lines(self, channel: int) -> tuple[str, ...]:
        return self.channels.get(channel, ())

    def as_json(self) -> dict[str, Any]:
        """The script as the control plane takes it (lines with their whitespace collapsed)."""
        return {"channels": {str(ch): list(self.channels[ch]) for ch in sorted(self.channels)}}


# --- parsing and keys ------------------------------------------------------------------------------------------------


def url_key(media_url: str) -> str:
    """A media URL as scripts are keyed by it: scheme, host (and port) and path only.

    The query and fragment are dropped, so a pre-signed URL still finds its script after it is signed again (and the
    signature, a credential, is never stored); userinfo is dropped for the same reason. Scheme and host are
    case-insensitive, the path is not.
    """
    if not isinstance(media_url, str) or not media_url or len(media_url) > MAX_URL_CHARS:
        raise ValueError(f"media_url: must be an http(s) URL of at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(media_url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("media_url: not a valid URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError("media_url: must be an http(s) URL with a host")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path or '/'}"


def sha256_key(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
        raise ValueError("sha256: must be 64 hexadecimal digits (the media's SHA-256)")
    return sha256.lower()


def parse_script(body: Any) -> tuple[str, Script]:
    """Validate a control-plane body; returns its key (`sha256:<hex>` or `url:<scrubbed url>`) and the script.

    Body: `{"sha256": "<hex>"}` or `{"media_url": "https://…"}` (exactly one), and
    `"channels": {"1": ["line", …], "2": [...]}`. Errors are `ValueError`s naming the field.
    """
    if not isinstance(body, Mapping):
        raise ValueError("body: must be a JSON object")
    unknown = sorted(str(k) for k in body if k not in _BODY_KEYS)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field (expected sha256 or media_url, and channels)")
    if ("sha256" in body) == ("media_url" in body):
        raise ValueError("sha256: give exactly one of sha256 and media_url")
    key = f"sha256:{sha256_key(body['sha256'])}" if "sha256" in body else f"url:{url_key(body['media_url'])}"
    return key, Script(_parse_channels(body.get("channels")))


def _parse_channels(raw: Any) -> dict[int, tuple[str, ...]]:
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError('channels: must be an object like {"1": ["line", ...], "2": [...]}')
    out: dict[int, tuple[str, ...]] = {}
    total = 0
    for name, lines in raw.items():
        if name not in ("1", "2"):
            raise ValueError(f"channels.{name}: the channel must be 1 or 2")
        field = f"channels.{name}"
        if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_LINES_PER_CHANNEL:
            raise ValueError(f"{field}: must be a list of 1 to {MAX_LINES_PER_CHANNEL} lines")
        for k, line in enumerate(lines):
            if not isinstance(line, str) or not line.strip():
                raise ValueError(f"{field}[{k}]: must be a non-empty string")
            if len(line) > MAX_LINE_CHARS:
                raise ValueError(f"{field}[{k}]: longer than {MAX_LINE_CHARS} characters")
            if _CONTROL.search(line):
                raise ValueError(f"{field}[{k}]: control characters (a line is one line of speech)")
            total += len(line)
            if total > MAX_SCRIPT_CHARS:
                raise ValueError(f"channels: more than {MAX_SCRIPT_CHARS} characters in all")
        out[int(name)] = tuple(" ".join(line.split()) for line in lines)
    return out


class ScriptStore:
    """Scripts keyed by media hash or scrubbed URL; bounded, safe to read from worker threads.

    Registering a key again replaces its script. When full, a new key is refused (a `ValueError`) rather than an old
    one evicted, so a test never silently loses the script it registered; `clear()` (the mock's reset) empties it.
    """

    def __init__(self, max_scripts: int = MAX_SCRIPTS) -> None:
        self._max = max_scripts
        self._scripts: dict[str, Script] = {}
        self._lock = threading.Lock()

    def put(self, body: Any) -> str:
        """Validate and store a control-plane body; returns the key it is stored under."""
        key, script = parse_script(body)
        with self._lock:
            if key not in self._scripts and len(self._scripts) >= self._max:
                raise ValueError(f"scripts: at most {self._max} scripts; reset the mock to register more")
            self._scripts[key] = script
        return key

    def get(self, *, sha256: str | None = None, media_url: str | None = None) -> Script | None:
        """The script for this media: by its hash first, else by its URL; None if neither was registered."""
        keys = []
        if sha256:
            keys.append(f"sha256:{sha256.lower()}")
        if media_url:
            with contextlib.suppress(ValueError):  # a URL no script could have been registered for
                keys.append(f"url:{url_key(media_url)}")
        with self._lock:
            return next((self._scripts[k] for k in keys if k in self._scripts), None)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._scripts.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._scripts.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._scripts)


# --- assigning text to segments --------------------------------------------------------------------------------------

# Short clauses of an ordinary service call. No digits, no digit words in a row, no addresses: unscripted media
# never contains PII, so the PII operator finds nothing in it unless a script puts something there.
_PHRASES = (
    "thank you for calling", "how can I help you today", "I have a question about my bill",
    "let me check that for you", "just a moment please", "I can see your account here",
    "that should be sorted now", "could you confirm your name", "I would like to change my plan",
    "the charge looks wrong to me", "I understand", "let me transfer you", "is there anything else",
    "no that is all", "thanks for your help", "I will send you an email with the details",
    "the delivery was late again", "can you tell me when it arrives", "I am sorry about that",
    "we can offer you a credit", "that sounds good", "I will update the address on file",
    "please hold while I look into it", "it was working last week", "have a great day",
    "I called yesterday about the same problem", "the order has been shipped", "we value your feedback",
)  # fmt: skip


def _rng(seed: bytes, channel: int, index: int, salt: str) -> random.Random:
    digest = hashlib.sha256(seed + f":{salt}:{channel}:{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def seeded_text(seed: bytes, channel: int, index: int, duration_s: float) -> str:
    """Plausible words for the index-th segment of a channel, about WORDS_PER_SECOND of them per second."""
    rng = _rng(seed, channel, index, "words")
    want = max(1, round(duration_s * WORDS_PER_SECOND))
    words: list[str] = []
    while len(words) < want:
        words += rng.choice(_PHRASES).split()
    words = words[:want]
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def spread_words(text: str, start_s: float, end_s: float) -> tuple[Word, ...]:
    """The tokens of `text` laid over [start_s, end_s], each taking time in proportion to its length.

    The space between two tokens counts as one character of silence, so words never touch; every word lies within
    the segment and they are in order.
    """
    tokens = text.split()
    if not tokens:
        return ()
    total = sum(len(t) for t in tokens) + len(tokens) - 1
    per_char = (end_s - start_s) / total
    out = []
    pos = 0
    for t in tokens:
        a = start_s + pos * per_char
        b = start_s + (pos + len(t)) * per_char
        out.append(Word(t, min(a, end_s), min(b, end_s)))  # unrounded: rounding could leave the segment
        pos += len(t) + 1
    return tuple(out)


def _confidence(seed: bytes, channel: int, index: int) -> float:
    return round(_rng(seed, channel, index, "confidence").uniform(0.82, 0.99), 4)


def _normalized(segment: SegmentLike) -> tuple[int, float, float]:
    """(channel, start, end) as plain Python numbers (a VAD may hand over numpy scalars), or a ValueError."""
    try:
        channel, start, end = operator.index(segment.channel), float(segment.start_s), float(segment.end_s)
    except (TypeError, ValueError):
        channel, start, end = 0, math.nan, math.nan
    if channel < 1 or not (math.isfinite(start) and math.isfinite(end)) or not 0 <= start <= end:
        raise ValueError(f"segment: channel {segment.channel!r}, {segment.start_s!r}–{segment.end_s!r} s is not valid")
    return channel, start, end


def assign_text(segments: Iterable[SegmentLike], script: Script | None, seed: bytes) -> list[ScriptedSentence]:
    """One sentence per segment, ordered by start time (then channel), with words inside the segment.

    A channel's script lines go to its segments in time order, one line each. Segments beyond the lines get seeded
    words. Lines beyond the segments are joined onto the channel's last segment, so nothing a script says is lost
    (a phone number in the last line is still there to redact); a channel with lines but no speech says nothing.
    `seed` is the media's hash (its SHA-256 digest): the same media always gets the same words.
    """
    by_channel: dict[int, list[tuple[float, float]]] = {}
    for segment in segments:
        channel, start, end = _normalized(segment)
        by_channel.setdefault(channel, []).append((start, end))
    out: list[ScriptedSentence] = []
    for channel, spans in by_channel.items():
        spans.sort()
        lines = list(script.lines(channel)) if script else []
        if len(lines) > len(spans):
            lines[len(spans) - 1 :] = [" ".join(lines[len(spans) - 1 :])]
        for index, (start, end) in enumerate(spans):
            text = lines[index] if index < len(lines) else seeded_text(seed, channel, index, end - start)
            out.append(
                ScriptedSentence(
                    media_channel=channel,
                    start_s=start,
                    end_s=end,
                    text=text,
                    confidence=_confidence(seed, channel, index),
                )
            )
    out.sort(key=lambda s: (s.start_s, s.media_channel))
    return out
