"""`cintel submit --report DIR`: the batch's traffic in the same report `cintel load` writes.

Every request the batch's client sends passes a `harness.load.MeteredTransport` (wrapped around whichever transport
the run uses: the usual one, the recorder's or a cassette's), so the report shows what the batch did to the API —
rate, 429s and errors, the adaptive limiter's limit against the requests in flight, latency percentiles per second —
and the report is written when the run ends, however it ends (an interrupted run's report says so).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from harness._client import IntelligenceClient
    from harness.load import LoadMetrics, MeteredTransport

__all__ = ["BatchReport"]


class BatchReport:
    """Meters one batch's client and writes its report into `out_dir`."""

    def __init__(self, out_dir: Path, manifest: Path) -> None:
        self.out_dir = out_dir
        self.manifest = manifest
        self.metrics: LoadMetrics | None = None
        self.meter: MeteredTransport | None = None

    def wrap(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """Called once, in the running loop, with the transport the client will send through."""
        from harness.load import LoadMetrics, MeteredTransport

        self.metrics = LoadMetrics(asyncio.get_running_loop().time(), time.time())
        self.meter = MeteredTransport(transport, self.metrics)
        return self.meter

    def bind(self, client: IntelligenceClient) -> None:
        """Sample the client's adaptive limit beside the requests in flight."""
        if self.meter is not None:
            self.meter.limit = lambda: float(client.limiter.limit)

    def write(self, exit_code: int, interrupted: bool) -> Path | None:
        """Write report.html, report.json and timeseries.csv; the path of report.html (None if nothing was sent)."""
        from harness.load import write_report

        if self.metrics is None:
            return None
        self.metrics.finish(asyncio.get_running_loop().time())
        notes = [f"cintel submit {self.manifest.name}: exit {exit_code}; every request of the batch, retries included"]
        return write_report(
            self.metrics, self.out_dir, title=f"cintel submit {self.manifest.name}", spec={"model": "batch"},
            notes=notes, interrupted=interrupted,
        )  # fmt: skip
