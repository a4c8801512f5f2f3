"""The public API is exactly what harness/__init__.py lists, sorted; algorithms live in a submodule."""

from __future__ import annotations

import types

import harness
import harness.limiter


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and names every public attribute (and nothing else); public subpackages are modules."""
    public = sorted(
        name
        for name, value in vars(harness).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )

    assert harness.__all__ == sorted(harness.__all__)
    assert set(harness.__all__) == set(public)


def test_every_export_is_documented() -> None:
    """Each exported class or function has a docstring."""
    undocumented = [name for name in harness.__all__ if not (getattr(harness, name).__doc__ or "").strip()]

    assert undocumented == []


def test_the_main_job_is_public_and_the_limiter_algorithm_is_not_top_level() -> None:
    for name in ("BatchRunner", "RunnerOptions", "Journal", "WebhookReceiver", "read_manifest", "scrub_text"):
        assert name in harness.__all__
    for name in ("decide", "Sample", "LimiterState"):
        assert name not in harness.__all__
        assert name in harness.limiter.__all__
    assert harness.limiter.__all__ == sorted(harness.limiter.__all__)
