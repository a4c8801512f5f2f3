"""The pre-built PII operator's result and the media intervals to silence, from `_pii.find_pii`'s findings.

The three outputs that must agree — redacted sentences (`_pii.redact_text`/`redact_words`), this operator result and
these intervals — all come from one detector, so a value redacted in the text is the one reported and silenced.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mock_server._media._pii import (
    MATCH_PROBABILITY,
    REDACTION_FORM,
    Interval,
    PiiSentence,
    WordedSentence,
    find_pii,
    redaction_of,
    token_cover,
    token_spans,
)

_RESULT_FIELDS = (  # the spec's OperatorResult, in its order
    "operator_type", "name", "operator_sid", "extract_match", "match_probability", "normalized_result",
    "utterance_results", "utterance_match", "predicted_label", "predicted_probability", "label_probabilities",
    "extract_results", "text_generation_results", "json_results", "transcript_sid", "url",
)  # fmt: skip


def pii_operator_result(
    sentences: Sequence[PiiSentence],
    *,
    operator_sid: str,
    name: str,
    transcript_sid: str,
    url: str,
    redacted: bool,
    form: str = REDACTION_FORM,
) -> dict[str, Any]:
    """The pre-built PII operator's result, in the spec's OperatorResult shape.

    `extract_results.entities` lists what was found in transcript order (each shown as its label when `redacted`);
    `utterance_results` has one entry per finding: the sentence's index (its position in `sentences`), channel,
    label and the value. `extract_match` says whether anything was found.
    """
    entities: list[str] = []
    utterances: list[dict[str, Any]] = []
    for index, sentence in enumerate(sentences):
        for m in find_pii(sentence.text):
            shown = redaction_of(m.kind, form) if redacted else m.text
            entities.append(shown)
            utterances.append(
                {
                    "utterance_index": index,
                    "media_channel": sentence.media_channel,
                    "label": m.kind,
                    "entity": shown,
                    "probability": MATCH_PROBABILITY,
                }
            )
    body: dict[str, Any] = dict.fromkeys(_RESULT_FIELDS)  # every field present, as in the mock's other results
    body.update(operator_type="pii-extract", name=name, operator_sid=operator_sid, transcript_sid=transcript_sid)
    body.update(extract_match=bool(entities), match_probability=MATCH_PROBABILITY if entities else 0.0, url=url)
    body.update(utterance_results=utterances, label_probabilities={}, extract_results={"entities": entities})
    return body


def merge_intervals(intervals: Iterable[tuple[int, float, float]]) -> list[Interval]:
    """Per channel, overlapping or touching intervals joined; sorted by channel then start."""
    out: list[Interval] = []
    for iv in sorted(Interval(*t) for t in intervals):
        if out and out[-1].channel == iv.channel and iv.start_s <= out[-1].end_s:
            out[-1] = Interval(iv.channel, out[-1].start_s, max(out[-1].end_s, iv.end_s))
        else:
            out.append(iv)
    return out


def pii_intervals(sentences: Iterable[PiiSentence]) -> list[Interval]:
    """Where each finding was spoken, to silence in the redacted media.

    With words (a sentence that is also a `WordedSentence` whose words line up with its text's tokens), the
    interval runs from the first covered word's start to the last one's end; otherwise it is the whole sentence.
    Merged per channel.
    """
    out: list[Interval] = []
    for s in sentences:
        matches = find_pii(s.text)
        if not matches:
            continue
        words = s.words if isinstance(s, WordedSentence) else ()
        spans = token_spans(s.text)
        if not words or len(words) != len(spans):
            out.append(Interval(s.media_channel, s.start_s, s.end_s))
            continue
        for first, last, _ in token_cover(spans, matches):
            out.append(Interval(s.media_channel, words[first].start_s, words[last].end_s))
    return merge_intervals(out)
