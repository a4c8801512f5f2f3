"""Client side of cintel-harness: the Intelligence client, its adaptive limiter and retries (see README)."""

from harness._client import IntelligenceClient
from harness._credentials import Credentials, resolve_credentials
from harness._errors import (
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
from harness._limiter import AdaptiveLimiter, LimiterParams, LimiterState, Sample, decide
from harness._models import Media, Operator, OperatorResult, Sentence, Service, Transcript, Word
from harness._retry import RetryBudget, RetryEvent, RetryPolicy, compute_backoff
from harness._transport import AiohttpTransport

__all__ = [
    "AdaptiveLimiter",
    "AiohttpTransport",
    "BadRequest",
    "CintelError",
    "ConfigurationError",
    "Conflict",
    "Credentials",
    "Forbidden",
    "IntelligenceClient",
    "LimiterParams",
    "LimiterState",
    "Media",
    "NotFound",
    "Operator",
    "OperatorResult",
    "OutcomeUnknown",
    "RateLimited",
    "RetryBudget",
    "RetryBudgetExhausted",
    "RetryEvent",
    "RetryPolicy",
    "Sample",
    "Sentence",
    "ServerError",
    "Service",
    "Transcript",
    "TransportError",
    "TwilioApiError",
    "Unauthorized",
    "Word",
    "compute_backoff",
    "decide",
    "resolve_credentials",
]
