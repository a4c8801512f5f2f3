"""Reading scenario files: TOML → `Scenario`, every problem an error naming the file, the key path and the value.

Two passes, both before anything is sent: the model's own checks (types, ranges, unknown keys — pydantic's errors
rewritten as `file: expect.sentences[2].channel: 3 is not 1 or 2`), then the file as a whole: every name refers to
something declared (a media, a room, a service, an item), speech fits inside its track and its participant's stay,
files next to the scenario exist, a resumed batch is not given new items. Every problem is reported, not only the
first, so one run of `cintel scenario validate` lists all that needs fixing.

The `[mock]` table (and each `configure` step's patch over it) is the mock's own configuration: it is checked by a
validator the caller passes (`cintel` passes the mock's `MockConfig.from_json`, so the two can never drift; this
package does not import the mock). `schema_mock_validator()` checks it against the mock's JSON Schema instead, when
that file and the `jsonschema` package are present (the tests use it).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.scenarios._fields import UTTERANCE_S
from harness.scenarios._messages import describe_error, key, key_path, show
from harness.scenarios._model import (
    ConfigureStep,
    CreateStep,
    Item,
    MergeStep,
    Room,
    Scenario,
    ServiceStep,
    SubmitStep,
    TrackRef,
)

__all__ = [
    "MOCK_SCHEMA",
    "STATS_COUNTERS",
    "LoadedScenario",
    "MockValidator",
    "ScenarioError",
    "find_scenarios",
    "load_scenario",
    "merge_patch",
    "parse_scenario",
    "schema_mock_validator",
]

MockValidator = Callable[[Mapping[str, Any], str], object]  # (config, where) → raises ValueError naming the key
MOCK_SCHEMA = Path(__file__).with_name("mock_config.schema.json")
MIN_STAY_S = 0.02  # the mock's shortest recordable stay (one Opus frame)
# Counters of the mock's per-account stats an expectation may bound (README: control plane).
STATS_COUNTERS = frozenset(
    {
        "requests", "rejected_429", "peak_in_flight", "current_limit", "connections_dropped",
        "transcripts_created", "transcripts_completed", "transcripts_failed", "transcripts_deleted",
        "webhooks_sent", "webhooks_failed", "webhooks_dropped", "media_fetched", "media_failed", "alerts",
        "recordings_stored", "rooms", "compositions_created", "compositions_completed", "compositions_failed",
    }
)  # fmt: skip


class ScenarioError(ValueError):
    """A scenario file that cannot run: every problem, each naming the file, the key path and the value."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = [f"{path}: {p}" for p in problems]
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class LoadedScenario:
    path: Path
    scenario: Scenario

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def directory(self) -> Path:
        return self.path.parent


