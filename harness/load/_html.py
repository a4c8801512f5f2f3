"""report.html: one self-contained page — no network, no CDN — made from the (already scrubbed) report dict.

The tables are written here as static HTML (every value escaped); the charts are drawn by the inline script
(`_html_js.SCRIPT`) from the report's time series, embedded as JSON in a `<script type="application/json">` element
(with `</` escaped so no value can close it). A Content-Security-Policy forbids every fetch, so the page cannot
reach the network even if a value tried to.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from harness.load._html_js import SCRIPT

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 920px;
       color: #222; background: #f6f6f4; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.meta { color: #555; font-size: 13px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; } th { background: #f0f0ee; }
td.name, th.name { text-align: left; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
.warn { background: #fff4e5; border: 1px solid #f0b46a; padding: 8px 12px; margin: 10px 0; }
figure.chart { margin: 16px 0; background: #fff; border: 1px solid #ddd; width: 880px; height: 300px; }
figure.chart svg { display: block; font-family: inherit; }
"""
# Nothing may be fetched: the page draws from what it holds.
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
CHARTS = (
    ("chart-rate", "Offered vs achieved rate"),
    ("chart-limit", "Concurrency: limit vs in flight"),
    ("chart-errors", "429s and errors"),
    ("chart-latency", "Latency percentiles over time"),
    ("chart-distribution", "Latency distribution"),
)


def _cell(value: Any, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return escape(f"{value:,.3f}".rstrip("0").rstrip(".") + suffix)
    if isinstance(value, int):
        return escape(f"{value:,}{suffix}")
    return escape(str(value))


def _percent(value: float | None) -> str:
    return "–" if value is None else escape(f"{value * 100:.3g}%")


def _summary_table(report: dict[str, Any]) -> str:
    s = report["summary"]
    rows = [
        ("duration", _cell(s["duration_s"], " s")),
        ("arrivals offered", _cell(s["offered"])),
        ("requests sent", _cell(s["sent"])),
        ("dropped arrivals", f"{_cell(s['dropped'])} ({_percent(s.get('dropped_rate'))})"),
        ("answered / achieved rate", f"{_cell(s['completed'])} / {_cell(s['achieved_rate'], '/s')}"),
        ("2xx / goodput", f"{_cell(s['ok'])} / {_percent(s.get('goodput'))} of offered"),
        ("429 rate limited", f"{_cell(s['rate_limited'])} ({_percent(s.get('429_rate'))})"),
        ("5xx server errors", f"{_cell(s['server_errors'])} ({_percent(s.get('5xx_rate'))})"),
        ("other errors", _cell(s["other_errors"])),
        ("generator lateness p99 / max", f"{_cell(s['schedule_lag_ms']['p99'], ' ms')} / "
                                         f"{_cell(s['schedule_lag_ms']['max'], ' ms')}"),
        ("webhook lag p50 / p99 (callbacks)", f"{_cell(s['webhook_lag_ms']['p50'], ' ms')} / "
         f"{_cell(s['webhook_lag_ms']['p99'], ' ms')} ({_cell(s['callbacks'])})"),
    ]  # fmt: skip
    body = "".join(f"<tr><td class='name'>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    latency = s["latency_ms"]
    names = ("p50", "p90", "p99", "p99.9", "max", "mean")
    head = "".join(f"<th>{n}</th>" for n in names)
    lines = [f"<tr><td class='name'>all</td>{''.join(f'<td>{_cell(latency[n])}</td>' for n in names)}"
             f"<td>{_cell(s['completed'])}</td></tr>"]  # fmt: skip
    for op, o in s.get("by_operation", {}).items():
        cells = "".join(f"<td>{_cell(o['latency_ms'][n])}</td>" for n in names)
        lines.append(f"<tr><td class='name'>{escape(op)}</td>{cells}<td>{_cell(o['completed'])}</td></tr>")
    latency_table = f"<table><tr><th class='name'>latency (ms)</th>{head}<th>requests</th></tr>{''.join(lines)}</table>"
    return f"<table><tr><th class='name'>measure</th><th>value</th></tr>{body}</table>{latency_table}"


def _thresholds_table(report: dict[str, Any]) -> str:
    verdicts = report.get("thresholds", [])
    if not verdicts:
        return "<p class='meta'>No thresholds were set.</p>"
    rows = []
    for v in verdicts:
        actual = v["actual"]
        if actual is None:
            shown = "no data"
        elif v["unit"] == "":
            shown = _percent(actual)
        else:
            shown = _cell(actual, v["unit"])
        verdict = "<span class='pass'>pass</span>" if v["passed"] else "<span class='fail'>FAIL</span>"
        rows.append(f"<tr><td class='name'>{escape(v['expression'])}</td><td>{shown}</td><td>{verdict}</td></tr>")
    return f"<table><tr><th class='name'>threshold</th><th>actual</th><th>result</th></tr>{''.join(rows)}</table>"


def _warnings(report: dict[str, Any]) -> str:
    s = report["summary"]
    items = []
    if s["dropped"]:
        reasons = ", ".join(f"{escape(k)}: {v:,}" for k, v in s.get("dropped_reasons", {}).items())
        items.append(f"The generator dropped {s['dropped']:,} arrivals ({_percent(s.get('dropped_rate'))}) it could "
                     f"not send on time ({reasons}). The rates measured are below the rate asked for.")  # fmt: skip
    if report.get("interrupted"):
        items.append("The run was interrupted: these are the figures up to that moment.")
    items.extend(escape(n) for n in report.get("notes", []))
    return "".join(f"<div class='warn'>{item}</div>" for item in items)


def render_html(report: dict[str, Any]) -> str:
    spec = report.get("spec", {})
    target = report.get("target", {})
    profile = (spec.get("profile") or {}).get("description") or (
        f"closed model, {spec.get('concurrency')} concurrent" + (" (adaptive limiter)" if spec.get("adaptive") else "")
        if spec
        else ""
    )
    mix = ", ".join(f"{k} {v:g}" for k, v in (spec.get("mix") or {}).items() if v)
    meta = " · ".join(
        escape(str(x))
        for x in (
            f"started {report['started_at']}",
            f"target: {target.get('kind', '?')} {target.get('base_url', '')}".strip(),
            profile,
            f"mix: {mix}" if mix else "",
        )
        if x
    )
    data = json.dumps(
        {k: report[k] for k in ("timeseries", "distribution", "summary", "limit_label")}, allow_nan=False
    ).replace("</", "<\\/")
    passed = report.get("thresholds_passed", True)
    status = ""
    if report.get("thresholds"):
        status = (
            " — <span class='pass'>thresholds passed</span>"
            if passed
            else " — <span class='fail'>thresholds crossed</span>"
        )
    figures = "".join(f"<figure class='chart' id='{cid}' aria-label='{escape(t)}'></figure>" for cid, t in CHARTS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{escape(report.get("title", "cintel load"))} report</title>
<style>{STYLE}</style></head>
<body>
<h1>{escape(report.get("title", "cintel load"))} report{status}</h1>
<p class="meta">{meta}</p>
{_warnings(report)}
<h2>Summary</h2>
{_summary_table(report)}
<h2>Thresholds</h2>
{_thresholds_table(report)}
<h2>Charts</h2>
{figures}
<script id="report-data" type="application/json">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"""
