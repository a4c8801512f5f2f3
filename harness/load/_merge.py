"""`cintel load merge DIR...`: several processes' reports as one, exactly.

Each report.json carries its counters and its HDR histograms per wall-clock second, per operation, in total; those
are added (histograms with one layout merge exactly: counts add), seconds aligned by their Unix time. In-flight and
the limit add up across processes (each process's own requests and limiter). Percentiles are then computed from the
merged histograms — never averaged from the parts, which would be wrong.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from harness._errors import CintelError
from harness.load._histogram import Histogram
from harness.load._metrics import COUNTERS, LoadMetrics, Second
from harness.load._report import REPORT_VERSION, build_report
from harness.load._thresholds import Threshold, evaluate, parse_threshold


class MergeError(CintelError):
    """A report that cannot be merged; the message names the file."""


def _read(directory: Path) -> dict[str, Any]:
    path = directory / "report.json" if directory.is_dir() else directory
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MergeError(f"{path}: no report.json (a `cintel load --out DIR` directory is expected)") from None
    except (OSError, ValueError) as exc:
        raise MergeError(f"{path}: cannot read: {exc}") from None
    if not isinstance(report, dict) or report.get("version") != REPORT_VERSION:
        raise MergeError(f"{path}: not a cintel load report of version {REPORT_VERSION}")
    return report


def metrics_from_report(report: dict[str, Any], where: str) -> LoadMetrics:
    """Rebuild a `LoadMetrics` from a report.json's counters and histograms."""
    try:
        metrics = LoadMetrics(0.0, float(report["start_epoch"]))
        histograms = report["histograms"]
        per_second = histograms["per_second"]
        rows = report["timeseries"]
        for row, hist in zip(rows, per_second, strict=True):
            s = Second()
            s.offered, s.sent, s.completed, s.dropped = row["offered"], row["sent"], row["achieved"], row["dropped"]
            s.ok, s.rate_limited, s.server_errors = row["goodput"], row["rate_limited"], row["server_errors"]
            s.other_errors = row["other_errors"]
            s.in_flight, s.in_flight_max, s.limit = row["in_flight"], row["in_flight_max"], row["limit"]
            s.latency = Histogram.from_json(hist["latency"], f"{where}: second {row['second']}")
            s.webhook_lag = Histogram.from_json(hist["webhook_lag"], f"{where}: second {row['second']}")
            metrics.seconds.append(s)
        for op, data in histograms["operations"].items():
            metrics.op_latency[op] = Histogram.from_json(data, f"{where}: {op}")
        metrics.schedule_lag = Histogram.from_json(histograms["schedule_lag"], f"{where}: schedule_lag")
        metrics.callback_after_create = Histogram.from_json(histograms["callback_after_create"], where)
        counts = report["counts"]
        for op, outcome_counts in counts["by_operation"].items():
            metrics.by_operation[op] = [int(n) for n in outcome_counts]
        metrics.dropped_reasons = Counter(counts["dropped_reasons"])
        metrics.errors = Counter(counts["errors"])
        metrics.callbacks = int(counts["callbacks"])
        metrics.callbacks_unmatched = int(counts["callbacks_unmatched"])
        metrics.duration_s = float(report["summary"]["duration_s"])
        metrics.cpu_s = (report["summary"].get("generator_cpu") or {}).get("cpu_s")
    except (KeyError, TypeError, ValueError) as exc:
        raise MergeError(f"{where}: not a complete report ({type(exc).__name__}: {exc})") from None
    return metrics


def _add(into: LoadMetrics, part: LoadMetrics) -> None:
    offset = part.epoch0 - into.epoch0
    while len(into.seconds) < offset + len(part.seconds):
        into.seconds.append(Second())
    for i, s in enumerate(part.seconds):
        target = into.seconds[offset + i]
        for name in COUNTERS:
            setattr(target, name, getattr(target, name) + getattr(s, name))
        for name in ("in_flight", "in_flight_max", "limit"):
            mine, theirs = getattr(target, name), getattr(s, name)
            setattr(target, name, theirs if mine is None else mine if theirs is None else mine + theirs)
        target.latency.merge(s.latency)
        target.webhook_lag.merge(s.webhook_lag)
    for op, histogram in part.op_latency.items():
        into.op_latency.setdefault(op, Histogram()).merge(histogram)
        mine = into.by_operation.get(op, [0, 0, 0, 0])
        into.by_operation[op] = [a + b for a, b in zip(mine, part.by_operation[op], strict=True)]
    into.schedule_lag.merge(part.schedule_lag)
    into.callback_after_create.merge(part.callback_after_create)
    into.dropped_reasons.update(part.dropped_reasons)
    into.errors.update(part.errors)
    into.callbacks += part.callbacks
    into.callbacks_unmatched += part.callbacks_unmatched


def merge_reports(directories: list[Path], thresholds: list[Threshold] | None = None) -> dict[str, Any]:
    """One report (as `build_report` makes) from several; thresholds are those given, else the first report's."""
    if not directories:
        raise MergeError("give the report directories to merge")
    reports = [(str(d), _read(d)) for d in directories]
    parts = [metrics_from_report(r, where) for where, r in reports]
    start = min(p.start_wall for p in parts)
    merged = LoadMetrics(0.0, start)
    end = max(p.epoch0 + p.duration_s + (p.start_wall - p.epoch0) for p in parts)
    for part in parts:
        _add(merged, part)
    merged.duration_s = end - start
    cpu = [p.cpu_s for p in parts]
    merged.cpu_s = None if None in cpu else sum(c for c in cpu if c is not None)  # every process's CPU time
    if thresholds is None:
        thresholds = [parse_threshold(t) for t in reports[0][1].get("spec", {}).get("thresholds", [])]
    verdicts = evaluate(thresholds, merged.summary())
    spec = dict(reports[0][1].get("spec", {}))
    spec["merged_from"] = [where for where, _ in reports]
    notes = [f"merged from {len(reports)} reports: {', '.join(where for where, _ in reports)}"]
    for where, report in reports:
        notes.extend(f"{where}: {note}" for note in report.get("notes", []))
    return build_report(
        merged, title="cintel load (merged)", spec=spec, target=reports[0][1].get("target", {}), verdicts=verdicts,
        notes=notes, interrupted=any(r.get("interrupted") for _, r in reports),
        limit_label=f"{reports[0][1].get('limit_label', 'limit')} (sum)",
    )  # fmt: skip
