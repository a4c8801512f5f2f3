"""Client side of cintel-harness: the Intelligence client and the batch job built on it (see README).

What users compose is exported here: the client with its retry policy and limiter settings, the batch runner with
its journal, manifest reader and webhook receiver, and the error tree. The limiter's algorithm (its decision
function and state) lives in `harness.limiter`; the command line in `harness.cli`.
"""

from harness._client import IntelligenceClient
from harness._credentials import Credentials, resolve_credentials
from harness._errors import (
    AccountBlocked,
    ApiUnreachable,
    BadRequest,
    CintelError,
    ConfigurationError,
    Conflict,
    Forbidden,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RetryBudgetExhausted,
    ServerError,
    TransportError,
    TwilioApiError,
    Unauthorized,
)
from harness._journal import Journal, JournalError, JournalItem, JournalLocked, JournalReader, fingerprint
from harness._limiter import AdaptiveLimiter, LimiterParams
from harness._manifest import ManifestError, ManifestItem, ManifestScan, Reject, read_manifest, scan_manifest
from harness._models import Media, Operator, OperatorResult, Sentence, Service, Transcript, Word
from harness._outputs import OutputDirError
from harness._redact import ScrubbingFilter, scrub_text
from harness._retry import RetryBudget, RetryEvent, RetryPolicy, compute_backoff
from harness._runner import BatchRunner, Progress, RunnerOptions, Summary
from harness._transport import AiohttpTransport
from harness._webhooks import WebhookReceiver, WebhookReceiverError

__all__ = [
    "AccountBlocked",
    "AdaptiveLimiter",
    "AiohttpTransport",
    "ApiUnreachable",
    "BadRequest",
    "BatchRunner",
    "CintelError",
    "ConfigurationError",
    "Conflict",
    "Credentials",
    "Forbidden",
    "IntelligenceClient",
    "Journal",
    "JournalError",
    "JournalItem",
    "JournalLocked",
    "JournalReader",
    "LimiterParams",
    "ManifestError",
    "ManifestItem",
    "ManifestScan",
    "Media",
    "NotFound",
    "Operator",
    "OperatorResult",
    "OutcomeUnknown",
    "OutputDirError",
    "Progress",
    "RateLimited",
    "Reject",
    "RetryBudget",
    "RetryBudgetExhausted",
    "RetryEvent",
    "RetryPolicy",
    "RunnerOptions",
    "ScrubbingFilter",
    "Sentence",
    "ServerError",
    "Service",
    "Summary",
    "Transcript",
    "TransportError",
    "TwilioApiError",
    "Unauthorized",
    "WebhookReceiver",
    "WebhookReceiverError",
    "Word",
    "compute_backoff",
    "fingerprint",
    "read_manifest",
    "resolve_credentials",
    "scan_manifest",
    "scrub_text",
]
