"""Writing a run's results: `report.json` (everything, histograms included, so reports merge exactly),
`timeseries.csv` (one row a second) and `report.html` (one self-contained page: summary, thresholds, charts).

`write_report(metrics, out_dir)` is the entry point for any run that filled a `LoadMetrics` — `cintel load`,
`cintel submit --report`, a scenario run. Every text that leaves the process passes `scrub_text`, so a URL's query
or a credential never reaches a report; the reports hold counts, latencies and SIDs only.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness._redact import scrub_text
from harness.load._histogram import Histogram, bucket_bounds
from harness.load._html import render_html
from harness.load._metrics import LoadMetrics
from harness.load._thresholds import Verdict

REPORT_VERSION = 1
CSV_COLUMNS = (
    "second", "epoch", "offered", "sent", "achieved", "goodput", "rate_limited", "server_errors", "other_errors",
    "dropped", "limit", "in_flight", "in_flight_max", "p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms",
    "webhook_lag_p50_ms", "webhook_lag_p99_ms",
)  # fmt: skip
DISTRIBUTION_BINS_PER_DECADE = 12


def distribution(histogram: Histogram) -> list[list[float]]:
    """The histogram re-binned on a log scale for plotting: [low_ms, high_ms, count] per non-empty bin."""
    bins: dict[int, int] = {}
    for index, count in histogram:
        low, high = bucket_bounds(index)
        middle_ms = max((low + high) / 2000.0, 0.001)
        key = math.floor(math.log10(middle_ms) * DISTRIBUTION_BINS_PER_DECADE)
        bins[key] = bins.get(key, 0) + count
    return [
        [
            round(10 ** (k / DISTRIBUTION_BINS_PER_DECADE), 4),
            round(10 ** ((k + 1) / DISTRIBUTION_BINS_PER_DECADE), 4),
            n,
        ]
        for k, n in sorted(bins.items())
    ]


def build_report(
    metrics: LoadMetrics,
    *,
    title: str = "cintel load",
    spec: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
    verdicts: Sequence[Verdict] = (),
    notes: Sequence[str] = (),
    interrupted: bool = False,
    limit_label: str = "limit",
) -> dict[str, Any]:
    summary = metrics.summary()
    latency = metrics.latency()
    return {
        "version": REPORT_VERSION,
        "title": title,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(metrics.start_wall)),
        "start_epoch": metrics.start_wall,
        "interrupted": interrupted,
        "spec": spec or {},
        "target": target or {},
        "summary": summary,
        "thresholds": [v.to_json() for v in verdicts],
        "thresholds_passed": all(v.passed for v in verdicts),
        "notes": list(notes),
        "limit_label": limit_label,
        "timeseries": metrics.timeseries(),
        "distribution": distribution(latency),
        "histograms": {
            "operations": {op: h.to_json() for op, h in metrics.op_latency.items() if h.total},
            "schedule_lag": metrics.schedule_lag.to_json(),
            "callback_after_create": metrics.callback_after_create.to_json(),
            "per_second": [
                {"latency": s.latency.to_json(), "webhook_lag": s.webhook_lag.to_json()} for s in metrics.seconds
            ],
        },
        "counts": {
            "by_operation": dict(metrics.by_operation),
            "dropped_reasons": dict(metrics.dropped_reasons),
            "errors": dict(metrics.errors),
            "callbacks": metrics.callbacks,
            "callbacks_unmatched": metrics.callbacks_unmatched,
        },
    }


def timeseries_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_COLUMNS})
    return buffer.getvalue()


def write_files(report: dict[str, Any], out_dir: Path) -> Path:
    """Write report.json, timeseries.csv and report.html into `out_dir` (made if missing); returns report.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = scrub_text(json.dumps(report, indent=1, allow_nan=False))
    clean = json.loads(text)  # what the HTML embeds is the scrubbed report, too
    (out_dir / "report.json").write_text(text + "\n", encoding="utf-8")
    (out_dir / "timeseries.csv").write_text(timeseries_csv(clean["timeseries"]), encoding="utf-8")
    html = out_dir / "report.html"
    html.write_text(render_html(clean), encoding="utf-8")
    return html


def write_report(
    metrics: LoadMetrics,
    out_dir: Path,
    *,
    title: str = "cintel load",
    spec: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
    verdicts: Sequence[Verdict] = (),
    notes: Sequence[str] = (),
    interrupted: bool = False,
    limit_label: str = "limit",
) -> Path:
    """Write the three report files for a run's metrics into `out_dir`; returns the path of report.html."""
    report = build_report(
        metrics, title=title, spec=spec, target=target, verdicts=verdicts, notes=notes, interrupted=interrupted,
        limit_label=limit_label,
    )  # fmt: skip
    return write_files(report, out_dir)
