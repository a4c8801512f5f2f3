"""The batch journal: one SQLite file (WAL) per batch, the record that makes a batch exactly-once across crashes.

Every item moves `pending → submitting → submitted → completed | failed`, or `submitting → unknown` when a create
was sent and its answer lost (to be reconciled by CustomerKey before anything is resent). `submitting` is made
durable *before* the create is sent; the answer is recorded after it is known. A crash anywhere therefore leaves
each item in a state that says what to do on resume: pending → send; submitting / unknown → reconcile first;
submitted → wait for completion; completed / failed → nothing. `requeue_failed()` (for `--retry-failed`) sends
failed items back through reconciliation.

One writer at a time: `Journal(path, batch=...)` holds an OS lock on `<path>.lock` for its whole life (see
`_journal_lock`) and raises `JournalLocked` at once if another process holds it. `Journal.open_readonly(path)` is
for `status` / `results`: no lock, SQLite in read-only mode, the state as last committed by a running writer.

Writes are batched: `mark_submitting(keys)` commits a whole group in one transaction (the runner awaits it once for
many requests), and answers are buffered and committed by `flush()` — many per transaction, so the journal does not
bound throughput. Every per-item operation is an indexed lookup: time per item does not grow with the batch.

No secrets at rest: media URLs are stored scrubbed (scheme, host, path); resuming re-reads the manifest, whose
fingerprint is checked, for the full URL. Errors are stored scrubbed too. The file and its sidecars are 0600.
A merge row's steps (its merged file, where it is hosted) are kept as `_journal_media` says.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from harness._journal_file import (
    STORAGE_ERRORS,
    JournalError,
    Transaction,
    check_header,
    check_pages,
    check_readable_file,
    check_writable_place,
    connect_reader,
    connect_writer,
    create_private,
    prepare_schema,
    sqlite_errors,
    translate,
)
from harness._journal_lock import JournalLocked, LockHolder, WriterLock, lock_path
from harness._journal_media import MediaStep, MediaStepsReader, MediaStepsWriter
from harness._manifest import ManifestItem
from harness._redact import scrub_text, scrub_url

__all__ = [
    "STATES",
    "Journal",
    "JournalError",
    "JournalItem",
    "JournalLocked",
    "JournalReader",
    "LockHolder",
    "MediaStep",
    "fingerprint",
    "lock_path",
]

STATES = ("pending", "submitting", "submitted", "unknown", "completed", "failed")
RETRY_PREFIX = "retrying after: "


@dataclass(frozen=True)
class JournalItem:
    customer_key: str
    row: int
    media: str
    state: str
    transcript_sid: str | None
    status: str | None
    attempts: int
    first_attempt_at: float | None
    last_error: str | None
    metadata: dict[str, Any]
    failed_transcript_sid: str | None = None  # the transcript that failed before `requeue_failed()`: not to adopt


def fingerprint(path: str | Path) -> str:
    """Size plus sha256 of the whole manifest, read in chunks: a resume must read the same rows."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"{path.stat().st_size}:{digest.hexdigest()}"


