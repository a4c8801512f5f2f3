"""Transcripts in the domain model: Channel validation, lifecycle on a manual clock, sentences, paging, media."""

from __future__ import annotations

from typing import Any

import pytest

from mock_server._errors import ApiError
from mock_server._media._pii import redact_text
from mock_server._model._catalogue import PREBUILT
from tests.mock_server.domain_support import P, channel, create, world

RECORDING = "RE" + "1" * 32


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("not json", "JSON object"),
        ("[1, 2]", "JSON object"),
        ('{"media_properties": "x"}', "media_properties"),
        (channel(None, source_sid="RE123"), "Recording SID"),
        (channel(participants=[{"channel_participant": n} for n in (1, 2, 1)]), "only two"),
        (channel(participants=[{"channel_participant": 3}]), "1 or 2"),
        (channel(participants=[{"channel_participant": 1}, {"channel_participant": 1}]), "twice"),
        (channel(participants=[{"channel_participant": 1, "shoe_size": "9"}]), "shoe_size"),
        (channel(None, source_sid=RECORDING, participants=[{"channel_participant": 1, "media_participant_id": "+1"}]),
         "media_participant_id"),
    ],
)  # fmt: skip
def test_channel_is_validated_like_the_service_does(raw: str, why: str) -> None:
    # (a missing or bad media_url has Twilio's own codes, 95005/95006: tests/mock_server/test_media_create.py)
    _, account, _, service = world()
    with pytest.raises(ApiError) as caught:
        account.create_transcript(P(ServiceSid=service, Channel=raw))
    assert (caught.value.status, caught.value.code) == (400, 20001)
    assert "Channel" in caught.value.message
    assert why in caught.value.message
    assert account.stats()["transcripts_created"] == 0


def test_other_create_parameters_are_validated() -> None:
    _, account, _, service = world()
    cases = [
        (P(Channel=channel()), "ServiceSid"),
        (P(ServiceSid="GAnope", Channel=channel()), "ServiceSid"),
        (P(ServiceSid=service, Channel=channel(), CustomerKey="k" * 65), "CustomerKey"),
        (P(ServiceSid=service, Channel=channel(), MediaStartTime="yesterday"), "MediaStartTime"),
        (P(ServiceSid=service), "Channel"),
    ]
    for params, named in cases:
        with pytest.raises(ApiError) as caught:
            account.create_transcript(params)
        assert caught.value.status == 400
        assert named in caught.value.message
    with pytest.raises(ApiError) as caught:
        account.create_transcript(P(ServiceSid="GA" + "0" * 32, Channel=channel()))
    assert caught.value.status == 404


def test_one_transcript_per_recording_until_deleted_and_media_url_wins() -> None:
    _, account, _, service = world()
    first = create(account, service, Channel=channel(None, source_sid=RECORDING))
    with pytest.raises(ApiError) as caught:
        create(account, service, Channel=channel(None, source_sid=RECORDING))
    assert first["sid"] in caught.value.message
    # With a media_url too, media_url wins: the Recording is not what gets transcribed.
    create(account, service, Channel=channel("https://x.example/a.wav", source_sid=RECORDING))
    account.delete_transcript(first["sid"])
    create(account, service, Channel=channel(None, source_sid=RECORDING))


def test_after_seconds_lifecycle_moves_forward_on_the_clock_and_calls_back_once() -> None:
    registry, account, clock, service = world(mode="after_seconds", seconds=8.0)
    t = create(account, service, CustomerKey="call-1")
    assert t["status"] == "queued"
    clock.advance(3)
    assert registry.tick(clock.now()) == []
    assert account.fetch_transcript(t["sid"]).body["status"] == "in-progress"  # type: ignore[index]
    clock.advance(5)
    events = registry.tick(clock.now())
    assert [e.body["transcript_sid"] for e in events] == [t["sid"]]
    assert events[0].body == {
        "account_sid": account.sid,
        "service_sid": service,
        "transcript_sid": t["sid"],
        "event_type": "voice_intelligence_transcript_available",
        "customer_key": "call-1",
    }
    assert "auth_token" not in repr(events[0])
    body = account.fetch_transcript(t["sid"]).body
    assert body is not None
    assert body["status"] == "completed"
    assert body["duration"] > 0
    clock.advance(100)
    assert registry.tick(clock.now()) == []
    assert registry.next_due() is None


def test_after_polls_lifecycle_completes_on_the_nth_fetch() -> None:
    registry, account, _, service = world(mode="after_polls", polls=3)
    t = create(account, service)
    statuses = [account.fetch_transcript(t["sid"]).body["status"] for _ in range(4)]  # type: ignore[index]
    assert statuses == ["in-progress", "in-progress", "completed", "completed"]
    assert len(registry.drain_callbacks()) == 1


