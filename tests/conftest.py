"""Fixtures shared by every test package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
INTELLIGENCE_SPEC = SHARED / "specs" / "twilio_intelligence_v2.json"


@pytest.fixture(scope="session")
def intelligence_spec() -> dict[str, Any]:
    """Twilio's official OpenAPI file for Intelligence v2, read from ../shared (never shipped with the package)."""
    if not INTELLIGENCE_SPEC.is_file():
        pytest.skip(f"Twilio's OpenAPI spec is not at {INTELLIGENCE_SPEC} (../shared is absent)")
    spec: dict[str, Any] = json.loads(INTELLIGENCE_SPEC.read_text(encoding="utf-8"))
    return spec
