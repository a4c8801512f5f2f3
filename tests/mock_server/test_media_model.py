"""The domain side of media: a transcript waits for its media, then takes the analysis, its duration and the
lifecycle from that moment — or fails with an alert; the alert log never shows a URL's secrets; the `media` config.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server import ConfigError, MockConfig
from mock_server._clock import ManualClock
from mock_server._config import LifecycleConfig, MediaConfig
from mock_server._model import Registry
from mock_server._model._media import MAX_ALERTS, MediaJob, scrub_url
from tests.mock_server.domain_support import P, channel
from tests.mock_server.media_support import FakeAnalysis, FakeSegment
from tests.mock_server.support import Api

ANALYSIS = FakeAnalysis("wav", 16_000, 2, 7.5, (FakeSegment(1, 0.5, 2.0, -18.0), FakeSegment(2, 2.5, 7.0, -21.0)))


def _world(**lifecycle: Any) -> tuple[Registry, Any, ManualClock, str]:
    clock = ManualClock()
    registry = Registry(random.Random(3), clock)
    account = registry.create_account(lifecycle=LifecycleConfig(**lifecycle), media=MediaConfig())
    service = account.create_service(P(UniqueName="calls", WebhookUrl="https://hooks.example.com/ci")).body
    assert service is not None
    return registry, account, clock, service["sid"]


def _create(account: Any, service: str, url: str = "https://media.example.com/a.wav?sig=s3cr3t", **kw: str) -> str:
    body = account.create_transcript(P(ServiceSid=service, Channel=channel(url), **kw)).body
    assert body is not None
    assert body["status"] == "queued"
    return str(body["sid"])


def test_a_new_transcript_waits_for_its_media_and_leaves_one_job() -> None:
    registry, account, clock, service = _world(mode="immediate")
    sid = _create(account, service)
    [job] = registry.drain_media_jobs()
    assert job == MediaJob(account.sid, sid, "https://media.example.com/a.wav?sig=s3cr3t", None, MediaConfig())
    assert registry.drain_media_jobs() == []
    clock.advance(3600)
    assert account.fetch_transcript(sid).body["status"] == "queued"  # nothing completes from unheard audio
    assert registry.tick(clock.now()) == []
    assert account.media_started(sid, clock.now())
    assert account.fetch_transcript(sid).body["status"] == "in-progress"


def test_heard_media_gives_the_duration_and_starts_the_lifecycle_then() -> None:
    registry, account, clock, service = _world(mode="after_seconds", seconds=4, per_media_second=2.0)
    sid = _create(account, service)
    clock.advance(100)
    assert account.media_ready(sid, ANALYSIS, "media/x", clock.now())
    t = account.transcripts[sid]
    assert (t.analysis, t.media_path, t.duration) == (ANALYSIS, "media/x", 8)  # 7.5 s rounds half up
    assert t.due == clock.now() + 4 + 2.0 * 7.5  # per_media_second uses the real length
    clock.advance(18.9)
    assert registry.tick(clock.now()) == []
    clock.advance(0.1)
    [callback] = registry.tick(clock.now())
    assert callback.body["transcript_sid"] == sid
    assert account.fetch_transcript(sid).body["status"] == "completed"
    assert account.fetch_transcript(sid).body["duration"] == 8
    assert account.stats()["media_fetched"] == 1
    assert not account.media_ready(sid, ANALYSIS, None, clock.now())  # reported once only


def test_failed_media_fails_the_transcript_with_an_alert_and_a_callback() -> None:
    registry, account, clock, service = _world(mode="after_seconds", seconds=2)
    sid = _create(account, service, CustomerKey="ck")
    assert account.media_failed(sid, 17550, "Invalid media URL: x answered HTTP 404 Not Found", clock.now())
    body = account.fetch_transcript(sid).body
    assert (body["status"], body["duration"]) == ("failed", 0)
    [callback] = registry.drain_callbacks()  # failures are announced like lifecycle failures
    assert callback.body["customer_key"] == "ck"
    [alert] = account.render_alerts()
    assert alert == {
        "code": 17550,
        "message": "Invalid media URL: x answered HTTP 404 Not Found",
        "more_info": "https://www.twilio.com/docs/errors/17550",
        "transcript_sid": sid,
        "customer_key": "ck",
        "media_url": "https://media.example.com/a.wav",
        "source_sid": None,
        "date_created": "2023-11-14T22:13:20Z",
    }
    stats = account.stats()
    assert (stats["media_failed"], stats["alerts"], stats["transcripts_failed"]) == (1, 1, 1)
    assert not account.media_failed(sid, 17550, "again", clock.now())


def test_deleting_a_transcript_discards_its_media_file_and_a_late_report_is_ignored() -> None:
    registry, account, clock, service = _world(mode="immediate")
    discarded: list[str] = []
    registry.ctx.discard_media = discarded.append
    done, pending = _create(account, service), _create(account, service)
    account.media_ready(done, ANALYSIS, "media/done", clock.now())
    account.delete_transcript(done)
    account.delete_transcript(pending)
    assert discarded == ["media/done"]
    assert not account.media_started(pending, clock.now())
    assert not account.media_ready(pending, ANALYSIS, "media/p", clock.now())
    assert not account.media_failed(pending, 17550, "late", clock.now())
    assert account.render_alerts() == []


def test_the_alert_log_keeps_the_newest_and_counts_them_all() -> None:
    _, account, clock, service = _world(mode="immediate")
    sid = _create(account, service)
    t = account.transcripts[sid]
    for i in range(MAX_ALERTS + 5):
        account.raise_alert(17550, f"m{i}", t, clock.now())
    alerts = account.render_alerts()
    assert len(alerts) == MAX_ALERTS
    assert alerts[0]["message"] == "m5"
    assert account.stats()["alerts"] == MAX_ALERTS + 5


def test_with_fetch_off_a_transcript_never_waits() -> None:
    registry, account, _, service = _world(mode="immediate")
    account.media = MediaConfig(fetch=False)
    body = account.create_transcript(P(ServiceSid=service, Channel=channel())).body
    assert body is not None
    assert body["status"] == "completed"
    assert registry.drain_media_jobs() == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@h.example:8443/a/b.wav?X-Amz-Signature=s#f", "https://h.example:8443/a/b.wav"),
        ("http://[::1]:9/x?token=t", "http://[::1]:9/x"),
        ("https://H.example/a%20b.wav?sig=1", "https://h.example/a%20b.wav"),
        ("https://h.example:99999/x?sig=1", "[unparseable URL]"),
        (None, None),
    ],
)
def test_scrub_url_keeps_scheme_host_port_and_path_only(url: str | None, shown: str | None) -> None:
    assert scrub_url(url) == shown


SECRETS = st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=8, max_size=20).map(lambda s: "Z" + s)


@given(
    secret=SECRETS,
    where=st.sampled_from(["query", "fragment", "user", "password"]),
    path=st.text(st.sampled_from("abc/._-"), max_size=12),
)
def test_scrub_url_never_lets_a_credential_through(secret: str, where: str, path: str) -> None:
    url = {
        "query": f"https://h.example/{path}?X-Amz-Signature={secret}",
        "fragment": f"https://h.example/{path}#{secret}",
        "user": f"https://{secret}@h.example/{path}",
        "password": f"https://u:{secret}@h.example/{path}",
    }[where]
    shown = scrub_url(url)
    assert shown is not None
    assert secret not in shown
    assert secret.lower() not in shown


async def test_the_media_config_has_defaults_bounds_and_round_trips(api: Api) -> None:
    assert MockConfig().media == MediaConfig(fetch=True, timeout_s=30.0, max_bytes=512 * 1024 * 1024, max_redirects=5)
    config = MockConfig.from_json({"media": {"fetch": False, "timeout_s": 2.5, "max_bytes": 10, "max_redirects": 0}})
    assert MockConfig.from_json(config.to_json()) == config
    for bad, said in (
        ({"media": {"fetch": "yes"}}, "'media.fetch' must be true or false"),
        ({"media": {"timeout_s": 0}}, "'media.timeout_s' must be a number from 0.01 to 600 (seconds)"),
        ({"media": {"max_bytes": 4 * 1024**3}}, "'media.max_bytes' must be an integer from 1 to 3221225472"),
        ({"media": {"max_redirects": 21}}, "'media.max_redirects' must be an integer from 0 to 20"),
        ({"media": {"retries": 1}}, "unknown key 'media.retries'"),
    ):
        with pytest.raises(ConfigError) as caught:
            MockConfig.from_json(bad)
        assert said in str(caught.value)
    r = await api.control("PATCH", "/__mock__/config", {"media": {"timeout_s": 5}})
    assert r.status == 200
    assert r.body["media"] == {"fetch": False, "timeout_s": 5, "max_bytes": 512 * 1024 * 1024, "max_redirects": 5}
    r = await api.control("PATCH", "/__mock__/config", {"media": {"max_redirects": -1}})
    assert (r.status, r.body["code"]) == (400, 20001)
    assert json.dumps(r.body).count("media.max_redirects") == 1
    assert math.isclose(api.state.config.media.timeout_s, 5)
