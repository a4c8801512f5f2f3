"""The batch journal: one SQLite file (WAL) per batch, the record that makes a batch exactly-once across crashes.

Every item moves `pending → submitting → submitted → completed | failed`, or `submitting → unknown` when a create
was sent and its answer lost (to be reconciled by CustomerKey before anything is resent). `submitting` is made
durable *before* the create is sent; the answer is recorded after it is known. A crash anywhere therefore leaves
each item in a state that says what to do on resume: pending → send; submitting / unknown → reconcile first;
submitted → wait for completion; completed / failed → nothing.

Writes are batched: `mark_submitting(keys)` commits a whole group in one transaction (the runner awaits it once for
many requests), and answers are buffered and committed by `flush()` — many per transaction, so the journal does not
bound throughput. Every per-item operation is an indexed lookup: time per item does not grow with the batch.

No secrets at rest: media URLs are stored scrubbed (scheme, host, path); resuming re-reads the manifest, whose
fingerprint is checked, for the full URL. Errors are stored scrubbed too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import CintelError
from harness._manifest import ManifestItem
from harness._redact import scrub_text, scrub_url

STATES = ("pending", "submitting", "submitted", "unknown", "completed", "failed")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    customer_key TEXT PRIMARY KEY,
    row INTEGER NOT NULL,
    media TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    transcript_sid TEXT,
    status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at REAL,
    updated_at REAL NOT NULL,
    last_error TEXT,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS items_state ON items (state);
"""


class JournalError(CintelError):
    pass


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


def fingerprint(path: str | Path) -> str:
    """Size plus sha256 of the whole manifest, read in chunks: a resume must read the same rows."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"{path.stat().st_size}:{digest.hexdigest()}"


class Journal:
    def __init__(self, path: str | Path, *, batch: dict[str, str]) -> None:
        """Open or create the journal at `path`; `batch` (manifest fingerprint, service, base URL) must match."""
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint; safe against process crash
        self._db.executescript(_SCHEMA)
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        stored = dict(self._db.execute("SELECT key, value FROM batch").fetchall())
        if not stored:
            with self._transaction():
                self._db.executemany("INSERT INTO batch VALUES (?, ?)", [(k, scrub_url(v)) for k, v in batch.items()])
        else:
            for key, value in batch.items():
                if key in stored and stored[key] != scrub_url(value):
                    raise JournalError(
                        f"{self.path}: this journal belongs to a batch with a different {key} "
                        f"({stored[key]!r}, not {scrub_url(value)!r}); use another --journal to start a new batch"
                    )

    def close(self) -> None:
        self.flush()
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> _Commit:
        self._db.execute("BEGIN IMMEDIATE")
        return _Commit(self._db)

    # --- loading -----------------------------------------------------------------------------------------------

    def add_items(self, items: Iterable[ManifestItem], chunk: int = 2000) -> int:
        """Record new manifest items as pending (items already journaled are left as they are)."""
        added = 0
        batch: list[tuple[Any, ...]] = []
        now = time.time()
        for item in items:
            media = item.channel["media_properties"]
            shown = scrub_url(media["media_url"]) if "media_url" in media else media["source_sid"]
            batch.append((item.customer_key, item.row, shown, now, json.dumps(item.metadata, default=str)))
            if len(batch) >= chunk:
                added += self._insert(batch)
                batch = []
        if batch:
            added += self._insert(batch)
        return added

    def _insert(self, rows: list[tuple[Any, ...]]) -> int:
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO items (customer_key, row, media, updated_at, metadata) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            return self._db.total_changes - before

    # --- transitions -------------------------------------------------------------------------------------------

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
        """Back to pending (e.g. reconciliation found no transcript: safe to send again)."""
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

    def _later(self, sql: str, args: tuple[Any, ...]) -> None:
        self._pending.append((sql, args))
        if len(self._pending) >= 500:
            self.flush()

    def flush(self) -> None:
        """Commit every buffered answer in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self._transaction():
            for sql, args in pending:
                self._db.execute(sql, args)

    # --- reading -----------------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        self.flush()
        found = dict(self._db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def items(self, *states: str) -> Iterator[JournalItem]:
        """Items in the given states (all when none), in manifest order, streamed."""
        self.flush()
        unknown = set(states) - set(STATES)
        if unknown:
            raise ValueError(f"unknown state(s): {sorted(unknown)}")
        sql = "SELECT * FROM items"
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
        for row in self._db.execute(sql + " ORDER BY row", states):
            yield _item(row)

    def get(self, key: str) -> JournalItem | None:
        """One item by CustomerKey (an indexed lookup) as committed: buffered answers show after `flush()`.

        Not flushing here matters: the submit loop looks up every manifest row, and a flush per lookup would turn
        the batched answers back into one transaction per item.
        """
        row = self._db.execute("SELECT * FROM items WHERE customer_key=?", (key,)).fetchone()
        return _item(row) if row is not None else None

    def batch_info(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM batch").fetchall())


def _item(row: tuple[Any, ...]) -> JournalItem:
    return JournalItem(
        customer_key=row[0], row=row[1], media=row[2], state=row[3], transcript_sid=row[4], status=row[5],
        attempts=row[6], first_attempt_at=row[7], last_error=row[9], metadata=json.loads(row[10]),
    )  # fmt: skip


class _Commit:
    """`with journal._transaction():` — COMMIT on success, ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        return self._db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
