"""Log lines for people and for machines: plain `cintel: warning: …` lines, or JSON objects with --log-format json.

Every record passes `ScrubbingFilter` first: a pre-signed URL in an error message loses its query string before it
reaches a terminal or a CI log, and a traceback never reaches one (exception text is dropped to its scrubbed form).
"""

from __future__ import annotations

import json
import logging
import sys

from harness._redact import ScrubbingFilter


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"event": "log", "level": record.levelname.lower(), "logger": record.name,
                           "message": record.getMessage()})  # fmt: skip


def setup_logging(log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ScrubbingFilter())
    text = logging.Formatter("cintel: %(levelname)s: %(message)s")
    handler.setFormatter(_JsonFormatter() if log_format == "json" else text)
    for name in ("harness", "mock_server", "aiohttp"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.WARNING)
        logger.propagate = False
