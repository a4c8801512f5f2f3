"""The public API is exactly what harness/__init__.py lists, sorted."""

from __future__ import annotations

import harness


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and names every public attribute (and nothing else)."""
    public = sorted(name for name in vars(harness) if not name.startswith("_"))

    assert harness.__all__ == sorted(harness.__all__)
    assert set(harness.__all__) == set(public)


def test_every_export_is_documented() -> None:
    """Each exported class or function has a docstring."""
    undocumented = [name for name in harness.__all__ if not (getattr(harness, name).__doc__ or "").strip()]

    assert undocumented == []
