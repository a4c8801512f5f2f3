"""A command without credentials names the environment variables to set (exit 2) before it sends anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness._errors import ConfigurationError
from harness.cli import main
from harness.cli._env import require_credentials

TOKEN = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t"}
KEY = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_API_KEY": "SK" + "0" * 32, "TWILIO_API_SECRET": "s"}


@pytest.mark.parametrize("env", [TOKEN, KEY])
def test_a_full_set_passes(env: dict[str, str]) -> None:
    require_credentials(env, "why")


@pytest.mark.parametrize(
    ("env", "unset"),
    [
        ({}, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set"),
        ({"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN is not set"),
        ({"TWILIO_AUTH_TOKEN": "t"}, "TWILIO_ACCOUNT_SID is not set"),
        ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_API_KEY": "SK1"}, "TWILIO_API_SECRET is not set"),
    ],
)
def test_what_is_missing_is_named(env: dict[str, str], unset: str) -> None:
    with pytest.raises(ConfigurationError, match=unset) as raised:
        require_credentials(env, "why")
    assert "account_sid=" not in str(raised.value)  # the library's wording, which a command user cannot act on


def test_submit_without_credentials_exits_2_naming_the_variables_and_makes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    manifest = tmp_path / "calls.jsonl"
    manifest.write_text('{"media_url": "https://media.example/a.wav"}\n')
    journal, out = tmp_path / "j.sqlite", tmp_path / "out"
    argv = ["submit", str(manifest), "--service", "GA" + "0" * 32, "--journal", str(journal), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set" in err
    assert "account_sid=" not in err
    assert not journal.exists()
    assert not out.exists()
