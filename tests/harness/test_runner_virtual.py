"""BatchRunner on the virtual-time loop against FakeIntelligence: the schedule, account errors, outages, retries.

No sockets and no real sleeping: the runner reads the loop's clock, so minutes of transcription and polling pass in
milliseconds, and every assertion is about what the runner did — what it sent, what the journal says, what it raised.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import AccountBlocked, ApiUnreachable, IntelligenceClient, RetryPolicy
from harness._journal import Journal, fingerprint
from harness._runner import BatchRunner, Progress, RunnerOptions, Summary
from tests.harness.fake_api import FakeIntelligence
from tests.harness.sim import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, run_virtual

TWILIO = "https://intelligence.twilio.com"


def write_manifest(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = {"media_url": f"https://b.example/{i}.wav?X-Amz-Signature=sig{i}", "customer_key": f"k{i}"}
            handle.write(json.dumps(row) + "\n")
    return path


class Batch:
    """One manifest and journal in `tmp_path`, run (again and again) against one fake API."""

    def __init__(self, tmp_path: Path, api: FakeIntelligence, n: int = 20) -> None:
        self.tmp_path = tmp_path
        self.api = api
        self.manifest = write_manifest(tmp_path / "calls.jsonl", n)
        self.out = tmp_path / "out"
        self.progress: list[Progress] = []

    def run(self, *, after: Callable[[BatchRunner], None] | None = None, **options: Any) -> Summary:
        options = {"poll_initial_s": 1.0, "poll_max_s": 10.0, **options}

        async def main() -> Summary:
            journal = Journal(self.tmp_path / "j.sqlite", batch={"manifest": fingerprint(self.manifest)})
            retry = RetryPolicy(max_attempts=3, base_s=0.1, max_backoff_s=1.0)
            try:
                async with IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url=TWILIO, transport=self.api,
                                              retry=retry) as client:  # fmt: skip
                    runner = BatchRunner(
                        client,
                        journal,
                        self.manifest,
                        RunnerOptions(SERVICE_SID, out_dir=self.out, **options),
                        on_progress=lambda p, _m: self.progress.append(p),
                    )
                    if after is not None:
                        after(runner)
                    return await runner.run()
            finally:
                journal.close()

        return run_virtual(main)

    def states(self) -> dict[str, int]:
        with Journal.open_readonly(self.tmp_path / "j.sqlite") as journal:
            return {k: v for k, v in journal.counts().items() if v}


def fake(**kwargs: Any) -> FakeIntelligence:
    return FakeIntelligence(ACCOUNT_SID, AUTH_TOKEN, service_sids=[SERVICE_SID], **kwargs)


def test_lost_answers_after_commit_still_give_exactly_one_transcript_each(tmp_path: Path) -> None:
    api = fake(complete_after_s=30)
    api.lose_answer_after_commit(lambda key: key in {"k1", "k5", "k9"})
    summary = Batch(tmp_path, api).run()
    assert summary.ok
    assert api.transcripts_by_customer_key == {f"k{i}": 1 for i in range(20)}
    assert summary.counts["completed"] == 20


def test_wrong_credentials_block_before_anything_is_sent_and_mark_nothing_failed(tmp_path: Path) -> None:
    api = fake()
    api.auth_ok = False
    batch = Batch(tmp_path, api)
    with pytest.raises(AccountBlocked) as blocked:
        batch.run()
    assert blocked.value.cause.code == 20003
    assert "TWILIO_AUTH_TOKEN" in blocked.value.hint
    assert api.creates == 0
    assert batch.states() == {"pending": 20}
    api.auth_ok = True  # fixed: the same command carries on
    assert batch.run().ok
    assert sorted(api.transcripts_by_customer_key.values()) == [1] * 20


def test_a_key_without_the_create_permission_is_blocked_by_the_preflight(tmp_path: Path) -> None:
    api = fake(permissions={"/twilio/voice/intelligence.services/*", "/twilio/voice/intelligence.transcripts/read",
                            "/twilio/voice/intelligence.transcripts/list"})  # fmt: skip
    batch = Batch(tmp_path, api)
    with pytest.raises(AccountBlocked) as blocked:
        batch.run()
    assert blocked.value.cause.code == 70051
    assert "transcripts/create" in str(blocked.value)
    assert api.creates == 0
    assert batch.states() == {"pending": 20}


def test_an_unknown_service_is_the_accounts_error_not_each_rows(tmp_path: Path) -> None:
    api = FakeIntelligence(ACCOUNT_SID, AUTH_TOKEN, service_sids=[])
    with pytest.raises(AccountBlocked) as blocked:
        Batch(tmp_path, api).run()
    assert blocked.value.cause.status == 404
    assert SERVICE_SID in blocked.value.hint
    assert api.creates == 0


def test_credentials_revoked_mid_run_stop_the_run_and_fail_no_item(tmp_path: Path) -> None:
    api = fake(complete_after_s=5, latency_s=0.01)
    original = api.handle_async_request

    revoked: list[bool] = []

    async def revoking(request: Any) -> Any:
        response = await original(request)
        if api.creates >= 7 and not revoked:  # the token is rotated once, mid-run
            revoked.append(True)
            api.auth_ok = False
        return response

    api.handle_async_request = revoking  # type: ignore[method-assign]
    batch = Batch(tmp_path, api, n=200)
    with pytest.raises(AccountBlocked):
        batch.run()
    states = batch.states()
    assert "failed" not in states
    assert api.creates < 200
    api.auth_ok = True
    assert batch.run().ok
    assert sorted(api.transcripts_by_customer_key.values()) == [1] * 200


def test_an_api_lost_during_the_wait_is_reported_and_ends_the_run_resumably(tmp_path: Path) -> None:
    api = fake(complete_after_s=1000)
    batch = Batch(tmp_path, api)

    def lose_api_once_submitted(runner: BatchRunner) -> None:
        original = runner._waiter.run

        async def then_unreachable() -> Any:
            api.unreachable = True
            return await original()

        runner._waiter.run = then_unreachable  # type: ignore[method-assign]

    with pytest.raises(ApiUnreachable) as lost:
        batch.run(after=lose_api_once_submitted, unreachable_timeout_s=60)
    assert 60 <= lost.value.unreachable_s < 120
    outages = [p.outage for p in batch.progress if p.outage]
    assert outages
    assert "API unreachable for" in outages[-1]
    assert batch.states() == {"submitted": 20}
    api.unreachable = False
    api.complete_after_s = 1
    assert batch.run().ok
    assert sorted(api.transcripts_by_customer_key.values()) == [1] * 20


def test_an_unreachable_api_at_start_ends_with_api_unreachable_not_a_usage_error(tmp_path: Path) -> None:
    api = fake()
    api.unreachable = True
    with pytest.raises(ApiUnreachable) as lost:
        Batch(tmp_path, api).run(unreachable_timeout_s=30)
    message = str(lost.value)
    assert "could not check the account" in message or "while checking the account" in message
    assert "check the list permission" not in message  # three checks wait on one outage: no single step named


def test_the_wait_timeout_ends_the_wait_with_items_not_done(tmp_path: Path) -> None:
    api = fake(complete_after_s=10_000)
    summary = Batch(tmp_path, api).run(wait_timeout_s=30)
    assert summary.timed_out
    assert summary.not_done == 20
    assert not summary.ok


def test_progress_is_reported_every_second_while_waiting(tmp_path: Path) -> None:
    api = fake(complete_after_s=20)
    batch = Batch(tmp_path, api)
    reports: list[float] = []

    def track(runner: BatchRunner) -> None:
        runner._on_progress = lambda p, _m: reports.append(p.elapsed_s())

    batch.run(after=track, poll_initial_s=30, poll_max_s=30)
    gaps = [b - a for a, b in itertools.pairwise(reports)]
    assert max(gaps) <= 1.01


def test_retry_failed_resends_failures_and_adopts_transcripts_that_exist(tmp_path: Path) -> None:
    api = fake(complete_after_s=2, fail=lambda key: key in {"k3", "k4"})
    batch = Batch(tmp_path, api)
    first = batch.run()
    assert {f["customer_key"] for f in first.failed} == {"k3", "k4"}
    api.fail = None

    async def someone_else_transcribes_k3() -> None:
        async with IntelligenceClient(ACCOUNT_SID, AUTH_TOKEN, base_url=TWILIO, transport=api) as client:
            channel = {"media_properties": {"media_url": "https://b.example/3.wav"}}
            await client.create_transcript(SERVICE_SID, channel, customer_key="k3")

    run_virtual(someone_else_transcribes_k3)
    again = batch.run(retry_failed=True)
    assert again.ok
    # k4 failed at Twilio: sent again (its failed transcript skipped); k3 has a good transcript now: adopted.
    assert api.transcripts_by_customer_key["k4"] == 2
    assert api.transcripts_by_customer_key["k3"] == 2
    assert sum(api.transcripts_by_customer_key.values()) == 22


def test_without_retry_failed_a_rerun_sends_nothing(tmp_path: Path) -> None:
    api = fake(complete_after_s=2, fail=lambda key: key == "k3")
    batch = Batch(tmp_path, api)
    batch.run()
    creates = api.creates
    summary = batch.run()
    assert api.creates == creates
    assert [f["customer_key"] for f in summary.failed] == ["k3"]


def test_server_errors_during_the_start_up_steps_are_retried_and_the_batch_completes(tmp_path: Path) -> None:
    api = fake(complete_after_s=2, error_5xx_rate=0.3, seed=11)
    summary = Batch(tmp_path, api).run()
    assert summary.ok
    assert api.responses_by_status[500] > 0
    assert sorted(api.transcripts_by_customer_key.values()) == [1] * 20
