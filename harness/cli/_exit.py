"""Exit codes, chosen by cause, for every `cintel` command (DESIGN.md) — defined once, here.

A leaf module: the command modules import it; it imports nothing of theirs.
"""

from __future__ import annotations

from harness._errors import (
    AccountBlocked,
    ApiUnreachable,
    OutcomeUnknown,
    RateLimited,
    RetryBudgetExhausted,
    ServerError,
    TransportError,
)

EXIT_OK = 0  # all done
EXIT_FAILED = 1  # some items failed or rows were rejected (listed)
EXIT_USAGE = 2  # usage or input error: nothing sent
EXIT_INTERRUPTED = 3  # interrupted or a transient failure: run the same command again to resume
EXIT_BLOCKED = 4  # blocked by the account (credentials, permissions, unknown service): nothing marked failed
EXIT_THRESHOLDS = 99  # load or scenario thresholds crossed (k6's convention)

HELP = """exit codes:
  0   all done
  1   some items failed (their own errors) or manifest rows were rejected: listed at the end and in results.jsonl
  2   usage or input error (the message names the file, row, option or value): nothing was sent
  3   interrupted (Ctrl-C, SIGTERM), the API unreachable too long, or --timeout reached: run the same command
      again to resume — nothing is sent twice
  4   blocked by the account: the credentials, a key's permissions or the service were refused; nothing was
      marked failed — fix it and run the same command again"""


def code_for(error: BaseException) -> int:
    """The exit code an error that ends a command stands for."""
    if isinstance(error, AccountBlocked):
        return EXIT_BLOCKED
    transient = (ApiUnreachable, TransportError, OutcomeUnknown, RetryBudgetExhausted, ServerError, RateLimited)
    if isinstance(error, transient):
        return EXIT_INTERRUPTED
    return EXIT_USAGE
