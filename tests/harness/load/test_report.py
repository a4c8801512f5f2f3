"""report.json, timeseries.csv and report.html: their contents, no secrets, and exact merges of several reports."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from harness.load import merge_reports, write_report
from harness.load._merge import MergeError
from harness.load._metrics import OK, OTHER_ERROR, RATE_LIMITED, SERVER_ERROR, LoadMetrics
from harness.load._report import CSV_COLUMNS
from harness.load._thresholds import evaluate, parse_threshold

SECRET = "s3cr3t-token-value"


def filled(start_wall: float, seconds: int = 5, seed: int = 1) -> LoadMetrics:
    """A run's metrics recorded by hand: 100 arrivals a second, some 429s, 5xx and errors, callbacks."""
    rng = random.Random(seed)
    metrics = LoadMetrics(0.0, start_wall)
    frac = start_wall % 1
    for second in range(seconds):
        for i in range(100):
            due = second + i / 100 - frac + 0.0001
            metrics.offered(due)
            if i == 99:
                metrics.dropped(due, "max in-flight reached")
                continue
            metrics.sent(due + 0.001, due)
            outcome = OK if i < 90 else RATE_LIMITED if i < 95 else SERVER_ERROR if i < 97 else OTHER_ERROR
            latency = rng.uniform(0.005, 0.2)
            metrics.done(due + latency, "create" if i % 2 else "fetch", outcome, latency, "HTTP 404")
            if outcome == OK and i % 2:
                sid = f"GT{second:02d}{i:030d}"
                metrics.transcript_created(sid, due + latency, completed=True)
                metrics.callback(sid, due + latency + 0.01)
        metrics.sample(second + 0.5 - frac, 7, 9, 50.0)
    metrics.finish(seconds - frac)
    return metrics


def test_report_json_and_csv_hold_what_was_measured(tmp_path: Path) -> None:
    metrics = filled(1_700_000_000.0)
    verdicts = evaluate([parse_threshold("p99<800ms"), parse_threshold("429_rate<2%")], metrics.summary())
    html = write_report(metrics, tmp_path, verdicts=verdicts, spec={"model": "open"})
    assert html == tmp_path / "report.html"
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    s = report["summary"]
    assert (s["offered"], s["sent"], s["dropped"], s["completed"]) == (500, 495, 5, 495)
    assert (s["ok"], s["rate_limited"], s["server_errors"], s["other_errors"]) == (450, 25, 10, 10)
    assert s["429_rate"] == pytest.approx(25 / 495, abs=1e-6)
    assert s["goodput"] == pytest.approx(450 / 500)
    assert s["dropped_reasons"] == {"max in-flight reached": 5}
    assert s["errors"] == {"HTTP 404": 10}
    assert s["webhook_lag_ms"]["count"] == 225
    assert s["webhook_lag_ms"]["p50"] == pytest.approx(10, rel=0.01)
    assert 5 <= s["latency_ms"]["p50"] <= s["latency_ms"]["p99"] <= s["latency_ms"]["max"] <= 200
    assert [v["passed"] for v in report["thresholds"]] == [True, False]
    assert report["thresholds_passed"] is False
    rows = list(csv.DictReader((tmp_path / "timeseries.csv").open(encoding="utf-8")))
    assert tuple(rows[0]) == CSV_COLUMNS
    # The last answers came after the last arrival's second: a sixth second with answers and no arrivals.
    assert [int(r["offered"]) for r in rows] == [r["offered"] for r in report["timeseries"]] == [100] * 5 + [0]
    assert sum(int(r["rate_limited"]) for r in rows) == 25
    assert all(r["in_flight"] == "7" and r["in_flight_max"] == "9" and r["limit"] == "50.0" for r in rows[:5])
    assert all(float(r["p50_ms"]) <= float(r["p99_ms"]) <= float(r["max_ms"]) for r in rows)


def test_no_secret_reaches_a_report_file(tmp_path: Path) -> None:
    metrics = filled(1_700_000_000.25)
    target = {"kind": "mock", "base_url": f"http://user:{SECRET}@127.0.0.1:9/?X-Amz-Signature={SECRET}"}
    notes = [f"Authorization: Basic {SECRET}", f"https://b.example/a.wav?sig={SECRET}"]
    write_report(metrics, tmp_path, target=target, notes=notes)
    for name in ("report.json", "timeseries.csv", "report.html"):
        assert SECRET not in (tmp_path / name).read_text(encoding="utf-8"), name


