"""What people watching a batch see: a live rich panel on a terminal, plain lines in CI logs, JSON lines on request.

All three show the same numbers, taken from the journal (so the last line agrees with the final table): items
completed, failed, transcribing (submitted, waiting for Twilio), still to send, rows rejected; requests in flight,
the limiter's concurrency limit, 429s, retries, the rate — and an ongoing outage ("API unreachable for 40 s: …").
The runner reports at least once a second; plain and JSON lines are printed at most once a second, plus a last
one at the end. Plain lines are never wrapped (log viewers wrap), and with `--log-format json` every line on
stdout and stderr is a JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness._runner import Progress, Summary


def snapshot(p: Progress, metrics: dict[str, Any]) -> dict[str, Any]:
    c = p.counts
    elapsed = p.elapsed_s()
    finished = c.get("completed", 0) + c.get("failed", 0)
    return {
        "elapsed_s": round(p.elapsed_s(), 1), "phase": p.phase, "items": sum(c.values()), "loaded": p.loaded,
        "rejected": p.rejected, "completed": c.get("completed", 0), "failed": c.get("failed", 0),
        "transcribing": c.get("submitted", 0),
        "to_send": c.get("pending", 0) + c.get("submitting", 0) + c.get("unknown", 0),
        "in_flight": metrics.get("in_flight"), "limit": metrics.get("limit"),
        "rejected_429": metrics.get("rejected_429"), "retries": metrics.get("retries"),
        "rate_per_s": round((p.submitted + p.adopted + finished) / elapsed, 1) if elapsed >= 1 else 0.0,
        "outage": p.outage,
    }  # fmt: skip


def plain_line(s: dict[str, Any]) -> str:
    line = (
        f"[{s['elapsed_s']:>7.1f}s] {s['phase']}: {s['items']} items: completed {s['completed']}, failed "
        f"{s['failed']}, transcribing {s['transcribing']}, to send {s['to_send']}; rejected rows {s['rejected']}; "
        f"in flight {s['in_flight']}, limit {s['limit']}, 429s {s['rejected_429']}, retries {s['retries']}, "
        f"{s['rate_per_s']}/s"
    )
    return line + (f"; {s['outage']}" if s["outage"] else "")


class ProgressView:
    """Use as a context manager around the run; pass `view.update` as the runner's `on_progress`."""

    def __init__(self, log_format: str = "text", *, interactive: bool | None = None) -> None:
        self.log_format = log_format
        self.console = Console(stderr=True, soft_wrap=True)
        interactive = self.console.is_terminal if interactive is None else interactive
        self.interactive = interactive and log_format == "text"
        self._live = Live(console=self.console, refresh_per_second=4) if self.interactive else None
        self._last = 0.0
        self._latest: dict[str, Any] | None = None

    def __enter__(self) -> ProgressView:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
        elif self._latest is not None:
            self._emit(self._latest)  # the last line: the numbers the final table shows

    def update(self, p: Progress, metrics: dict[str, Any]) -> None:
        self._latest = snapshot(p, metrics)
        now = time.monotonic()
        if self._last and now - self._last < 1.0:
            return
        self._last = now
        if self._live is not None:
            self._live.update(_panel(self._latest))
        else:
            self._emit(self._latest)

    def _emit(self, s: dict[str, Any]) -> None:
        text = json.dumps({"event": "progress", **s}) if self.log_format == "json" else plain_line(s)
        print(text, file=sys.stderr, flush=True)

    def message(self, text: str, **fields: Any) -> None:
        """A line for the person running the batch (stderr): plain, or a JSON event with `--log-format json`."""
        if self.log_format == "json":
            print(json.dumps({"event": "message", "message": text, **fields}), file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def summary(self, summary: Summary, out: str | None) -> None:
        if self.log_format == "json":
            print(json.dumps({"event": "summary", **summary.__dict__, "out": out}), flush=True)
            return
        rows = [(s, summary.counts[s]) for s in ("completed", "failed", "submitted", "pending", "unknown",
                                                 "submitting") if summary.counts.get(s)]  # fmt: skip
        if summary.rejected:
            rows.append(("rejected (rows)", summary.rejected))
        lines = [f"  failed row {f['row']} {f['customer_key']}: {f['reason']}" for f in summary.failed[:20]]
        if len(summary.failed) > 20:
            lines.append(f"  … and {len(summary.failed) - 20} more in results.jsonl and summary.json")
        if out is not None:
            lines.append(f"results: {out}/results.jsonl, {out}/items/, {out}/rejects.jsonl, {out}/summary.json")
        if self.interactive:
            table = Table(caption=f"finished in {summary.elapsed_s:.1f} s")
            table.add_column("state")
            table.add_column("items", justify="right")
            for state, n in rows:
                table.add_row(state.replace("submitted", "transcribing (submitted)"), str(n))
            console = Console()
            console.print(table)
            for line in lines:
                console.print(line, markup=False, highlight=False)
            return
        print(f"finished in {summary.elapsed_s:.1f} s: " + ", ".join(f"{s} {n}" for s, n in rows), flush=True)
        for line in lines:
            print(line, flush=True)


def _panel(s: dict[str, Any]) -> Table:
    title = f"cintel — {s['phase']} — {s['elapsed_s']} s" + (f" — {s['outage']}" if s["outage"] else "")
    table = Table(title=title, show_header=True)
    columns = ("completed", "failed", "transcribing", "to send", "rejected", "in flight", "limit", "429s",
               "retries", "rate")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(
        f"{s['completed']}/{s['items']}", str(s["failed"]), str(s["transcribing"]), str(s["to_send"]),
        str(s["rejected"]), str(s["in_flight"]), str(s["limit"]), str(s["rejected_429"]), str(s["retries"]),
        f"{s['rate_per_s']}/s",
    )  # fmt: skip
    return table
