"""Fixtures shared by every test package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# The machine is shared and noisy: a wall-clock deadline per example would make property tests flaky without
# telling us anything about correctness, so no deadline; and the number of examples stays modest so the whole
# suite fits comfortably in CI's time.
settings.register_profile(
    "cintel", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("cintel")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
INTELLIGENCE_SPEC = SHARED / "specs" / "twilio_intelligence_v2.json"


@pytest.fixture(scope="session")
def intelligence_spec() -> dict[str, Any]:
    """Twilio's official OpenAPI file for Intelligence v2, read from ../shared (never shipped with the package)."""
    if not INTELLIGENCE_SPEC.is_file():
        pytest.skip(f"Twilio's OpenAPI spec is not at {INTELLIGENCE_SPEC} (../shared is absent)")
    spec: dict[str, Any] = json.loads(INTELLIGENCE_SPEC.read_text(encoding="utf-8"))
    return spec
