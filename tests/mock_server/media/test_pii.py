"""PII in sentence text (mock_server/_media/_pii.py): what is found, what is not, how redacted text and words read,
the pre-built operator's result in the spec's shape, and the media intervals to silence."""

from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mock_server._media._pii import (
    CARD,
    EMAIL,
    IBAN,
    PHONE,
    SSN,
    Interval,
    PiiMatch,
    PiiSentence,
    Word,
    find_pii,
    iban_ok,
    luhn_ok,
    redact_text,
    redact_words,
)
from mock_server._media._pii_results import merge_intervals, pii_intervals, pii_operator_result
from mock_server._model._content import SentenceRecord
from tests.spec_schema import validate_response


def found(text: str) -> list[tuple[str, str]]:
    return [(m.kind, m.text) for m in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sure, it is +1 555 010 4477.", [(PHONE, "+1 555 010 4477")]),
        ("call (555) 010-4477 now", [(PHONE, "(555) 010-4477")]),
        ("it's 555.010.4477.", [(PHONE, "555.010.4477")]),
        ("+44 (0)20 7946 0958 is the office", [(PHONE, "+44 (0)20 7946 0958")]),
        ("dial 0044 20 7946 0958", [(PHONE, "0044 20 7946 0958")]),
        ("my mobile is 07700 900123", [(PHONE, "07700 900123")]),
        ("+4915123456789", [(PHONE, "+4915123456789")]),
        ("it is 5 5 5 0 1 0 4 4 7 7 yes", [(PHONE, "5 5 5 0 1 0 4 4 7 7")]),
        ("five five five, zero one two, four four", [(PHONE, "five five five, zero one two, four four")]),
        ("My email is pat.jones@example.com.", [(EMAIL, "pat.jones@example.com")]),
        ("mail a_b+tag@mail.example.co.uk today", [(EMAIL, "a_b+tag@mail.example.co.uk")]),
        ("it's pat dot jones at example dot com", [(EMAIL, "pat dot jones at example dot com")]),
        ("pat at mail dot example dot co dot uk, yes", [(EMAIL, "pat at mail dot example dot co dot uk")]),
        ("card 4111 1111 1111 1111 expiring 12 25", [(CARD, "4111 1111 1111 1111")]),
        ("amex 3782-822463-10005.", [(CARD, "3782-822463-10005")]),
        ("4111111111111111", [(CARD, "4111111111111111")]),
        (f"it is {' '.join(['four'] + ['one'] * 15)}", [(CARD, " ".join(["four"] + ["one"] * 15))]),
        ("my ssn is 123-45-6789", [(SSN, "123-45-6789")]),
        ("it is 123 45 6789", [(SSN, "123 45 6789")]),
        ("GB82 WEST 1234 5698 7654 32 is my account", [(IBAN, "GB82 WEST 1234 5698 7654 32")]),
        ("iban DE89370400440532013000", [(IBAN, "DE89370400440532013000")]),
        ("call +1 555 010 4477 or pat@example.com", [(PHONE, "+1 555 010 4477"), (EMAIL, "pat@example.com")]),
    ],
)  # fmt: skip
def test_finds_pii(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for calling, how can I help you today?",
        "card 4111-1111-1111-1112",  # fails the Luhn check: not a card, and too long for a phone number
        "the SSN 000-45-6789 is not a valid one",  # area 000 is never issued
        "666-12-3456 and 912-12-3456",
        "GB83 WEST 1234 5698 7654 32",  # a wrong IBAN check digit
        "on 2023-05-12 or 12.05.2023 we paid 1.000.000",
        "at 10.30 I had 3 or 4 items, order 123456",
        "version 1.2.3 of the app",
        "just one moment, oh, one more thing",
        "user@localhost",  # no top-level domain
        "١٢٣٤٥٦٧٨٩ and １２３４５６７８",  # only ASCII digits are read as numbers
        "look at this dot com bubble",  # "at this": a spoken domain is never a determiner or pronoun
        "meet me at the dot com party",
    ],
)
def test_not_pii(text: str) -> None:
    assert found(text) == []


def _luhn_complete(payload: str) -> str:
    """The payload with the check digit that makes it pass the Luhn check."""
    return next(payload + d for d in string.digits if luhn_ok(payload + d))


