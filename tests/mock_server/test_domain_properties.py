"""Properties of the domain model: no input crashes it, and a state machine keeps its invariants."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from mock_server._clock import ManualClock
from mock_server._config import LifecycleConfig
from mock_server._errors import ApiError
from mock_server._model import Params, Registry
from tests.mock_server.domain_support import P, world

NAMES = st.sampled_from(
    ["ServiceSid", "Channel", "CustomerKey", "MediaStartTime", "PageSize", "Page", "PageToken", "Status",
     "BeforeStartTime", "AfterDateCreated", "SourceSid", "LanguageCode", "Redacted", "x"]
)  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
CHANNELISH = st.one_of(
    st.text(max_size=50),
    JSONISH.map(json.dumps),
    st.fixed_dictionaries(
        {"media_properties": st.dictionaries(st.sampled_from(["media_url", "source_sid", "other"]), JSONISH)},
        optional={"participants": JSONISH},
    ).map(json.dumps),
)
VALUES = st.one_of(st.text(max_size=40), CHANNELISH, st.sampled_from(["true", "false", "0", "-1", "5000", "GA"]))


@given(pairs=st.lists(st.tuples(NAMES, VALUES), max_size=8), use_real_service=st.booleans())
def test_any_create_parameters_give_a_transcript_or_a_4xx(pairs: list[tuple[str, str]], use_real_service: bool) -> None:
    _, account, _, service = world(mode="immediate")
    if use_real_service:
        pairs = [("ServiceSid", service), *[(k, v) for k, v in pairs if k != "ServiceSid"]]
    try:
        result = account.create_transcript(Params.from_pairs(pairs))
    except ApiError as error:
        assert 400 <= error.status < 500
        assert error.body()["message"]
    else:
        assert result.status == 202
        assert account.stats()["transcripts_created"] == 1


@given(pairs=st.lists(st.tuples(NAMES, VALUES), max_size=8))
def test_any_list_parameters_give_a_page_or_a_4xx(pairs: list[tuple[str, str]]) -> None:
    _, account, _, _ = world()
    try:
        result = account.list_transcripts(Params.from_pairs(pairs))
    except ApiError as error:
        assert 400 <= error.status < 500
    else:
        assert result.body is not None
        assert result.body["meta"]["key"] == "transcripts"


ORDER = {"queued": 0, "in-progress": 1, "completed": 2, "failed": 2}


class TranscriptMachine(RuleBasedStateMachine):
    """Create, fetch, list, advance time, delete and reset against one registry; check what must always hold."""

    transcripts = Bundle("transcripts")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.registry = Registry(random.Random(5), self.clock)
        self._fresh()

    def _fresh(self) -> None:
        lifecycle = LifecycleConfig(mode="after_seconds", seconds=10.0, failure_rate=0.2)
        self.account = self.registry.create_account(lifecycle=lifecycle)
        body = self.account.create_service(P(UniqueName="m", WebhookUrl="https://h.example/x")).body
        assert body is not None
        self.service = body["sid"]
        self.expected: dict[str, str] = {}  # sid -> last status seen
        self.finished: set[str] = set()
        self.callbacks: list[Any] = []
        self.created = 0

    @rule(target=transcripts, key=st.text(min_size=1, max_size=8))
    def create(self, key: str) -> str:
        channel = json.dumps({"media_properties": {"media_url": "https://m.example/a.wav"}})
        body = self.account.create_transcript(P(ServiceSid=self.service, Channel=channel, CustomerKey=key)).body
        assert body is not None
        self.created += 1
        self.expected[body["sid"]] = body["status"]
        return str(body["sid"])

    @rule(bad=st.text(max_size=30))
    def create_invalid(self, bad: str) -> None:
        try:
            self.account.create_transcript(P(ServiceSid=self.service, Channel=bad))
        except ApiError as error:
            assert error.status == 400
        else:  # only a valid Channel could succeed
            self.created += 1
            raise AssertionError(f"accepted Channel {bad!r}")

    @rule(sid=transcripts)
    def fetch(self, sid: str) -> None:
        try:
            body = self.account.fetch_transcript(sid).body
        except ApiError as error:
            assert error.status == 404
            assert sid not in self.expected
            return
        assert body is not None
        assert ORDER[body["status"]] >= ORDER[self.expected[sid]], "status moved backwards"
        self.expected[sid] = body["status"]

    @rule(seconds=st.floats(min_value=0, max_value=15))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.callbacks += self.registry.tick(self.clock.now())

    @rule(sid=transcripts)
    def delete(self, sid: str) -> None:
        try:
            assert self.account.delete_transcript(sid).status == 204
        except ApiError as error:
            assert error.status == 404
        self.expected.pop(sid, None)

    @precondition(lambda self: self.created > 0)
    @rule()
    def reset(self) -> None:
        self.registry.reset()
        self._fresh()

    @invariant()
    def listing_matches_the_model(self) -> None:
        seen: list[str] = []
        params: dict[str, str] = {"PageSize": "3"}
        while True:
            page = self.account.list_transcripts(P(**params)).body
            assert page is not None
            seen += [t["sid"] for t in page["transcripts"]]
            if page["meta"]["next_page_url"] is None:
                break
            params = {"PageSize": "3", "PageToken": page["meta"]["next_page_url"].split("PageToken=")[1]}
        assert len(seen) == len(set(seen)), "a transcript appeared on two pages"
        assert set(seen) == set(self.expected)

    @invariant()
    def callbacks_and_counts_agree_with_the_model(self) -> None:
        for event in self.callbacks:
            if event.account_sid != self.account.sid:
                continue  # from before a reset
            assert event.url == "https://h.example/x"
            sid = event.body["transcript_sid"]
            if sid in self.account.transcripts:
                assert self.account.transcripts[sid].status in ("completed", "failed")
        stats = self.account.stats()
        assert stats["transcripts_created"] == self.created
        assert sum(stats["transcripts_by_customer_key"].values()) == self.created


TestTranscriptMachine = TranscriptMachine.TestCase
TestTranscriptMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
