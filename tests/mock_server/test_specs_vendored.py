"""Twilio's OpenAPI files are part of the repository, byte for byte the release they say they are.

A fresh clone used to skip 39 tests because the specs lived only in ../shared; now they are in tests/specs/ and no
test skips for want of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.conftest import INTELLIGENCE_SPEC, SPECS, VIDEO_SPEC


def test_the_specs_are_vendored_with_their_licence_and_pinned_bytes() -> None:
    assert Path(__file__).resolve().parents[1] / "specs" == SPECS
    licence = (SPECS / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence
    assert "Copyright (C) 2023, Twilio, Inc." in licence
    assert "2.6.7" in licence
    pinned = dict(reversed(line.split()) for line in (SPECS / "SHA256SUMS").read_text().splitlines())
    for path in (INTELLIGENCE_SPEC, VIDEO_SPEC):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pinned[path.name], path.name


def test_the_fixtures_read_both_specs(intelligence_spec: dict[str, Any], video_spec: dict[str, Any]) -> None:
    assert intelligence_spec["info"]["title"] == "Twilio - Intelligence"
    assert "/v2/Transcripts" in intelligence_spec["paths"]
    assert video_spec["info"]["title"] == "Twilio - Video"
    assert "/v1/Rooms" in video_spec["paths"]