def find_scenarios(paths: Iterable[Path]) -> list[Path]:
    """The scenario files `paths` name: files as given, directories' `*.toml` in name order."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.glob("*.toml")) if path.is_dir() else [path])
    return found


def load_scenario(path: Path, *, validate_mock: MockValidator | None = None) -> LoadedScenario:
    """The scenario in `path`, checked whole; `ScenarioError` listing every problem otherwise."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(path, ["no such scenario file"]) from None
    except IsADirectoryError:
        raise ScenarioError(path, ["a directory, not a scenario file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(path, [f"cannot read: {error}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(path, [f"not valid TOML: {error}"]) from None
    return parse_scenario(data, path, validate_mock=validate_mock)


def parse_scenario(
    data: Mapping[str, Any], path: Path, *, validate_mock: MockValidator | None = None
) -> LoadedScenario:
    """The scenario a TOML document (already parsed) states, `path` being where it was read from (files it names
    are relative to its folder); `ScenarioError` listing every problem otherwise."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(path, [describe_error(e) for e in error.errors()]) from None
    problems = _Checker(path.parent, scenario, validate_mock).check()
    if problems:
        raise ScenarioError(path, problems)
    return LoadedScenario(path, scenario)


# --- the file as a whole ---------------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396, as the mock applies a config PATCH: objects merge key by key, `null` deletes (TOML has no null,
    so in a scenario a patch only adds or replaces)."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


class _Checker:
    """The cross-references and fits one field alone cannot check; collects every problem."""

    def __init__(self, directory: Path, scenario: Scenario, validate_mock: MockValidator | None) -> None:
        self.directory = directory
        self.s = scenario
        self.validate_mock = validate_mock
        self.problems: list[str] = []
        self.media_names = set(scenario.media)
        self.keys: set[str] = set()

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def check(self) -> list[str]:
        self._mock(self.s.mock, "mock")
        for name, media in self.s.media.items():
            self._media(name, media.file, media.seconds, media.channels, media.segments)
        for name, room in self.s.rooms.items():
            self._room(f"rooms.{name}", room)
        self._steps()
        self._expectations()
        return self.problems

    def _mock(self, config: Mapping[str, Any], where: str) -> None:
        if self.validate_mock is None:
            return
        try:
            self.validate_mock(config, where)
        except ValueError as error:
            message = str(error).strip()
            self.problems.append(message if message.startswith(where) else f"{where}: {message}")

    def _media(self, name: str, file: str | None, seconds: float | None, channels: int, segments: list[Any]) -> None:
        path = f"media.{name}"
        if file is not None and not (self.directory / file).is_file():
            self.fail(f"{path}.file", f"{show(file)} is no file (paths are relative to the scenario's folder)")
        for i, segment in enumerate(segments):
            end = segment.at_s + UTTERANCE_S[segment.utterance]
            if seconds is not None and end > seconds:
                self.fail(f"{path}.segments[{i}].at_s", f"{segment.at_s:g} puts '{segment.utterance}' "
                          f"({UTTERANCE_S[segment.utterance]:.2f} s) past the track's end ({seconds:g} s)")  # fmt: skip
            if segment.channel > channels:
                self.fail(f"{path}.segments[{i}].channel", f"{segment.channel} is not a channel of a {channels}-"
                          "channel track")  # fmt: skip

    def _room(self, path: str, room: Room) -> None:
        for i, p in enumerate(room.participants):
            where = f"{path}.participants[{i}]"
            if p.left_s < p.joined_s + MIN_STAY_S:
                self.fail(f"{where}.left_s", f"{p.left_s:g} is not after joined_s ({p.joined_s:g})")
            if (p.media is None) == (p.segments is None):
                self.fail(where, "needs exactly one of 'media' (a declared media) or 'segments' (speech)")
            if p.media is not None:
                spec = self.s.media.get(p.media)
                if spec is None:
                    self.fail(f"{where}.media", f"{show(p.media)} is not declared in [media]")
                elif spec.file is None and spec.format == "mp3":
                    self.fail(f"{where}.media", f"{show(p.media)} is mp3: a room's media must be wav or flac")
            for j, seg in enumerate(p.segments or []):
                length = UTTERANCE_S[seg.utterance] if seg.utterance is not None else seg.duration_s or 0.0
                if not p.joined_s <= seg.at_s < p.left_s or seg.at_s + length > p.left_s + 1e-9:
                    self.fail(f"{where}.segments[{j}].at_s", f"{seg.at_s:g} puts {length:.2f} s of speech outside "
                              f"the stay ({p.joined_s:g} to {p.left_s:g} s)")  # fmt: skip
        identities = [p.identity for p in room.participants]
        if len(set(identities)) != len(identities):
            self.fail(f"{path}.participants", "two participants share an identity")

    def _steps(self) -> None:
        services = [s.name for s in self.s.steps if isinstance(s, ServiceStep)]
        if len(set(services)) != len(services):
            self.fail("steps", "two service steps share a name")
        batches: set[str] = set()
        declared: set[str] = set()
        for i, step in enumerate(self.s.steps):
            path = f"steps[{i}]"
            if isinstance(step, ServiceStep):
                declared.add(step.name)
            if isinstance(step, SubmitStep | CreateStep):
                self._service(path, step.service, services, declared)
            if isinstance(step, SubmitStep):
                self._submit(path, step, batches)
            elif isinstance(step, MergeStep):
                self._merge(path, step)
            elif isinstance(step, ConfigureStep):
                self._mock(merge_patch(self.s.mock, step.mock), f"{path}.mock")
            elif isinstance(step, CreateStep):
                self._names(path, media=step.media, recording=step.recording)

    def _service(self, path: str, name: str | None, services: list[str], declared: set[str]) -> None:
        if name is not None and name not in declared:
            where = "declared by an earlier service step" if name in services else "declared by a service step"
            self.fail(f"{path}.service", f"{show(name)} is not {where}")
        elif name is None and len(services) > 1:
            self.fail(f"{path}.service", f"required: there are {len(services)} services ({', '.join(services)})")

    def _submit(self, path: str, step: SubmitStep, batches: set[str]) -> None:
        resume = step.batch in batches
        batches.add(step.batch)
        if resume and (step.items is not None or step.manifest is not None):
            self.fail(path, f"resumes batch {show(step.batch)}, which runs the same manifest: give no items")
        if not resume and (step.items is None) == (step.manifest is None):
            self.fail(path, "needs exactly one of 'items' or 'manifest' (or the 'batch' of an earlier submit)")
        if step.manifest is not None and not (self.directory / step.manifest).is_file():
            self.fail(f"{path}.manifest", f"{show(step.manifest)} is no file (relative to the scenario's folder)")
        for j, item in enumerate(step.items or []):
            self._item(f"{path}.items[{j}]", item)

    def _item(self, path: str, item: Item) -> None:
        for customer_key in item.customer_keys():
            if customer_key in self.keys:
                self.fail(f"{path}.key", f"{show(customer_key)} is used twice (a key names one item in the scenario)")
            self.keys.add(customer_key)
        self._names(path, media=item.media, recording=item.recording, room=item.room)
        for k, track in enumerate(item.tracks or []):
            self._track(f"{path}.tracks[{k}]", track)
        if item.tracks is not None:
            channels = [t.channel for t in item.tracks]
            if any(c is None for c in channels) and any(c is not None for c in channels):
                self.fail(f"{path}.tracks", "give 'channel' on every track or on none")

    def _track(self, path: str, track: TrackRef) -> None:
        self._names(path, media=track.media)

    def _names(self, path: str, *, media: str | None = None, recording: str | None = None,
               room: str | None = None) -> None:  # fmt: skip
        for column, name in (("media", media), ("recording", recording)):
            if name is not None and name not in self.media_names:
                self.fail(f"{path}.{column}", f"{show(name)} is not declared in [media] (or made by an earlier merge)")
        if room is not None and room not in self.s.rooms:
            self.fail(f"{path}.room", f"{show(room)} is not declared in [rooms]")

    def _merge(self, path: str, step: MergeStep) -> None:
        if step.room is not None and step.room not in self.s.rooms:
            self.fail(f"{path}.room", f"{show(step.room)} is not declared in [rooms]")
        for k, track in enumerate(step.tracks or []):
            self._track(f"{path}.tracks[{k}]", track)
        if step.tracks is not None:
            channels = [t.channel for t in step.tracks]
            if step.channel1 is not None:
                self.fail(f"{path}.channel1", "is for a room's identities: give each track its 'channel'")
            if any(c is None for c in channels) and any(c is not None for c in channels):
                self.fail(f"{path}.tracks", "give 'channel' on every track or on none")
            elif all(c is None for c in channels) and len(channels) != 2:
                self.fail(f"{path}.tracks", f"{len(channels)} tracks without channels: give two (channel 1 first), "
                          "or a 'channel' on each to mix several onto one")  # fmt: skip
            elif all(c is not None for c in channels) and set(channels) != {1, 2}:
                self.fail(f"{path}.tracks", "both channels need at least one track")
        if step.output in self.media_names:
            self.fail(f"{path}.output", f"{show(step.output)} is already a media name")
        self.media_names.add(step.output)

    def _expectations(self) -> None:
        e = self.s.expect
        # Keys of a manifest file are its own: only a scenario whose batches are all `items` knows every key.
        from_files = any(isinstance(s, SubmitStep) and s.manifest is not None for s in self.s.steps)
        known = None if from_files else self.keys

        def item(path: str, key: str) -> None:
            if known is not None and key not in known and key != "*":
                self.fail(path, f"{show(key)} is no item of this scenario")

        for name in e.statuses:
            item(f"expect.statuses.{key(name)}", name)
        for name in e.errors:
            item(f"expect.errors.{key(name)}", name)
        for name in e.metadata:
            item(f"expect.metadata.{key(name)}", name)
        for i, sentence in enumerate(e.sentences):
            item(f"expect.sentences[{i}].item", sentence.item)
        for i, participant in enumerate(e.participants):
            item(f"expect.participants[{i}].item", participant.item)
        for i, alert in enumerate(e.alerts):
            if alert.item is not None:
                item(f"expect.alerts[{i}].item", alert.item)
        for name in e.stats:
            if name not in STATS_COUNTERS:
                counters = ", ".join(sorted(STATS_COUNTERS))
                self.fail(f"expect.stats.{key(name)}", f"is not a counter of the mock's stats ({counters})")


def schema_mock_validator(schema_path: Path = MOCK_SCHEMA) -> MockValidator | None:
    """A validator from the mock's JSON Schema (`mock_config.schema.json`), or None when the file or the
    `jsonschema` package is not there."""
    try:
        import jsonschema
    except ImportError:
        return None
    if not schema_path.is_file():
        return None
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    checker = jsonschema.validators.validator_for(schema)(schema)  # the draft the schema names

    def validate(config: Mapping[str, Any], where: str) -> None:
        errors = sorted(checker.iter_errors(dict(config)), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            first = errors[0]
            path = key_path([where, *first.absolute_path])
            raise ValueError(f"{path}: {first.message}")  # jsonschema's message quotes the value

    return validate
