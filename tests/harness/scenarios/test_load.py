"""Scenario files are checked whole before anything runs: every problem names the file, the key path and the value;
the library in scenarios/ is valid against the mock's own configuration model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from harness.cli._scenario import mock_validator
from harness.scenarios import ScenarioError, find_scenarios, load_scenario, schema_mock_validator
from harness.scenarios._fields import UTTERANCE_S
from harness.scenarios._load import MOCK_SCHEMA, merge_patch

LIBRARY = Path(__file__).resolve().parents[3] / "scenarios"
VOICES = Path(__file__).resolve().parents[3] / "mock_server" / "_media" / "voices"


def write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, validate_mock=kwargs.get("validate_mock", mock_validator()))
    assert all(p.startswith(f"{path}: ") for p in caught.value.problems)
    return [p.removeprefix(f"{path}: ") for p in caught.value.problems]


MINIMAL = """
[media.call]
seconds = 4.0
channels = 2
segments = [{ at_s = 0.3, utterance = "hello", channel = 1 }, { at_s = 2.0, utterance = "yes", channel = 2 }]

[[steps]]
do = "submit"
items = [{ key = "a", media = "call" }]
"""


def test_the_library_has_at_least_15_valid_scenarios_with_descriptions() -> None:
    files = find_scenarios([LIBRARY])
    assert len(files) >= 15
    for path in files:
        loaded = load_scenario(path, validate_mock=mock_validator())
        assert loaded.scenario.description, path
        assert not loaded.scenario.expect.empty, f"{path}: a scenario with nothing to check"


def test_the_library_mock_tables_match_the_mocks_json_schema_when_it_is_published() -> None:
    validate = schema_mock_validator()
    if validate is None:
        pytest.skip(f"{MOCK_SCHEMA.name} is not published yet (the mock's config model is being rewritten)")
    for path in find_scenarios([LIBRARY]):
        load_scenario(path, validate_mock=validate)
    with pytest.raises(ValueError, match=r"^mock\.lifecycle\.mode: 'never' is not one of"):
        validate({"lifecycle": {"mode": "never"}}, "mock")
    with pytest.raises(ValueError, match=r"^mock\.faults\.error_5xx: 2 is greater than the maximum of 1"):
        validate({"faults": {"error_5xx": 2}}, "mock")


def test_a_schema_validator_names_the_key_path_and_the_value(tmp_path: Path) -> None:
    lifecycle = {"type": "object", "properties": {"seconds": {"type": "number"}}}
    schema = {"type": "object", "additionalProperties": False, "properties": {"lifecycle": lifecycle}}
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(schema))
    validate = schema_mock_validator(schema_path)
    assert validate is not None
    validate({"lifecycle": {"seconds": 2}}, "mock")
    with pytest.raises(ValueError, match=r"^mock\.lifecycle\.seconds: 'soon' is not of type 'number'"):
        validate({"lifecycle": {"seconds": "soon"}}, "mock")
    assert schema_mock_validator(tmp_path / "absent.json") is None


def test_the_utterance_table_matches_the_packaged_voices() -> None:
    for name, seconds in UTTERANCE_S.items():
        info = sf.info(VOICES / f"{name}.flac")
        assert info.frames / info.samplerate == pytest.approx(seconds, abs=1e-9)
    assert sorted(UTTERANCE_S) == sorted(p.stem for p in VOICES.glob("*.flac"))


def test_a_wrong_value_names_the_file_the_key_path_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + """
        [expect]
        sentences = [
          { item = "a", channel = 1, at_s = 0.3 },
          { item = "a", channel = 2, at_s = 2.0 },
          { item = "a", channel = 3, at_s = 2.5 },
        ]
        """)  # fmt: skip
    assert problems(path) == ["expect.sentences[2].channel: 3 is not 1 or 2"]


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        (
            'descripton = "x"',
            "descripton: unknown key (allowed: description, expect, media, mock, rooms, seed, steps, timeout_s)",
        ),
        ('timeout_s = "60"', 'timeout_s: "60" is not a number'),
        ("timeout_s = inf", "timeout_s: inf is not a finite number"),
        ("seed = -1", "seed: -1 is less than 0"),
        ("[expect]\nexactly_once = 1", "expect.exactly_once: 1 is not true or false"),
        ("[expect]\ngoodput = { min = 3, max = 1 }", "expect.goodput: min 3 is more than max 1"),
        (
            '[expect]\nstatuses = { a = "done" }',
            "expect.statuses.a: \"done\" is not 'completed', 'failed', 'rejected' or 'not_done'",
        ),
        ("[expect]\nstats = { requestz = { min = 1 } }", "expect.stats.requestz: is not a counter of the mock's stats"),
        ('[expect]\nerrors = { b = "x" }', 'expect.errors.b: "b" is no item of this scenario'),
        ('[mock]\nlifecycle = { mode = "never" }', "mock: 'lifecycle.mode' must be one of"),
        ("[mock]\nconcurency_limit = 3", "mock: unknown key 'concurency_limit'"),
    ],
)
def test_each_kind_of_mistake_is_named(tmp_path: Path, fragment: str, message: str) -> None:
    text = MINIMAL + "\n" + fragment if fragment.startswith("[") else fragment + "\n" + MINIMAL
    found = problems(write(tmp_path, text))
    assert any(p.startswith(message) for p in found), found


def test_steps_are_checked_by_their_kind_and_their_references(tmp_path: Path) -> None:
    path = write(tmp_path, """
        [media.call]
        seconds = 3.0
        segments = [{ at_s = 2.0, utterance = "hello" }]

        [rooms.r]
        participants = [{ identity = "a", joined_s = 2, left_s = 1, segments = [{ at_s = 0.5, utterance = "yes" }] }]

        [[steps]]
        do = "sleep"

        [[steps]]
        do = "submit"
        service = "nope"
        items = [{ key = "a", media = "calls" }, { key = "a", room = "r", ttl_s = 5 }]

        [[steps]]
        do = "submit"
        batch = "main"
        items = [{ key = "b", media_url = "https://x.example/b.wav" }]

        [[steps]]
        do = "merge"
        output = "call"
        tracks = [{ media = "call" }]
        """)  # fmt: skip
    found = problems(path)
    assert found == [
        'steps[0].do: "sleep" is not one of service, submit, merge, configure, wait, create',
        "steps[1].items[1]: 'host' and 'ttl_s' say how a declared 'media' is served: give them with 'media'",
    ]
    path.write_text(path.read_text().replace('do = "sleep"', 'do = "wait"\nseconds = 1').replace(", ttl_s = 5", ""))
    assert problems(path) == [
        "media.call.segments[0].at_s: 2 puts 'hello' (1.67 s) past the track's end (3 s)",
        "rooms.r.participants[0].left_s: 1 is not after joined_s (2)",
        "rooms.r.participants[0].segments[0].at_s: 0.5 puts 0.93 s of speech outside the stay (2 to 1 s)",
        'steps[1].service: "nope" is not declared by a service step',
        'steps[1].items[0].media: "calls" is not declared in [media] (or made by an earlier merge)',
        'steps[1].items[1].key: "a" is used twice (a key names one item in the scenario)',
        'steps[2]: resumes batch "main", which runs the same manifest: give no items',
        "steps[3].tracks: 1 tracks without channels: give two (channel 1 first), or a 'channel' on each to mix "
        "several onto one",
        'steps[3].output: "call" is already a media name',
    ]  # fmt: skip


def test_a_configure_step_is_checked_as_a_patch_over_the_mock_table(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + """
        [[steps]]
        do = "configure"
        at_s = 1.0
        mock = { capacity_schedule = [{ at_s = 1, concurrency_limit = 0 }] }
        """)  # fmt: skip
    (found,) = problems(path)
    assert found.startswith("steps[1].mock: 'capacity_schedule[0].concurrency_limit' must be an integer from 1")
    assert found.endswith("got 0")


def test_the_mock_table_goes_to_the_injected_validator_with_where_it_is(tmp_path: Path) -> None:
    seen: list[tuple[dict[str, Any], str]] = []

    def validate(config: Any, where: str) -> None:
        seen.append((dict(config), where))
        if config.get("latency_ms") == 5:
            raise ValueError("latency_ms is five")  # a message without `where` gets it put in front

    path = write(
        tmp_path, "[mock]\nlatency_ms = 5\n" + MINIMAL + '[[steps]]\ndo = "configure"\nmock = { retry_after = true }\n'
    )
    assert problems(path, validate_mock=validate) == ["mock: latency_ms is five", "steps[1].mock: latency_ms is five"]
    assert seen == [({"latency_ms": 5}, "mock"), ({"latency_ms": 5, "retry_after": True}, "steps[1].mock")]
    assert load_scenario(path, validate_mock=None).scenario.mock == {"latency_ms": 5}  # no validator: taken as is


def test_files_are_named_relative_to_the_scenario_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "page.html").write_text("<html></html>")
    text = """
        [media.page]
        file = "media/page.html"

        [media.gone]
        file = "media/gone.wav"

        [[steps]]
        do = "submit"
        manifest = "calls.jsonl"
        """
    assert problems(write(tmp_path, text)) == [
        'media.gone.file: "media/gone.wav" is no file (paths are relative to the scenario\'s folder)',
        'steps[0].manifest: "calls.jsonl" is no file (relative to the scenario\'s folder)',
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"steps = [", "not valid TOML"), (b"\xff\xfe", "cannot read"), (None, "no such scenario file")],
)
def test_a_file_that_cannot_be_read_is_named(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "broken.toml"
    if content is not None:
        path.write_bytes(content)
    (found,) = problems(path)
    assert found.startswith(message)


def test_merge_patch_is_rfc_7396() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": [1]}) == {
        "a": 1, "b": {"d": 3, "e": 4}, "f": [1]
    }  # fmt: skip
    assert merge_patch({"a": 1}, 5) == 5
