"""Expectations judged against what was seen: each passes, fails saying what happened instead, or — against
Twilio, where there is no control plane — is listed as skipped, never passed."""

from __future__ import annotations

from typing import Any

import pytest

from harness.scenarios import ItemResult, Observations, Outcome, evaluate
from harness.scenarios._model_expect import Expect


def expect(**fields: Any) -> Expect:
    return Expect.model_validate(fields)


def sentence(channel: int, start: float) -> dict[str, Any]:
    return {"media_channel": channel, "start_time": f"{start:.3f}", "transcript": "Hello, thank you for calling."}


def seen(**fields: Any) -> Observations:
    items = {
        "a": ItemResult(
            "a", "completed", "GT1", sentences=[sentence(1, 0.51), sentence(2, 3.0)], metadata={"queue": "billing"}
        ),
        "b": ItemResult("b", "failed", "GT2", error="transcript failed"),
        "c": ItemResult("c", "rejected", error="3 participants: Twilio lets at most two be overridden"),
    }
    stats = {"requests": 40, "rejected_429": 10, "transcripts_by_customer_key": {"a": 1, "b": 1},
             "webhooks_sent": 2, "webhooks_dropped": 0, "current_limit": 4}  # fmt: skip
    base: dict[str, Any] = {
        "target": "mock",
        "items": items,
        "stats": stats,
        "submit_s": 2.0,
        "alerts": [{"code": 17553, "customer_key": "b", "message": "unauthorized: expired"}],
        "participants": {"a": [{"channel_participant": 1, "role": "Agent", "user_id": "bob"}]},
    }
    base.update(fields)
    return Observations(**base)


def verdicts(outcomes: list[Outcome]) -> dict[str, str]:
    return {o.label: o.verdict for o in outcomes}


def test_everything_seen_as_expected_passes() -> None:
    outcomes = evaluate(
        expect(
            statuses={"a": "completed", "b": "failed", "c": "rejected"},
            errors={"c": "at most two"},
            exactly_once=True,
            sentences=[{"item": "a", "channel": 2, "at_s": 3.0}, {"item": "a", "channel": 1, "at_s": 0.5}],
            participants=[{"item": "a", "channel_participant": 1, "role": "Agent"}],
            metadata={"a": {"queue": "billing"}},
            alerts=[{"item": "b", "code": 17553, "message": "UNAUTHORIZED"}],
            webhooks={"sent": {"min": 1}, "dropped": {"equals": 0}},
            share_429={"min": 0.2, "max": 0.3},
            goodput={"min": 0.5},
            stats={"current_limit": {"equals": 4}},
        ),
        seen(),
    )
    assert [o for o in outcomes if o.verdict != "pass"] == []
    assert len(outcomes) == 14


@pytest.mark.parametrize(
    ("wanted", "says"),
    [
        ([{"item": "a", "channel": 1, "at_s": 0.5}], "2 sentences, expected 1"),
        (
            [{"item": "a", "channel": 2, "at_s": 0.5}, {"item": "a", "channel": 2, "at_s": 3.0}],
            "sentence 1 is on channel 1, not 2",
        ),
        (
            [{"item": "a", "channel": 1, "at_s": 0.4}, {"item": "a", "channel": 2, "at_s": 3.0}],
            "sentence 1 starts at 0.510 s, 0.110 s from 0.4",
        ),
        (
            [
                {"item": "a", "channel": 1, "at_s": 0.4, "tolerance_s": 0.2},
                {"item": "a", "channel": 2, "at_s": 3.0, "text": "goodbye"},
            ],
            "sentence 2 does not say 'goodbye'",
        ),
    ],
)
def test_sentences_fail_saying_which_one_is_wrong_and_how(wanted: list[dict[str, Any]], says: str) -> None:
    (outcome,) = evaluate(expect(sentences=wanted), seen())
    assert outcome.verdict == "fail"
    assert outcome.actual == f"ch1@0.51, ch2@3.00 — {says}"


