"""Recording a scenario run for replay, and replaying it: `--record DIR` and `--target replay --cassettes DIR`.

Recorded, each `cintel submit` and `cintel merge --room` step runs with `--record` into `DIR/<scenario>/`, one
cassette per step (`step-02-submit.cassette.json`), and `run.json` keeps what a replay must reuse because it was
made during the run: each batch's manifest (a copy with every URL's credentials scrubbed as cassettes scrub them,
its tracks' files copied beside it), the service and room SIDs, which row is which item. Replayed, the same steps
run with `--replay` on those cassettes and manifests — no mock, no network — and the results are judged again;
what only ran in this process (a `create` step, a config patch, reading participants) or only the mock can tell is
skipped, as is a batch whose runner was killed (the journal it left is not in a cassette).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["RUN_FILE", "Tape", "TapeError"]

RUN_FILE = "run.json"
VERSION = 1


class TapeError(ValueError):
    """A recorded folder a replay cannot use; the message names it and what is missing."""


class Tape:
    """One scenario's recording folder: written by a recorded run, read by a replay."""

    def __init__(self, folder: Path, *, replay: bool) -> None:
        self.folder = folder
        self.replay = replay
        self.data: dict[str, Any] = {"version": VERSION, "services": {}, "rooms": {}, "batches": {}, "steps": {}}
        if replay:
            path = folder / RUN_FILE
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise TapeError(f"{path}: no recording of this scenario (record one with --record)") from None
            except (OSError, ValueError) as error:
                raise TapeError(f"{path}: cannot read: {error}") from None
            if self.data.get("version") != VERSION:
                raise TapeError(f"{path}: version {self.data.get('version')!r}, this cintel reads {VERSION}")
        else:
            folder.mkdir(parents=True, exist_ok=True)

    def cassette(self, index: int, kind: str) -> Path:
        """Where step `index`'s cassette is (recorded, or to replay); a replay needs it to exist."""
        name = self.data["steps"].get(str(index)) if self.replay else f"step-{index + 1:02d}-{kind}.cassette.json"
        if name is None:
            raise TapeError(f"{self.folder / RUN_FILE}: step {index + 1} ({kind}) was not recorded")
        if not self.replay:
            self.data["steps"][str(index)] = name
        return self.folder / name

    # --- what a run made, kept for its replay -------------------------------------------------------------------

    def service(self, name: str, sid: str | None = None) -> str:
        return self._value("services", name, sid)

    def room(self, name: str, sid: str | None = None) -> str:
        return self._value("rooms", name, sid)

    def _value(self, table: str, name: str, value: str | None) -> str:
        if value is not None:
            self.data[table][name] = value
            return value
        found = self.data[table].get(name)
        if not isinstance(found, str):
            raise TapeError(f"{self.folder / RUN_FILE}: no recorded {table[:-1]} {name!r}")
        return found

    def keep_batch(self, name: str, manifest: Path, rows: dict[int, str], service_sid: str) -> None:
        """Copy a batch's manifest for its replay: URL credentials scrubbed, tracks' files copied beside it."""
        from harness.replay import Scrubber

        scrubber = Scrubber()
        media = self.folder / "media"
        lines = []
        for line in manifest.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for track in row.get("tracks") or []:
                source = Path(track["path"])
                if source.is_file():
                    media.mkdir(exist_ok=True)
                    shutil.copy(source, media / source.name)
                    track["path"] = f"media/{source.name}"
            lines.append(scrubber.text(json.dumps(row)))
        copy = f"{name}.manifest.jsonl"
        (self.folder / copy).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        self.data["batches"][name] = {"manifest": copy, "rows": {str(k): v for k, v in rows.items()},
                                      "service_sid": service_sid}  # fmt: skip

    def batch(self, name: str) -> tuple[Path, dict[int, str], str]:
        """A recorded batch: its manifest copy, which row is which item, its service."""
        found = self.data["batches"].get(name)
        if not isinstance(found, dict):
            raise TapeError(f"{self.folder / RUN_FILE}: batch {name!r} was not recorded")
        rows = {int(k): str(v) for k, v in found["rows"].items()}
        return self.folder / found["manifest"], rows, str(found["service_sid"])

    def save(self) -> None:
        if not self.replay:
            text = json.dumps(self.data, indent=1, sort_keys=True)
            (self.folder / RUN_FILE).write_text(text + "\n", encoding="utf-8")
