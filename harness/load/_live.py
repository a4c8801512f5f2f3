"""Live progress of a load run: a rich panel on a terminal, one plain line a second otherwise (CI logs).

Each second shows the totals so far and the last whole second's rates: offered and achieved, 2xx, 429s, 5xx,
other errors, dropped arrivals, requests in flight and the limit. Dropped arrivals are shown as soon as there are
any, with a word on what they mean, so that nobody reads a rate the generator did not manage as a measured one.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.load._generator import Tick

COLUMNS = ("offered", "sent", "achieved", "goodput", "rate_limited", "server_errors", "other_errors", "dropped")
HEADERS = ("offered", "sent", "answered", "2xx", "429", "5xx", "errors", "dropped")


class LiveView:
    def __init__(
        self, *, interactive: bool | None = None, duration_s: float | None = None, limit_label: str = "limit"
    ) -> None:
        self.limit_label = limit_label  # "limit" (the adaptive limiter's) or "cap" (--max-in-flight)
        self.console = Console(stderr=True, soft_wrap=True)
        self.interactive = self.console.is_terminal if interactive is None else interactive
        self.duration_s = duration_s
        self._live = Live(console=self.console, refresh_per_second=2) if self.interactive else None
        self._last: dict[str, int] = {}
        self._warned = False

    def __enter__(self) -> LiveView:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def message(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)

    def update(self, tick: Tick) -> None:
        totals = {"achieved": tick.totals["completed"], "goodput": tick.totals["ok"], **tick.totals}
        per_second = {k: totals.get(k, 0) - self._last.get(k, 0) for k in COLUMNS}
        self._last = totals
        if totals["dropped"] and not self._warned:
            self._warned = True
            self.message(
                f"warning: the generator is dropping arrivals ({totals['dropped']} so far): it cannot keep up with "
                "the asked rate (see the report's dropped counts); the rates below are what was really sent"
            )
        if self._live is not None:
            self._live.update(self._panel(tick, totals, per_second))
            return
        of = f"/{self.duration_s:g}" if self.duration_s else ""
        limit = "-" if tick.limit is None else f"{tick.limit:g}"
        cells = ", ".join(f"{h} {per_second[c]}/s ({totals.get(c, 0)})" for h, c in zip(HEADERS, COLUMNS, strict=True))
        print(f"[{tick.elapsed_s:>6.1f}{of}s] {cells}; in flight {tick.in_flight}, {self.limit_label} {limit}",
              file=sys.stderr, flush=True)  # fmt: skip

    def _panel(self, tick: Tick, totals: dict[str, int], per_second: dict[str, int]) -> Table:
        of = f" of {self.duration_s:g} s" if self.duration_s else ""
        table = Table(title=f"cintel load — {tick.elapsed_s:.0f} s{of}")
        table.add_column("")
        for header in (*HEADERS, "in flight", self.limit_label):
            table.add_column(header, justify="right")
        limit = "-" if tick.limit is None else f"{tick.limit:g}"
        table.add_row("last second", *(f"{per_second[c]}/s" for c in COLUMNS), str(tick.in_flight), limit)
        table.add_row("total", *(str(totals.get(c, 0)) for c in COLUMNS), "", "")
        return table