def test_failure_rate_one_fails_every_transcript_and_no_sentences() -> None:
    _, account, _, service = world(mode="immediate", failure_rate=1.0)
    t = create(account, service)
    assert t["status"] == "failed"
    assert account.list_sentences(t["sid"], P()).body["sentences"] == []  # type: ignore[index]
    assert account.stats()["transcripts_failed"] == 1


def test_sentences_follow_participant_roles_and_redaction() -> None:
    _, account, _, service = world(mode="immediate")
    account.update_service(service, P(AutoRedaction="true"))
    swapped = [{"channel_participant": 1, "role": "Customer"}, {"channel_participant": 2, "role": "Agent"}]
    t = create(account, service, Channel=channel(participants=swapped))
    sentences = account.list_sentences(t["sid"], P(PageSize="5000")).body["sentences"]  # type: ignore[index]
    assert sentences[0]["media_channel"] == 2  # the agent opens, and the agent is on channel 2 here
    assert [s["sentence_index"] for s in sentences] == list(range(len(sentences)))
    plain = account.list_sentences(t["sid"], P(Redacted="false", PageSize="5000")).body["sentences"]  # type: ignore[index]
    redacted_text = " ".join(s["transcript"] for s in sentences)
    assert "555" not in redacted_text and "@" not in redacted_text  # noqa: PT018
    # Each sentence reads as the PII detector redacts its unredacted text: findings become their labels.
    assert [s["transcript"] for s in sentences] == [redact_text(s["transcript"]) for s in plain]
    first = account.list_sentences(t["sid"], P(WordTimestamps="true", Redacted="false", PageSize="1")).body
    assert first is not None
    assert "WordTimestamps=true" in first["meta"]["next_page_url"]  # later pages ask for the same thing
    assert "Redacted=false" in first["meta"]["next_page_url"]
    words = account.list_sentences(t["sid"], P(WordTimestamps="true")).body["sentences"]  # type: ignore[index]
    assert all(w["word"] for s in words for w in s["words"])
    assert all(w["start_time"] <= w["end_time"] for s in words for w in s["words"])


def test_invented_sentences_redact_pii_with_its_labels_and_the_pii_operator_finds_it() -> None:
    _, account, _, service = world(mode="immediate")
    account.update_service(service, P(AutoRedaction="true"))
    pii_operator = next(o.sid for o in PREBUILT if o.operator_type == "pii-extract")  # "PII Extract"
    account.create_operator_attachment(service, pii_operator)
    for _ in range(20):  # the invented lines are drawn per transcript; some read out a phone number or an e-mail
        t = create(account, service)
        plain = account.list_sentences(t["sid"], P(Redacted="false")).body["sentences"]  # type: ignore[index]
        if any("555 010 4477" in s["transcript"] or "@" in s["transcript"] for s in plain):
            break
    else:
        pytest.fail("no invented transcript mentions PII")
    redacted = account.list_sentences(t["sid"], P()).body["sentences"]  # type: ignore[index]
    text = " ".join(s["transcript"] for s in redacted)
    assert "[PhoneNumber]" in text or "[EmailAddress]" in text
    assert "[Redacted]" not in text
    result = account.fetch_operator_result(t["sid"], pii_operator, P()).body
    assert result is not None
    assert result["operator_type"] == "pii-extract"
    assert result["extract_match"] is True
    assert set(result["extract_results"]["entities"]) <= {"[PhoneNumber]", "[EmailAddress]"}
    raw = account.fetch_operator_result(t["sid"], pii_operator, P(Redacted="false")).body
    assert raw is not None
    assert set(raw["extract_results"]["entities"]) <= {"+1 555 010 4477", "pat.jones@example.com"}
    for hit in raw["utterance_results"]:  # each finding points at the sentence that says it
        assert hit["entity"] in plain[hit["utterance_index"]]["transcript"]
        assert hit["media_channel"] == plain[hit["utterance_index"]]["media_channel"]


def test_paging_walks_every_transcript_once_with_filters_echoed() -> None:
    _, account, clock, service = world(mode="immediate")
    sids = []
    for i in range(23):
        clock.advance(1)
        sids.append(create(account, service, CustomerKey=f"k{i}")["sid"])
    seen: list[str] = []
    params: dict[str, str] = {"ServiceSid": service, "PageSize": "5"}
    pages = 0
    while True:
        page = account.list_transcripts(P(**params)).body
        assert page is not None
        seen += [t["sid"] for t in page["transcripts"]]
        pages += 1
        assert f"ServiceSid={service}" in page["meta"]["url"]
        nxt = page["meta"]["next_page_url"]
        if nxt is None:
            break
        query = dict(part.split("=", 1) for part in nxt.split("?", 1)[1].split("&"))
        params = query
    assert pages == 5
    assert seen == list(reversed(sids))  # newest first, each once
    with pytest.raises(ApiError) as caught:
        account.list_transcripts(P(PageToken="garbage"))
    assert "PageToken" in caught.value.message
    with pytest.raises(ApiError):
        account.list_transcripts(P(PageSize="1001"))


