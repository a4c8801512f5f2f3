"""A merge row's steps in the journal, so a crash resumes without merging or uploading again.

Per item (a row of the `media` table, schema 3): how often a merge was started (`merge_attempts`, committed before
the merge starts) and what it made (`merged_path`, `merged_sha256`, `merged_bytes`, committed once the file is
complete under its final name), the Channel the merge decided (participants on their channels, no media URL), how
often an upload was started and where the file is hosted (`hosted`: `s3://bucket/key`, the mock host's URL without
its query, or the public URL of a served directory — never a signature: a pre-signed URL is signed again from the
bucket and key when it is needed). Each step commits at once (WAL, synchronous=NORMAL: safe against a killed
process). A journal from before schema 3 has no such table: readers see no steps, the writer creates it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._journal_file import STORAGE_ERRORS, Transaction, sqlite_errors, translate
from harness._redact import scrub_url

_COLUMNS = "customer_key, merge_attempts, merged_path, merged_sha256, merged_bytes, channel, upload_attempts, hosted"


@dataclass(frozen=True)
class MediaStep:
    customer_key: str
    merge_attempts: int = 0
    merged_path: str | None = None
    merged_sha256: str | None = None
    merged_bytes: int | None = None
    channel: dict[str, Any] | None = None  # the Channel decided at the merge, without media_properties
    upload_attempts: int = 0
    hosted: str | None = None  # where the merged file is, without any secret

    @property
    def merged(self) -> bool:
        return self.merged_path is not None and self.merged_sha256 is not None


def _step(row: tuple[Any, ...]) -> MediaStep:
    channel = json.loads(row[5]) if row[5] else None
    return MediaStep(row[0], row[1], row[2], row[3], row[4], channel, row[6], row[7])


class MediaStepsReader:
    """Reading the steps (mixed into `JournalReader`)."""

    path: Path
    _writer: bool
    _db: sqlite3.Connection

    def _has_media_table(self) -> bool:
        found = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='media'").fetchone()
        return found is not None

    @sqlite_errors
    def media_step(self, key: str) -> MediaStep | None:
        """The steps recorded for one item, or None (no merge started, or a journal from before schema 3)."""
        if not self._has_media_table():
            return None
        row = self._db.execute(f"SELECT {_COLUMNS} FROM media WHERE customer_key=?", (key,)).fetchone()  # noqa: S608 — our own column names
        return _step(row) if row is not None else None

    def media_steps(self) -> Iterator[MediaStep]:
        """Every item's steps, by CustomerKey."""
        try:
            if not self._has_media_table():
                return
            for row in self._db.execute(f"SELECT {_COLUMNS} FROM media ORDER BY customer_key"):  # noqa: S608 — ours
                yield _step(row)
        except STORAGE_ERRORS as error:
            raise translate(self.path, error, writer=self._writer) from None


class MediaStepsWriter(MediaStepsReader):
    """Recording the steps (mixed into `Journal`); each call commits before it returns."""

    def _transaction(self, *, durable: bool = False) -> Transaction:
        raise NotImplementedError  # `Journal` provides it

    def _upsert(self, key: str, assignments: str, args: tuple[Any, ...]) -> None:
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO media (customer_key) VALUES (?)", (key,))
            self._db.execute(f"UPDATE media SET {assignments} WHERE customer_key=?", (*args, key))  # noqa: S608 — ours

    @sqlite_errors
    def begin_merge(self, key: str) -> None:
        """Before a merge starts: counted, so a resume can tell a merge that was interrupted from none at all."""
        self._upsert(key, "merge_attempts=merge_attempts+1", ())

    @sqlite_errors
    def mark_merged(self, key: str, path: Path, sha256: str, size: int, channel: dict[str, Any]) -> None:
        """The merged file is complete at `path`; `channel` holds the participants (no media URL)."""
        shown = json.dumps(channel, separators=(",", ":"))
        self._upsert(key, "merged_path=?, merged_sha256=?, merged_bytes=?, merged_at=?, channel=?, hosted=NULL",
                     (str(path), sha256, size, time.time(), shown))  # fmt: skip

    @sqlite_errors
    def forget_merged(self, key: str) -> None:
        """The merged file is gone or changed: it must be made (and hosted) again."""
        self._upsert(key, "merged_path=NULL, merged_sha256=NULL, merged_bytes=NULL, hosted=NULL", ())

    @sqlite_errors
    def begin_upload(self, key: str) -> None:
        self._upsert(key, "upload_attempts=upload_attempts+1", ())

    @sqlite_errors
    def mark_hosted(self, key: str, location: str) -> None:
        """Where the merged file is hosted; scrubbed once more, so no query or userinfo can ever be stored."""
        self._upsert(key, "hosted=?, hosted_at=?", (scrub_url(location), time.time()))
