"""The allowed range of every number the mock is configured with, by key path — read off the declarations.

Each range is declared with its key in `mock_server/_config/` (`Annotated[float, LATENCY]`); this module keeps the
table's old home for the modules that check a number the same way outside the configuration (the media host's
`ttl_s`, the `--seed` option) and for the caps on draws (`MAX_LATENCY_MS`, `MAX_RETRY_WAIT_MS`).

Keys are written as paths in a config document: `*` stands for a route family, `[]` for a list index, and the
latency keys hold for the top-level `latency_ms` and for every `latency_ms.routes.<family>` alike.
"""

from __future__ import annotations

from mock_server._config import BOUNDS, MAX_CAPACITY_STEPS, MAX_LATENCY_MS, MAX_RETRY_WAIT_MS, SEED, Bound

__all__ = [
    "BOUNDS",
    "MAX_CAPACITY_STEPS",
    "MAX_LATENCY_MS",
    "MAX_RETRY_WAIT_MS",
    "SEED",
    "Bound",
]