class JournalReader(MediaStepsReader):
    """A journal opened read-only: no lock taken, nothing written or created; sees what a writer has committed."""

    _writer = False
    path: Path
    _db: sqlite3.Connection
    _select: str

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_readable_file(self.path)
        check_header(self.path, writer=False)
        self._connect(connect_reader)

    def _connect(self, connect: Callable[[Path], sqlite3.Connection]) -> None:
        try:
            db = connect(self.path)
        except STORAGE_ERRORS as error:
            raise translate(self.path, error, writer=self._writer) from None
        try:
            check_pages(db, self.path)
            columns = prepare_schema(db, self.path, writer=self._writer)
        except STORAGE_ERRORS as error:
            db.close()
            raise translate(self.path, error, writer=self._writer) from None
        except BaseException:
            db.close()
            raise
        self._db = db
        self._select = f"SELECT {columns} FROM items"  # noqa: S608 — our own column names, no input

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush_buffered(self) -> None:
        """A reader has nothing buffered; the writer commits its buffered answers before a full read."""

    # --- reading -----------------------------------------------------------------------------------------------

    @property
    def batch_id(self) -> str | None:
        """The batch's random id (uuid4 hex); None only for an old journal no writer of this version has opened."""
        return self.batch_info().get("batch_id")

    @sqlite_errors
    def counts(self) -> dict[str, int]:
        self._flush_buffered()
        found = dict(self._db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def items(self, *states: str) -> Iterator[JournalItem]:
        """Items in the given states (all when none), in manifest order, streamed."""
        unknown = set(states) - set(STATES)
        if unknown:
            raise ValueError(f"unknown state(s): {sorted(unknown)}")
        self._flush_buffered()
        sql = self._select
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
        try:
            for row in self._db.execute(sql + " ORDER BY row", states):
                yield _item(row)
        except STORAGE_ERRORS as error:
            raise translate(self.path, error, writer=self._writer) from None

    @sqlite_errors
    def get(self, key: str) -> JournalItem | None:
        """One item by CustomerKey (an indexed lookup) as committed: buffered answers show after `flush()`.

        Not flushing here matters: the submit loop looks up every manifest row, and a flush per lookup would turn
        the batched answers back into one transaction per item.
        """
        row = self._db.execute(self._select + " WHERE customer_key=?", (key,)).fetchone()
        return _item(row) if row is not None else None

    @sqlite_errors
    def batch_info(self) -> dict[str, str]:
        """The batch's identity: manifest fingerprint, service, base URL (as given to the writer), and batch_id."""
        return dict(self._db.execute("SELECT key, value FROM batch").fetchall())

    @sqlite_errors
    def get_meta(self, key: str) -> str | None:
        """A run-metadata value stored by `Journal.set_meta`, or None."""
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
            return None  # an old journal no writer of this version has opened yet
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row is not None else None


class Journal(JournalReader, MediaStepsWriter):
    """The writer: the only process that changes a journal, holding its lock until `close()`."""

    _writer = True

    def __init__(self, path: str | Path, *, batch: Mapping[str, str]) -> None:
        """Open or create the journal at `path` and lock it for this process.

        `batch` (manifest fingerprint, service, base URL) must match what the journal recorded; keys it has not
        recorded yet are recorded. Raises `JournalLocked` if another process holds the journal, `JournalError` for
        a path or file that cannot be a journal.
        """
        self.path = Path(path)
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        check_writable_place(self.path)
        self._lock = WriterLock.acquire(self.path)
        try:
            create_private(self.path)
            check_header(self.path, writer=True)
            self._connect(connect_writer)
            try:
                self._batch_id = self._adopt(batch)
            except BaseException:
                self._db.close()
                raise
        except BaseException:
            self._lock.release()
            raise

    @staticmethod
    def open_readonly(path: str | Path) -> JournalReader:
        """For `status` / `results`: read a journal, even while a run holds it. A missing journal is an error."""
        return JournalReader(path)

    @sqlite_errors
    def _adopt(self, batch: Mapping[str, str]) -> str:
        stored = self.batch_info()
        # Until a create has been sent, the service and API are not part of the batch yet: a run blocked by a
        # wrong --service or --base-url (exit 4) may be corrected and run again with the same journal.
        rebindable = {"service_sid", "base_url"} if not self._anything_sent() else set()
        changed = [(scrub_url(v), k) for k, v in batch.items() if k in rebindable and k in stored]
        changed = [(value, key) for value, key in changed if stored[key] != value]
        if changed:
            with self._transaction():
                self._db.executemany("UPDATE batch SET value=? WHERE key=?", changed)
            stored = self.batch_info()
        for key, value in batch.items():
            if key in stored and stored[key] != scrub_url(value):
                raise JournalError(
                    f"{self.path}: this journal belongs to a batch with a different {key} "
                    f"({stored[key]!r}, not {scrub_url(value)!r}); use another --journal to start a new batch"
                )
        missing = [(key, scrub_url(value)) for key, value in batch.items() if key not in stored]
        batch_id = stored.get("batch_id") or uuid.uuid4().hex
        if "batch_id" not in stored:
            missing.append(("batch_id", batch_id))
        if missing:
            with self._transaction():
                self._db.executemany("INSERT INTO batch VALUES (?, ?)", missing)
        return batch_id

    def _anything_sent(self) -> bool:
        return self._db.execute("SELECT 1 FROM items WHERE attempts > 0 LIMIT 1").fetchone() is not None

    @property
    def batch_id(self) -> str:
        """Random (uuid4 hex), made when the journal was created: ties an output directory to this batch."""
        return self._batch_id

    def close(self) -> None:
        """Commit what is buffered, close the database, release the lock (in that order, even if the commit fails)."""
        try:
            self.flush()
        finally:
            try:
                self._db.close()
            finally:
                self._lock.release()

    def _flush_buffered(self) -> None:
        self.flush()

    def _transaction(self, *, durable: bool = False) -> Transaction:
        return Transaction(self._db, durable=durable)

    # --- loading -----------------------------------------------------------------------------------------------

    def add_items(self, items: Iterable[ManifestItem], chunk: int = 2000) -> int:
        """Record new manifest items as pending (items already journaled are left as they are)."""
        added = 0
        batch: list[tuple[Any, ...]] = []
        now = time.time()
        for item in items:
            shown = item.shown_media  # no URL's query: a pre-signed URL is a credential
            # Metadata is the user's own columns, but a pre-signed URL in one is still a credential at rest.
            metadata = scrub_text(json.dumps(item.metadata, default=str)) if item.metadata else "{}"
            batch.append((item.customer_key, item.row, shown, now, metadata))
            if len(batch) >= chunk:
                added += self._insert(batch)
                batch = []
        if batch:
            added += self._insert(batch)
        return added

    @sqlite_errors
    def _insert(self, rows: list[tuple[Any, ...]]) -> int:
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO items (customer_key, row, media, updated_at, metadata) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            return self._db.total_changes - before

    # --- transitions -------------------------------------------------------------------------------------------

    @sqlite_errors
    def mark_submitting(self, keys: Iterable[str]) -> None:
        """Durable before the creates are sent: one transaction for the whole group."""
        now = time.time()
        self.flush()
        with self._transaction():
            self._db.executemany(
                "UPDATE items SET state='submitting', attempts=attempts+1, "
                "first_attempt_at=COALESCE(first_attempt_at, ?), updated_at=? WHERE customer_key=?",
                [(now, now, key) for key in keys],
            )

    def mark_submitted(self, key: str, transcript_sid: str, status: str | None = None) -> None:
        self._later(
            "UPDATE items SET state='submitted', transcript_sid=?, status=?, last_error=NULL, updated_at=? "
            "WHERE customer_key=?",
            (transcript_sid, status, time.time(), key),
        )

    def mark_unknown(self, key: str, error: str) -> None:
        self._later(
            "UPDATE items SET state='unknown', last_error=?, updated_at=? WHERE customer_key=?",
            (scrub_text(error), time.time(), key),
        )

    def mark_pending(self, key: str, error: str | None = None) -> None:
        """Back to pending, nothing counted as failed: reconciliation found no transcript (safe to send again), or
        the account blocked the run (credentials, permissions, service) and the same command will be run again."""
        self._later(
            "UPDATE items SET state='pending', last_error=?, updated_at=? WHERE customer_key=?",
            (scrub_text(error) if error else None, time.time(), key),
        )

    def mark_completed(self, key: str, status: str = "completed") -> None:
        sql = "UPDATE items SET state='completed', status=?, updated_at=? WHERE customer_key=?"
        self._later(sql, (status, time.time(), key))

    def mark_failed(self, key: str, reason: str, status: str | None = None) -> None:
        self._later(
            "UPDATE items SET state='failed', status=?, last_error=?, updated_at=? WHERE customer_key=?",
            (status, scrub_text(reason), time.time(), key),
        )

    @sqlite_errors
    def requeue_failed(self) -> int:
        """`--retry-failed`: every failed item becomes `unknown`, to be reconciled by CustomerKey before any resend.

        Its transcript SID moves to `failed_transcript_sid` (reconciliation must not adopt the transcript that
        failed) and its error is kept after "retrying after: ". One transaction; returns how many were re-queued.
        """
        self.flush()
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE items SET state='unknown',"
                " failed_transcript_sid=COALESCE(transcript_sid, failed_transcript_sid), transcript_sid=NULL,"
                " status=NULL, last_error=? || COALESCE(last_error, 'no error recorded'), updated_at=?"
                " WHERE state='failed'",
                (RETRY_PREFIX, time.time()),
            )
            return cursor.rowcount

    def _later(self, sql: str, args: tuple[Any, ...]) -> None:
        self._pending.append((sql, args))
        if len(self._pending) >= 500:
            self.flush()

    @sqlite_errors
    def flush(self) -> None:
        """Commit every buffered answer in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self._transaction():
            for sql, args in pending:
                self._db.execute(sql, args)

    # --- run metadata ------------------------------------------------------------------------------------------

    @sqlite_errors
    def set_meta(self, key: str, value: str | None) -> None:
        """Store (None: delete) a run-metadata value, committed and synced to disk before returning.

        Values are stored verbatim — they must round-trip (the service's original WebhookUrl, restored after the
        run) — so pass nothing that must not rest on disk; the file is owner-only.
        """
        with self._transaction(durable=True):
            if value is None:
                self._db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _item(row: tuple[Any, ...]) -> JournalItem:
    return JournalItem(
        customer_key=row[0], row=row[1], media=row[2], state=row[3], transcript_sid=row[4], status=row[5],
        attempts=row[6], first_attempt_at=row[7], last_error=row[8], metadata=json.loads(row[9]),
        failed_transcript_sid=row[10],
    )  # fmt: skip