def _grouped(digits: str, sep: str, size: int = 4) -> str:
    return sep.join(digits[i : i + size] for i in range(0, len(digits), size))


@given(
    payload=st.text("0123456789", min_size=12, max_size=18).filter(lambda p: p[0] != "0"),
    sep=st.sampled_from(["", " ", "-"]),
    before=st.sampled_from(["", "my card is ", "number: "]),
    after=st.sampled_from(["", ".", " thanks", ", expiry twelve"]),
)
def test_any_luhn_valid_number_is_one_card(payload: str, sep: str, before: str, after: str) -> None:
    number = _grouped(_luhn_complete(payload), sep)
    assert found(before + number + after) == [(CARD, number)]


@given(
    payload=st.text("0123456789", min_size=12, max_size=15).filter(lambda p: p[0] != "0"),  # "00…" dials abroad
    sep=st.sampled_from(["", " ", "-"]),
    wrong=st.integers(1, 9),
)
def test_a_number_failing_luhn_is_not_a_card(payload: str, sep: str, wrong: int) -> None:
    valid = _luhn_complete(payload)
    digits = valid[:-1] + str((int(valid[-1]) + wrong) % 10)
    assert not luhn_ok(digits)
    # 13–16 digits: nothing else (no phone number is that long without a country code).
    assert found(f"the number {_grouped(digits, sep)} please") == []


@given(
    country=st.text("0123456789", min_size=1, max_size=3).filter(lambda c: c[0] != "0"),
    rest=st.text("0123456789", min_size=6, max_size=11),
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    sep=st.sampled_from([" ", "-", "."]),
)
def test_e164_numbers_in_any_grouping_are_phone_numbers(country: str, rest: str, sizes: list[int], sep: str) -> None:
    assume(len(country) + len(rest) <= 15)
    groups, pos = [], 0
    for size in sizes:
        if pos < len(rest):
            groups.append(rest[pos : pos + size])
            pos += size
    if pos < len(rest):
        groups.append(rest[pos:])
    number = f"+{country} " + sep.join(groups)
    assert found(f"call me on {number}, thanks") == [(PHONE, number)]


@given(digits=st.text("0123456789", min_size=7, max_size=12), sep=st.sampled_from([" ", "-"]))
def test_digits_read_one_by_one_are_a_phone_number(digits: str, sep: str) -> None:
    spoken = sep.join(digits)
    assume(not digits.startswith("00"))  # the international call prefix: then at least 9 digits
    assert found(f"it is {spoken} okay") == [(PHONE, spoken)]


_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@given(digits=st.lists(st.integers(0, 9), min_size=7, max_size=12))
def test_digit_words_are_a_phone_number(digits: list[int]) -> None:
    assume(digits[:2] != [0, 0])
    spoken = " ".join(_WORDS[d] for d in digits)
    assert found(f"Yes it is {spoken}.") == [(PHONE, spoken)]


@given(digits=st.text("0123456789", min_size=1, max_size=6), sep=st.sampled_from([" ", "-", ""]))
def test_fewer_than_seven_digits_are_not_a_phone_number(digits: str, sep: str) -> None:
    assert found(f"I have {sep.join(digits)} items") == []


_LOCAL = st.text(string.ascii_lowercase + string.digits + "._+", min_size=1, max_size=12).filter(
    lambda s: s[0].isalnum() and s[-1].isalnum()
)
_LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10)


@given(local=_LOCAL, labels=st.lists(_LABEL, min_size=1, max_size=3), tld=st.sampled_from(["com", "org", "io", "uk"]))
def test_email_addresses(local: str, labels: list[str], tld: str) -> None:
    address = f"{local}@{'.'.join(labels)}.{tld}"
    assert found(f"write to {address}. Thanks") == [(EMAIL, address)]


def test_iban_checksum() -> None:
    assert iban_ok("GB82 WEST 1234 5698 7654 32")
    assert iban_ok("FR14 2004 1010 0505 0001 3M02 606")
    assert not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert not iban_ok("GB82")


