"""The shape comparison behind `cintel conformance`: values never count, fields, types, nulls and paging do."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.replay import ShapeDifference, shape_differences

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


def _same_shape(value: Any) -> Any:
    """Another value of the same shape: every scalar changed, types kept."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [_same_shape(item) for item in value]
    if isinstance(value, dict):
        return {key: _same_shape(item) for key, item in value.items()}
    return value


@given(JSON)
def test_answers_of_the_same_shape_have_no_difference_whatever_their_values(value: Any) -> None:
    assert shape_differences(value, value) == []
    assert shape_differences(value, _same_shape(value)) == []


def test_each_kind_is_reported_once_per_path_with_both_sides() -> None:
    recorded = {
        "sid": "GT1", "duration": 12, "channel": {"participants": [{"role": "agent"}, {"role": "customer"}]},
        "sentences": [{"words": [{"start": 0.5}]}, {"words": [{"start": 1}]}], "redaction": None,
    }  # fmt: skip
    mock = {
        "sid": "GT2", "duration": "12", "channel": {"participants": [{}, {}]},
        "sentences": [{"words": [{"start": "0.5"}]}, {"words": [{"start": "1"}]}], "redaction": True, "new": 1,
    }  # fmt: skip

    assert shape_differences(recorded, mock) == [
        ShapeDifference("type", "$.duration", "number", "string"),
        ShapeDifference("missing", "$.channel.participants[].role", "string", "absent"),
        ShapeDifference("type", "$.sentences[].words[].start", "number", "string"),
        ShapeDifference("null", "$.redaction", "null", "boolean"),
        ShapeDifference("extra", "$.new", "absent", "number"),
    ]


def test_paging_differences_are_their_own_kind() -> None:
    recorded = {"transcripts": [], "meta": {"key": "transcripts", "page_size": 50, "next_page_url": None,
                "url": "https://x/v2/Transcripts?PageSize=50&Page=0"}}  # fmt: skip
    mock = {"transcripts": [], "meta": {"key": "items", "page_size": 20, "next_page_url": "https://x/?Page=1",
            "url": "https://x/v2/Transcripts?PageSize=50&Page=0&PageToken=x"}}  # fmt: skip

    assert shape_differences(recorded, mock) == [
        ShapeDifference("paging", "$.meta.next_page_url", "null", "string"),
        ShapeDifference("paging", "$.meta.key", "'transcripts'", "'items'"),
        ShapeDifference("paging", "$.meta.page_size", "50", "20"),
        ShapeDifference("paging", "$.meta.url", "parameters Page,PageSize", "parameters Page,PageSize,PageToken"),
    ]
