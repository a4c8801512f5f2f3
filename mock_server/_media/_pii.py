"""PII in sentence text: what the pre-built "PII Extract" operator finds, how redacted text reads, and where in the
media each finding was spoken.

Pure functions over strings and plain records; no I/O. One detector (`find_pii`) feeds the three outputs that must
agree with each other: the redacted sentences (`redact_text`, `redact_words`), the operator result
(`pii_operator_result`) and the intervals silenced in the redacted media (`pii_intervals`).

What counts as PII here is deliberately rule-based and exact (a mock must be predictable): e-mail addresses (written
or spoken, "pat dot jones at example dot com"), payment card numbers (13–19 digits, Luhn-checked), IBANs (mod-97
checked), US social security numbers (3-2-4 digits, invalid areas excluded) and phone numbers (E.164, national
formats, digits or digit words read one by one). Twilio documents neither its detector nor how redacted text reads;
the labels follow the PascalCase entity names ("PhoneNumber") seen in third-party type definitions of Twilio's earlier
Voice Intelligence API, shown as `[PhoneNumber]` — a choice, not a confirmed fact (notes/README-pii.md).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

PHONE = "PhoneNumber"
EMAIL = "EmailAddress"
CARD = "CreditCardNumber"
SSN = "SocialSecurityNumber"
IBAN = "IBAN"
LABELS = (PHONE, EMAIL, CARD, SSN, IBAN)
REDACTION_FORM = "[{label}]"  # what replaces a finding in redacted text; "{label}" is the entity label

# When two findings overlap, the more specific one wins (an e-mail's digits are not a phone number).
_PRIORITY = {EMAIL: 0, IBAN: 1, CARD: 2, SSN: 3, PHONE: 4}
MATCH_PROBABILITY = 0.99  # rule-based findings are certain; reported when something was found


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One finding: its entity label and its [start, end) character offsets in the sentence text."""

    kind: str
    start: int
    end: int
    text: str


class Interval(NamedTuple):
    """A stretch of one media channel (1-based, as `media_channel`) in seconds from the start of the media."""

    channel: int
    start_s: float
    end_s: float


class PiiSentence(Protocol):
    """What the detector needs of a sentence; `mock_server._model._content.SentenceRecord` fits."""

    @property
    def media_channel(self) -> int: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def text(self) -> str: ...