@given(st.text(alphabet=string.printable + "٣１０", max_size=300))
def test_any_text_yields_ordered_disjoint_matches_that_are_in_the_text(text: str) -> None:
    matches = find_pii(text)
    assert all(text[m.start : m.end] == m.text for m in matches)
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))
    redacted = redact_text(text, matches)
    assert redacted == redact_text(text)  # the default finds the same
    for m in matches:
        assert f"[{m.kind}]" in redacted


@given(words=st.lists(st.sampled_from(["thanks", "the", "order", "hello", "billing", "address"]), max_size=40))
def test_ordinary_words_are_never_pii(words: list[str]) -> None:
    assert find_pii(" ".join(words)) == []


def test_hostile_text_is_handled() -> None:
    # Long runs of what almost matches: each used to be quadratic for one of the patterns (a script line joined
    # from many lines can be long); these finish at once now.
    text = "1 " * 20_000 + "+" * 1000 + "1-" * 20_000 + "a@" * 5000 + "x dot " * 20_000 + "a at b dot " * 5000
    assert all(m.kind in (PHONE, EMAIL, CARD) for m in find_pii(text))
    many = "a@b.co +1 555 010 4477 " * 5_000  # many findings: keeping them disjoint used to be quadratic
    assert len(find_pii(many)) == 10_000
    words = [Word(w, k, k + 1) for k, w in enumerate(many.split())]
    assert len(redact_words(many, words)) == 10_000
    assert find_pii("pat at " + "x dot " * 20_000 + "com")[0].kind == EMAIL


def test_redact_text_labels_each_finding() -> None:
    text = "Call +1 555 010 4477 or mail pat@example.com."
    assert redact_text(text) == "Call [PhoneNumber] or mail [EmailAddress]."
    assert redact_text(text, form="{{{label}}}") == "Call {PhoneNumber} or mail {EmailAddress}."
    assert redact_text(text, form="[Redacted]") == "Call [Redacted] or mail [Redacted]."
    assert redact_text(text, []) == text


def test_redact_text_refuses_matches_that_are_not_in_the_text() -> None:
    text = "Call +1 555 010 4477"
    with pytest.raises(ValueError, match="not in this text"):
        redact_text(text, [PiiMatch(PHONE, 0, 4, "nope")])
    with pytest.raises(ValueError, match="overlapping"):
        redact_text(text, [PiiMatch(PHONE, 0, 4, "Call"), PiiMatch(PHONE, 2, 6, "ll +")])


def _words(text: str, start: float = 10.0) -> list[Word]:
    return [Word(tok, start + k, start + k + 0.5) for k, tok in enumerate(text.split())]


def test_redact_words_replaces_the_covered_words_with_one_label_spanning_them() -> None:
    text = "Sure, it is +1 555 010 4477. Bye"
    out = redact_words(text, _words(text))
    assert [w.word for w in out] == ["Sure,", "it", "is", "[PhoneNumber]", "Bye"]
    assert (out[3].start_s, out[3].end_s) == (13.0, 16.5)  # from "+1" to "4477."
    assert (out[4].start_s, out[4].end_s) == (17.0, 17.5)


def test_redact_words_keeps_the_count_when_words_do_not_line_up_with_the_text() -> None:
    text = "mail pat@example.com"
    words = [Word("mail", 0, 1), Word("pat", 1, 2), Word("at", 2, 3), Word("example.com", 3, 4)]
    out = redact_words(text, words)
    assert [w.word for w in out] == ["[EmailAddress]"] * 4
    glued = "mail pat@example.com,+15550104477 now"  # two findings in one word: one redacted word
    out = redact_words(glued, _words(glued))
    assert [(w.word, w.start_s, w.end_s) for w in out] == [
        ("mail", 10, 10.5), ("[EmailAddress]", 11, 11.5), ("now", 12, 12.5)
    ]  # fmt: skip
    assert redact_words("hello there", _words("hello there x")) == _words("hello there x")


@dataclass(frozen=True)
class Timed:
    media_channel: int
    start_s: float
    end_s: float
    text: str
    words: list[Word] = field(default_factory=list)


def test_intervals_use_the_words_covering_a_finding() -> None:
    text = "my number is 5 5 5 0 1 0 4 4 7 7 thanks"
    sentence = Timed(2, 10.0, 30.0, text, _words(text))
    # tokens 3..12 are the digits: words start at 10 + k
    assert pii_intervals([sentence]) == [Interval(2, 13.0, 22.5)]