def test_list_filters() -> None:
    _, account, clock, service = world(mode="after_polls", polls=1)
    early = create(account, service, MediaStartTime="2024-01-01T10:00:00Z")
    clock.advance(60)
    late = create(account, service, Channel=channel(None, source_sid=RECORDING))
    account.fetch_transcript(late["sid"])  # completes it

    def listed(**params: str) -> list[str]:
        body = account.list_transcripts(P(**params)).body
        assert body is not None
        return [t["sid"] for t in body["transcripts"]]

    assert listed(Status="completed") == [late["sid"]]
    assert listed(Status="queued") == [early["sid"]]
    assert listed(SourceSid=RECORDING) == [late["sid"]]
    assert listed(AfterStartTime="2023-12-31T00:00:00Z") == [early["sid"]]
    assert listed(BeforeStartTime="2023-12-31T00:00:00Z") == []
    assert listed(AfterDateCreated=early["date_created"]) == [late["sid"]]
    with pytest.raises(ApiError):
        listed(Status="done")


def test_media_url_is_signed_and_expires() -> None:
    registry, account, clock, service = world(mode="immediate")
    t = create(account, service)
    url = account.fetch_media(t["sid"], P()).body["media_url"]  # type: ignore[index]
    path, query = url.split("?")
    path = path[len(registry.public_base_url) :]
    values = dict(part.split("=") for part in query.split("&"))
    _, _, account_sid, transcript_sid = path.strip("/").split("/")
    wav = registry.media(account_sid, transcript_sid, values["Expires"], values["Signature"])
    assert wav[:4] == b"RIFF"
    assert wav[8:12] == b"WAVE"
    with pytest.raises(ApiError) as caught:
        registry.media(account_sid, transcript_sid, values["Expires"], "0" * 64)
    assert caught.value.status == 403
    clock.advance(3601)
    with pytest.raises(ApiError) as caught:
        registry.media(account_sid, transcript_sid, values["Expires"], values["Signature"])
    assert "expired" in caught.value.message


def test_operator_results_one_per_attached_operator_after_completion() -> None:
    registry, account, _, service = world(mode="immediate")
    operators = account.list_prebuilt_operators(P()).body["operators"]  # type: ignore[index]
    for op in operators[:3]:
        account.create_operator_attachment(service, op["sid"])
    t = create(account, service)
    results = account.list_operator_results(t["sid"], P()).body["operator_results"]  # type: ignore[index]
    assert sorted(r["operator_sid"] for r in results) == sorted(op["sid"] for op in operators[:3])
    one = account.fetch_operator_result(t["sid"], operators[0]["sid"], P()).body
    assert one == next(r for r in results if r["operator_sid"] == operators[0]["sid"])
    assert len(registry.drain_callbacks()) == 2  # transcript ready, then operator results ready


def test_same_seed_same_requests_same_sids() -> None:
    def run() -> list[Any]:
        _, account, _, service = world(seed=99, mode="immediate", failure_rate=0.5)
        return [(t["sid"], t["status"]) for t in (create(account, service) for _ in range(10))]

    assert run() == run()


def test_reset_forgets_everything() -> None:
    registry, account, _, service = world()
    create(account, service)
    registry.reset()
    assert registry.account(account.sid) is None
    assert registry.authenticate(account.sid, account.auth_token) is None
    assert registry.next_due() is None


def test_credentials() -> None:
    registry, account, _, _ = world()
    assert registry.authenticate(account.sid, account.auth_token) is not None
    assert registry.authenticate(account.sid, "x" * 32) is None
    key = registry.create_key(account.sid, ["/twilio/voice/intelligence.services/*"])
    principal = registry.authenticate(key.sid, key.secret)
    assert principal is not None
    assert principal.account is account
    assert principal.permissions == frozenset({"/twilio/voice/intelligence.services/*"})
    assert key.secret not in repr(key)
    assert account.auth_token not in repr(account)


def test_unknown_transcript_sub_resources_are_404() -> None:
    _, account, _, _ = world()
    missing = "GT" + "0" * 32
    for call in (
        lambda: account.fetch_transcript(missing),
        lambda: account.list_sentences(missing, P()),
        lambda: account.fetch_media(missing, P()),
        lambda: account.list_operator_results(missing, P()),
        lambda: account.delete_transcript(missing),
    ):
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.status == 404
