"""The adaptive concurrency limiter's algorithm, for those who study or tune it (`harness/_limiter.py` has sources).

`AdaptiveLimiter` and `LimiterParams` are also exported from `harness`, because users compose them into a client;
the decision function and its state live here, with the algorithm, not in the top-level API.
"""

from harness._limiter import AdaptiveLimiter, LimiterParams, LimiterState, Sample, decide

__all__ = ["AdaptiveLimiter", "LimiterParams", "LimiterState", "Sample", "decide"]