def test_intervals_fall_back_to_the_whole_sentence_without_words() -> None:
    sentences: list[PiiSentence] = [
        SentenceRecord(1, 1.0, 4.0, "Sure, it is +1 555 010 4477.", 0.9),
        SentenceRecord(2, 5.0, 6.0, "nothing here", 0.9),
        Timed(2, 7.0, 9.0, "mail pat@example.com", [Word("x", 7, 8)]),  # words that do not line up
    ]
    assert pii_intervals(sentences) == [Interval(1, 1.0, 4.0), Interval(2, 7.0, 9.0)]


def test_intervals_are_merged_per_channel() -> None:
    raw = [Interval(1, 5, 6), Interval(2, 1, 2), Interval(1, 1, 3), Interval(1, 2.5, 4), Interval(1, 4, 4.5)]
    assert merge_intervals(raw) == [Interval(1, 1, 4.5), Interval(1, 5, 6), Interval(2, 1, 2)]


SENTENCES = [
    SentenceRecord(1, 0.5, 2.0, "Thank you for calling, can I have your number?", 0.9),
    SentenceRecord(2, 2.5, 5.0, "Sure, it is +1 555 010 4477.", 0.9),
    SentenceRecord(1, 5.5, 6.0, "And your email?", 0.9),
    SentenceRecord(2, 6.5, 9.0, "pat.jones@example.com, and my card is 4111 1111 1111 1111.", 0.9),
]
SID = "GT" + "a" * 32
OPERATOR = "LY" + "b" * 32
URL = f"https://intelligence.twilio.com/v2/Transcripts/{SID}/OperatorResults/{OPERATOR}"


def _result(sentences: Any, *, redacted: bool) -> dict[str, Any]:
    return pii_operator_result(
        sentences, operator_sid=OPERATOR, name="PII Extract", transcript_sid=SID, url=URL, redacted=redacted
    )


def test_operator_result_lists_each_finding_with_its_utterance(intelligence_spec: dict[str, Any]) -> None:
    plain = _result(SENTENCES, redacted=False)
    validate_response(intelligence_spec, "FetchOperatorResult", 200, plain)
    assert plain["operator_type"] == "pii-extract"
    assert plain["extract_match"] is True
    assert plain["extract_results"] == {"entities": ["+1 555 010 4477", "pat.jones@example.com", "4111 1111 1111 1111"]}
    assert [(u["utterance_index"], u["media_channel"], u["label"]) for u in plain["utterance_results"]] == [
        (1, 2, PHONE),
        (3, 2, EMAIL),
        (3, 2, CARD),
    ]
    redacted = _result(SENTENCES, redacted=True)
    validate_response(intelligence_spec, "FetchOperatorResult", 200, redacted)
    assert redacted["extract_results"] == {"entities": ["[PhoneNumber]", "[EmailAddress]", "[CreditCardNumber]"]}
    assert "4477" not in str(redacted) and "@" not in str(redacted)  # noqa: PT018


def test_operator_result_without_pii_says_no_match(intelligence_spec: dict[str, Any]) -> None:
    body = _result(SENTENCES[:1], redacted=True)
    validate_response(intelligence_spec, "FetchOperatorResult", 200, body)
    assert body["extract_match"] is False
    assert body["extract_results"] == {"entities": []}
    assert body["utterance_results"] == []


def test_operator_result_has_every_field_of_the_spec(intelligence_spec: dict[str, Any]) -> None:
    schema = intelligence_spec["components"]["schemas"]["intelligence.v2.transcript.operator_result"]
    assert set(_result(SENTENCES, redacted=True)) == set(schema["properties"])


def test_redacted_sentences_operator_result_and_intervals_agree() -> None:
    redacted_text = " ".join(redact_text(s.text) for s in SENTENCES)
    labels = re.findall(r"\[(\w+)\]", redacted_text)
    result = _result(SENTENCES, redacted=True)
    assert labels == [u["label"] for u in result["utterance_results"]]
    assert {iv.channel for iv in pii_intervals(SENTENCES)} == {2}