def test_a_failed_item_has_no_sentences_and_an_unknown_item_is_a_failure_not_a_crash() -> None:
    outcomes = evaluate(
        expect(sentences=[{"item": "b", "channel": 1, "at_s": 1.0}], statuses={"zz": "completed"}), seen()
    )
    by_label = {o.label: o for o in outcomes}
    assert by_label["sentences of b (± 0.05 s)"].actual == "no sentences: the item is failed"
    assert by_label["status of zz"].verdict == "fail"
    assert "no such item" in by_label["status of zz"].actual


def test_statuses_for_every_item_list_the_ones_that_differ() -> None:
    (outcome,) = evaluate(expect(statuses={"*": "completed"}), seen())
    assert (outcome.verdict, outcome.actual) == ("fail", "b: failed, c: rejected")


def test_exactly_once_names_duplicates_missing_and_strangers() -> None:
    stats = {"transcripts_by_customer_key": {"a": 2, "stranger": 1}}
    (outcome,) = evaluate(expect(exactly_once=True), seen(stats=stats))
    assert outcome.verdict == "fail"
    assert outcome.actual == "a: 2 transcripts; a: completed without exactly one; stranger: not an item of the scenario"


def test_participants_must_match_in_number_and_in_every_field_given() -> None:
    two = [{"item": "a", "channel_participant": 1, "role": "Agent"}, {"item": "a", "channel_participant": 2}]
    assert evaluate(expect(participants=two), seen())[0].verdict == "fail"  # only one on the transcript
    wrong = [{"item": "a", "channel_participant": 1, "role": "Customer"}]
    (outcome,) = evaluate(expect(participants=wrong), seen())
    assert (outcome.verdict, outcome.actual) == ("fail", "1: role=Agent, user_id=bob")


def test_bounds_and_alerts_fail_with_the_value_seen() -> None:
    outcomes = evaluate(
        expect(share_429={"max": 0.1}, alerts=[{"code": 95104}], goodput={"min": 5}, stats={"requests": {"max": 3}}),
        seen(),
    )
    assert {o.label: (o.verdict, o.actual) for o in outcomes} == {
        "alert 95104": ("fail", "17553 'unauthorized: expired'"),
        "share of 429 answers": ("fail", "0.25 (10 of 40)"),
        "stats requests": ("fail", "40"),
        "goodput (completed items per second of cintel submit)": ("fail", "0.5 (1 in 2.0 s)"),
    }


def test_against_twilio_what_only_the_mock_can_check_is_skipped_never_passed() -> None:
    everything = expect(
        statuses={"a": "completed"},
        exactly_once=True,
        alerts=[{"item": "b", "code": 17553}],
        webhooks={"dropped": {"min": 1}},
        share_429={"min": 0.1},
        stats={"rejected_429": {"min": 1}},
        sentences=[{"item": "a", "channel": 1, "at_s": 0.5}, {"item": "a", "channel": 2, "at_s": 3.0}],
    )
    outcomes = evaluate(everything, seen(target="twilio", stats=None, alerts=None))
    assert verdicts(outcomes) == {
        "status of a": "pass",
        "sentences of a (± 0.05 s)": "pass",
        "exactly once (the mock's transcripts per CustomerKey)": "skip",
        "alert 17553 for b": "skip",
        "webhooks dropped": "skip",
        "share of 429 answers": "skip",
        "stats rejected_429": "skip",
    }
    assert all(o.actual == "skipped: only the mock can check this (target twilio)" for o in outcomes
               if o.verdict == "skip")  # fmt: skip


def test_an_item_the_target_left_out_has_its_expectations_skipped_with_the_reason() -> None:
    why = "a signed URL that expires after 1 s is made by the mock's media host: only the mock can do this"
    observed = seen(target="twilio", stats=None, alerts=None, skipped_items={"expired": why})
    outcomes = evaluate(expect(statuses={"expired": "failed"}, errors={"expired": "x"}), observed)
    assert [(o.verdict, o.actual) for o in outcomes] == [("skip", f"skipped: {why}")] * 2