def test_the_html_is_self_contained(tmp_path: Path) -> None:
    html = write_report(filled(1_700_000_000.0), tmp_path).read_text(encoding="utf-8")
    assert "default-src 'none'" in html
    assert "<script src" not in html
    assert "<link" not in html
    assert "@import" not in html
    assert html.count("<figure class='chart'") == 5
    for title in ("Offered vs achieved rate", "limit vs in flight", "429s and errors", "Latency percentiles",
                  "Latency distribution"):  # fmt: skip
        assert title in html


def test_reports_of_processes_that_ran_together_merge_exactly(tmp_path: Path) -> None:
    a, b = filled(1_700_000_000.3, seed=1), filled(1_700_000_002.6, seed=2)  # b started 2.3 s later
    write_report(a, tmp_path / "a", spec={"thresholds": ["p99<800ms"]})
    write_report(b, tmp_path / "b")
    merged = merge_reports([tmp_path / "a", tmp_path / "b"])
    s = merged["summary"]
    assert (s["offered"], s["ok"], s["rate_limited"], s["dropped"]) == (1000, 900, 50, 10)
    offered = [row["offered"] for row in merged["timeseries"]]
    assert offered == [100, 100, 200, 200, 200, 100, 100, 0]  # aligned by wall-clock second (last: answers only)
    assert [row["in_flight"] for row in merged["timeseries"]][2] == 14  # both processes' requests in flight
    together = a.latency()
    together.merge(b.latency())
    assert s["latency_ms"]["p99"] == pytest.approx(together.percentile(99) / 1000, abs=0.001)  # type: ignore[operator]
    assert [v["expression"] for v in merged["thresholds"]] == ["p99<800ms"]  # the first report's
    assert s["duration_s"] == pytest.approx(6.7, abs=0.01)  # from a's start (.3) to b's end (7.0)


def test_merging_something_that_is_not_a_report_names_it(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "report.json").write_text('{"version": 99}', encoding="utf-8")
    with pytest.raises(MergeError, match=r"x/report\.json: not a cintel load report"):
        merge_reports([tmp_path / "x"])
    with pytest.raises(MergeError, match=r"no report\.json"):
        merge_reports([tmp_path / "missing"])


async def test_a_metered_client_fills_the_same_report(tmp_path: Path) -> None:
    import asyncio
    import time

    import httpx

    from harness import IntelligenceClient, RetryPolicy
    from harness.load._metered import MeteredTransport, operation_of

    statuses = iter([202, 429, 202, 500, 200, 200, 200])

    def answer(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        body = {"sid": "GT" + "1" * 32, "status": "queued", "meta": {"key": "sentences"}, "sentences": []}
        return httpx.Response(status, json=body if status < 300 else {"code": 20500, "message": "x"})

    loop = asyncio.get_running_loop()
    metrics = LoadMetrics(loop.time(), time.time())
    transport = MeteredTransport(httpx.MockTransport(answer), metrics, limit=lambda: 8.0)
    retry = RetryPolicy(base_s=0.0, max_backoff_s=0.0)  # retries at once: no real sleeping
    client = IntelligenceClient("AC" + "0" * 32, SECRET, base_url="http://mock", transport=transport, retry=retry)
    async with client:
        await client.create_transcript("GA" + "0" * 32, {"media_properties": {"media_url": "https://b/a.wav"}})
        await client.create_transcript("GA" + "0" * 32, {"media_properties": {"media_url": "https://b/b.wav"}})
        await client.fetch_transcript("GT" + "1" * 32)  # 500, then retried: 200
        _ = [s async for s in client.list_sentences("GT" + "1" * 32)]
        await client.fetch_service("GA" + "0" * 32)
    metrics.finish(loop.time())
    s = metrics.summary()
    assert (s["sent"], s["ok"], s["rate_limited"], s["server_errors"]) == (7, 5, 1, 1)
    assert {op: o["completed"] for op, o in s["by_operation"].items()} == {
        "create": 3, "fetch": 2, "sentences": 1, "other": 1,
    }  # fmt: skip
    assert metrics.timeseries()[0]["limit"] == 8.0
    write_report(metrics, tmp_path)
    assert SECRET not in (tmp_path / "report.json").read_text(encoding="utf-8")
    assert operation_of("GET", "/v2/Transcripts/GT1/OperatorResults") == "operator_results"
    assert operation_of("DELETE", "/v2/Transcripts/GT1") == "other"