class TimedWord(Protocol):
    @property
    def word(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


@runtime_checkable
class WordedSentence(Protocol):
    """A sentence that also carries its words with timestamps, one per whitespace-separated token of `text`."""

    @property
    def words(self) -> Sequence[TimedWord]: ...


@dataclass(frozen=True, slots=True)
class Word:
    """A word with its timestamps, as redacted words are returned."""

    word: str
    start_s: float
    end_s: float

    def __reduce__(self) -> tuple[type[Word], tuple[str, float, float]]:
        # Rebuilt by the constructor: faster to unpickle than a slots dataclass's __setstate__ (see Segment).
        return (Word, (self.word, self.start_s, self.end_s))


# --- detectors ----------------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# Spoken e-mail as speech recognition writes it; the top-level domain must be a real one, so "look at this dot"
# in ordinary speech is not an address.
_TLDS = "com|net|org|edu|gov|io|co|uk|de|fr|es|it|nl|us|ca|au|info|biz"
_NOT_A_DOMAIN = "the|this|that|these|those|a|an|my|your|our|his|her|its|their|least|all|home|work|once"
# Found from each " at " outwards (the domain forwards, the local part backwards on the reversed text), so the cost
# stays linear in the text: matching the whole pattern from every word would be quadratic on "x dot x dot …".
_SPOKEN_AT = re.compile(r"\s+at\s+", re.IGNORECASE)
_SPOKEN_DOMAIN = re.compile(
    rf"(?!(?:{_NOT_A_DOMAIN})\b)[A-Za-z0-9]+(?:\s+dot\s+[A-Za-z0-9]+)*\s+dot\s+(?:{_TLDS})\b", re.IGNORECASE
)
_SPOKEN_LOCAL_REVERSED = re.compile(r"[A-Za-z0-9]+(?:\s+(?:tod|erocsrednu|hsad)\s+[A-Za-z0-9]+)*\b", re.IGNORECASE)
# A run of digit groups joined by single separators: "+1 (555) 010-4477", "4111 1111 1111 1111", "5 5 5 0 1 0 4".
# Not glued to letters on either side; a trailing sentence period is not a separator (a digit must follow one).
_GROUP = r"\(?[0-9]+(?:\)[0-9]*)?"  # ASCII digits only, as everywhere here (\d would take ٣ and １ too)
_RUN = re.compile(rf"(?<![\w+.-])\+?{_GROUP}(?:[ .-]{_GROUP})*(?![\w])")
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_DIGIT_WORD = "|".join(_DIGIT_WORDS)
_WORD_RUN = re.compile(rf"\b(?:{_DIGIT_WORD})(?:[ ,-]+(?:{_DIGIT_WORD}))+\b", re.IGNORECASE)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")


def luhn_ok(digits: str) -> bool:
    """The Luhn check every payment card number passes (ISO/IEC 7812)."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616: country letters, two check digits, 11–30 alphanumerics; the rearranged number mod 97 is 1."""
    s = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", s):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


class _Group(NamedTuple):
    start: int
    end: int
    digits: str
    sep_before: str  # "" for the first group
    paren: bool = False  # written with a parenthesis: "(555)", "(0)20"


def _looks_like_date_or_amount(groups: Sequence[_Group]) -> bool:
    """2023-05-12, 12.05.2023 and 1.000.000 are read aloud often and are not phone numbers."""
    lengths = [len(g.digits) for g in groups]
    if len(groups) == 3 and (
        (lengths[0] == 4 and max(lengths[1:]) <= 2) or (lengths[2] == 4 and max(lengths[:2]) <= 2)
    ):
        return True
    return (
        len(groups) >= 2
        and all(g.sep_before in (".", ",") for g in groups[1:])
        and lengths[0] <= 3
        and all(n == 3 for n in lengths[1:])
    )


def _classify_run(groups: list[_Group], plus: bool) -> list[tuple[str, int, int]]:
    """Label the digit groups of one run: (kind, start, end) spans, left to right, not overlapping.

    A card number opens the run (what follows it, such as an expiry date, stays text); a phone number is the whole
    run, or the whole rest after a card. A number is never cut in two to make a phone number out of one piece.
    """
    seps = {g.sep_before for g in groups[1:]}
    if not plus and len(groups) == 3 and [len(g.digits) for g in groups] == [3, 2, 4] and seps <= {"-", " "}:
        # The shape of a US SSN is taken as one, valid or not: an invalid one is no phone number either.
        area, group, serial = (g.digits for g in groups)
        valid = area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"
        return [(SSN, groups[0].start, groups[2].end)] if valid else []
    out: list[tuple[str, int, int]] = []
    rest = 0
    card = None if plus else _card_prefix(groups)
    if card is not None:
        out.append((CARD, groups[0].start, groups[card].end))
        rest = card + 1
    tail = groups[rest:]
    if tail and _is_phone(tail, plus and rest == 0):
        out.append((PHONE, tail[0].start - (1 if plus and rest == 0 else 0), tail[-1].end))
    return out


def _card_prefix(groups: Sequence[_Group]) -> int | None:
    """The last group of the longest Luhn-valid card number opening the run (joined by spaces or dashes only)."""
    best = None
    count = 0
    for j, group in enumerate(groups):
        if group.paren or (j and group.sep_before not in (" ", "-")):
            break
        count += len(group.digits)
        if count > 19:
            break
        if count >= 13 and luhn_ok("".join(g.digits for g in groups[: j + 1])):
            best = j
    return best


def _is_phone(groups: Sequence[_Group], plus: bool) -> bool:
    """E.164 allows at most 15 digits (after "+", or "00" dialled abroad); a national number has 7 to 12."""
    n = sum(len(g.digits) for g in groups)
    if plus:
        return 7 <= n <= 15
    low, high = (9, 17) if groups[0].digits.startswith("00") else (7, 12)
    return low <= n <= high and not _looks_like_date_or_amount(groups)


def _groups(text: str, start: int, end: int) -> tuple[list[_Group], bool]:
    plus = text[start] == "+"
    out: list[_Group] = []
    for m in re.finditer(rf"[ .-]?{_GROUP}", text[start:end]):
        raw = m.group()
        sep = raw[0] if raw[0] in " .-" else ""
        digits = re.sub(r"[^0-9]", "", raw)
        lead = 1 if sep else 0
        out.append(_Group(start + m.start() + lead, start + m.end(), digits, sep, "(" in raw or ")" in raw))
    return out, plus


def find_pii(text: str) -> list[PiiMatch]:
    """Every finding in `text`, sorted by position, none overlapping (the more specific kind wins an overlap)."""
    found: list[tuple[str, int, int]] = []
    found += [(EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(text)]
    found += _spoken_emails(text)
    for m in _IBAN.finditer(text):
        span = _iban_span(m)
        if span is not None:
            found.append((IBAN, *span))
    for m in _RUN.finditer(text):
        groups, plus = _groups(text, m.start(), m.end())
        found += _classify_run(groups, plus)
    for m in _WORD_RUN.finditer(text):
        # Digit words are read one per digit; a space, comma or dash between each counts as one separator.
        words = re.finditer(r"[A-Za-z]+", m.group())
        groups = [
            _Group(m.start() + w.start(), m.start() + w.end(), _DIGIT_WORDS[w.group().lower()], " " if k else "")
            for k, w in enumerate(words)
        ]
        found += _classify_run(groups, False)
    # Keep findings in priority order, each only if it overlaps none kept so far (kept spans are disjoint and sorted,
    # so the neighbours found by bisection are the only ones that could overlap).
    starts: list[int] = []
    kept: list[tuple[int, int, str]] = []
    for kind, start, end in sorted(found, key=lambda f: (_PRIORITY[f[0]], f[1], -f[2])):
        k = bisect.bisect_left(starts, start)
        if (k and kept[k - 1][1] > start) or (k < len(kept) and kept[k][0] < end):
            continue
        starts.insert(k, start)
        kept.insert(k, (start, end, kind))
    return [PiiMatch(kind, s, e, text[s:e]) for s, e, kind in kept]


def _spoken_emails(text: str) -> list[tuple[str, int, int]]:
    """ "pat dot jones at example dot com", as speech recognition writes an address that was read out."""
    out = []
    reversed_text = text[::-1]
    for at in _SPOKEN_AT.finditer(text):
        domain = _SPOKEN_DOMAIN.match(text, at.end())
        local = _SPOKEN_LOCAL_REVERSED.match(reversed_text, len(text) - at.start())
        if domain and local:
            out.append((EMAIL, len(text) - local.end(), domain.end()))
    return out


def _iban_span(m: re.Match[str]) -> tuple[int, int] | None:
    """The longest prefix of the candidate (at group boundaries) whose checksum holds."""
    candidate = m.group()
    cuts = [len(candidate)] + [k for k in range(len(candidate) - 1, 4, -1) if candidate[k] == " "]
    for cut in cuts:
        if iban_ok(candidate[:cut]):
            return m.start(), m.start() + cut
    return None


# --- redaction ----------------------------------------------------------------------------------------------------


def _checked(text: str, matches: Iterable[PiiMatch]) -> list[PiiMatch]:
    ordered = sorted(matches, key=lambda m: m.start)
    for prev, cur in itertools.pairwise(ordered):
        if cur.start < prev.end:
            raise ValueError(f"overlapping matches at {prev.start}-{prev.end} and {cur.start}-{cur.end}")
    for m in ordered:
        if not 0 <= m.start < m.end <= len(text) or text[m.start : m.end] != m.text:
            raise ValueError(f"match {m.kind} at {m.start}-{m.end} is not in this text")
    return ordered


def redaction_of(kind: str, form: str = REDACTION_FORM) -> str:
    return form.format(label=kind)


def redact_text(text: str, matches: Iterable[PiiMatch] | None = None, *, form: str = REDACTION_FORM) -> str:
    """`text` with each finding replaced by its label (`[PhoneNumber]`); findings default to `find_pii(text)`."""
    out = []
    pos = 0
    for m in _checked(text, find_pii(text) if matches is None else matches):
        out.append(text[pos : m.start])
        out.append(redaction_of(m.kind, form))
        pos = m.end
    out.append(text[pos:])
    return "".join(out)


def token_spans(text: str) -> list[tuple[int, int]]:
    return [(t.start(), t.end()) for t in re.finditer(r"\S+", text)]


def token_cover(spans: Sequence[tuple[int, int]], matches: Sequence[PiiMatch]) -> list[tuple[int, int, PiiMatch]]:
    """For each finding, the first and last whitespace-separated token it touches (both lists are sorted, so one pass
    serves them all)."""
    out = []
    k = 0
    for m in matches:
        while k < len(spans) and spans[k][1] <= m.start:
            k += 1
        if k == len(spans) or spans[k][0] >= m.end:
            continue  # only whitespace: no word to cover
        last = k
        while last + 1 < len(spans) and spans[last + 1][0] < m.end:
            last += 1
        out.append((k, last, m))
    return out


def redact_words(
    text: str, words: Sequence[TimedWord], matches: Iterable[PiiMatch] | None = None, *, form: str = REDACTION_FORM
) -> list[Word]:
    """The words of a redacted sentence: the words a finding covers become one word, its label, spanning their time.

    `words` are the sentence's whitespace-separated tokens in order, with timestamps. A token only partly covered
    ("+1 555 010 4477." ends in a period) is replaced whole. If the words do not line up with the text, every word
    is replaced by the first finding's label, keeping the count (which word said what is unknown, so none is kept).
    """
    found = _checked(text, find_pii(text) if matches is None else matches)
    spans = token_spans(text)
    if len(spans) != len(words):
        return [Word(redaction_of(found[0].kind, form), w.start_s, w.end_s) if found else _plain(w) for w in words]
    out: list[Word] = []
    k = 0
    for first, last, m in token_cover(spans, found):
        if first < k:  # shares a word with the finding before it ("pat@example.com,+15550104477"): one word
            if last >= k:
                out[-1] = Word(out[-1].word, out[-1].start_s, words[last].end_s)
                k = last + 1
            continue
        out.extend(_plain(w) for w in words[k:first])
        out.append(Word(redaction_of(m.kind, form), words[first].start_s, words[last].end_s))
        k = last + 1
    out.extend(_plain(w) for w in words[k:])
    return out


def _plain(w: TimedWord) -> Word:
    return Word(w.word, w.start_s, w.end_s)
