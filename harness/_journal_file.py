"""Opening a journal file: the checks that turn a bad path or a bad file into a clear `JournalError`.

A journal holds conversation metadata, so it is created owner-only (0600) whatever the umask; SQLite gives the
`-wal` and `-shm` files it creates beside it the journal's own mode. Before SQLite touches a file we check that it
is an SQLite database at all, and once connected that its pages are sound (`PRAGMA quick_check`: "malformed"
would otherwise surface at the first query that reads a damaged page, halfway through a run) and that its schema is
one this code knows: a journal from an older version is migrated in place by the writer, one from a newer version
is refused. Every sqlite3 or OS error on the way is reported with the path and what to do, never as a traceback.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from harness._errors import CintelError

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _HasPath(Protocol):
    path: Path
    _writer: bool


_J = TypeVar("_J", bound=_HasPath)

# PRAGMA user_version; 0 = the first journals (no version, no meta table, no batch_id), 2 added
# failed_transcript_sid, 3 the media table (merge rows' steps). Each migration only adds: older journals still open.
SCHEMA_VERSION = 3
SQLITE_MAGIC = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-shm")
# What reading a damaged file can raise besides sqlite3 errors: text or an error message that is not UTF-8, JSON
# that no longer parses.
STORAGE_ERRORS = (sqlite3.Error, UnicodeDecodeError, json.JSONDecodeError)
_ITEM_COLUMNS = (  # the order `_journal._item` reads; failed_transcript_sid (schema 2) is appended
    "customer_key, row, media, state, transcript_sid, status, attempts, first_attempt_at, last_error, metadata"
)
_V1_COLUMNS = frozenset([*_ITEM_COLUMNS.split(", "), "updated_at"])
_CREATE = """
CREATE TABLE batch (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
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
    metadata TEXT NOT NULL DEFAULT '{}',
    failed_transcript_sid TEXT
);
CREATE INDEX items_state ON items (state);
"""
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
# A merge row's steps (`_journal_media`): the merged file and its hash, where it is hosted — never a signed URL.
MEDIA_TABLE = """
CREATE TABLE IF NOT EXISTS media (
    customer_key TEXT PRIMARY KEY,
    merge_attempts INTEGER NOT NULL DEFAULT 0,
    merged_path TEXT,
    merged_sha256 TEXT,
    merged_bytes INTEGER,
    merged_at REAL,
    channel TEXT,
    upload_attempts INTEGER NOT NULL DEFAULT 0,
    hosted TEXT,
    hosted_at REAL
)"""


class JournalError(CintelError):
    """The journal cannot be used as asked; the message names the file and what to do."""


def describe_os_error(error: OSError) -> str:
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on device",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.EISDIR: "it is a directory",
        errno.ENOENT: "no such file or directory",
        errno.ELOOP: "it is a symbolic link",
    }
    return reasons.get(error.errno or 0, (error.strerror or str(error)).lower())


def private_mode(fd: int) -> None:
    """Owner read/write only, whatever the umask or the file's earlier mode (best effort on files we don't own)."""
    try:
        if os.fstat(fd).st_mode & 0o777 != 0o600:
            os.fchmod(fd, 0o600)
    except OSError:
        pass


def check_writable_place(path: Path) -> None:
    """Refuse, before any file is created, a path the writer could not use."""
    if path.is_dir():
        raise JournalError(
            f"{path} is a directory, not a journal file; pass a file path with --journal "
            f"(for example {path / 'calls.journal.sqlite'})"
        )
    _check_regular(path)
    parent = path.parent
    if not parent.exists():
        raise JournalError(f"cannot create {path}: the directory {parent} does not exist; create it, or pass --journal")
    if not parent.is_dir():
        raise JournalError(f"cannot create {path}: {parent} is not a directory; pass another --journal")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise JournalError(
            f"cannot write {path}: permission denied (its directory {parent} is not writable, and the journal keeps "
            "its -wal, -shm and .lock files beside it); choose a writable place with --journal, or fix the permissions"
        )


def _check_regular(path: Path) -> None:
    if path.exists() and not path.is_file():
        raise JournalError(f"{path} is not a regular file, so it cannot be a journal; pass another --journal")


def create_private(path: Path) -> None:
    """Create the journal 0600 before SQLite opens it (or check that an existing one is writable, and tighten it)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise JournalError(
            f"cannot write {path}: {describe_os_error(error)}; choose a writable place with --journal, "
            "or fix the permissions"
        ) from None
    try:
        private_mode(fd)
    finally:
        os.close(fd)
    for suffix in SIDECARS:  # left by a crash, perhaps by an older version with a looser mode
        try:
            fd = os.open(f"{path}{suffix}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            private_mode(fd)
        finally:
            os.close(fd)


def check_readable_file(path: Path) -> None:
    """A reader needs an existing journal: it never creates one."""
    try:
        if path.is_dir():
            raise JournalError(f"{path} is a directory, not a journal file; pass the journal's file path")
        if not path.exists():
            raise JournalError(f"no such journal: {path} (nothing has been submitted with it; check --journal)")
        _check_regular(path)
    except OSError as error:
        raise JournalError(f"cannot read {path}: {describe_os_error(error)}") from None


def check_header(path: Path, *, writer: bool) -> None:
    """An SQLite file starts with its magic string; anything else is not ours to open (or to overwrite)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise JournalError(f"cannot read {path}: {describe_os_error(error)}") from None
    if head == SQLITE_MAGIC or (writer and not head):
        return
    what = "an empty file" if not head else "not an SQLite database"
    raise JournalError(
        f"{path} is not a cintel journal ({what}); pass another --journal, or move this file away if it is not needed"
    )


def damaged(path: Path, detail: str) -> JournalError:
    return JournalError(
        f"{path} is damaged ({detail}) and cannot be trusted to prevent duplicate submissions; restore it from a "
        "copy, or move it and its -wal/-shm files aside to start a new batch (a new batch does not know what this "
        "one submitted)"
    )


def translate(path: Path, error: sqlite3.Error | ValueError, *, writer: bool) -> JournalError:
    """A storage error as a JournalError saying what to do: an sqlite3 error, or stored text or JSON (or SQLite's
    own message about a damaged schema) that no longer decodes."""
    if isinstance(error, ValueError):
        return damaged(path, f"stored data does not decode: {type(error).__name__}")
    text = str(error)
    lowered = text.lower()
    if "file is not a database" in lowered:
        return JournalError(
            f"{path} is not a cintel journal (not an SQLite database, or encrypted); pass another --journal"
        )
    if "malformed" in lowered or "corrupt" in lowered:
        return damaged(path, text)
    if not writer and "unable to open" in lowered:
        return JournalError(
            f"cannot read {path}: SQLite could not open it or its -wal/-shm files ({text}); check their permissions"
        )
    if "could not decode" in lowered:
        return damaged(path, text)
    if writer and ("readonly" in lowered or "read-only" in lowered or "unable to open" in lowered):
        return JournalError(
            f"cannot write {path}: permission denied ({text}); choose a writable place with --journal, "
            "or fix the permissions"
        )
    if "disk is full" in lowered:
        return JournalError(f"cannot write {path}: no space left on device; free some space and run again")
    return JournalError(f"{path}: the journal cannot be used: {text}")


def check_pages(db: sqlite3.Connection, path: Path) -> None:
    """Every page reachable and well formed (not the slower index-vs-table cross-check of integrity_check)."""
    found = [row[0] for row in db.execute("PRAGMA quick_check(1)")]
    if found != ["ok"]:
        raise damaged(path, " ".join(" ".join(map(str, found)).split()))


def prepare_schema(db: sqlite3.Connection, path: Path, *, writer: bool) -> str:
    """Check the schema, then (writer) switch to WAL and create or migrate it; return the columns to read items with.

    Nothing is written before the file is known to be a journal (or a new, empty one): a foreign SQLite database
    passed by mistake is left exactly as it was.
    """
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer version of cintel-harness (journal schema {version}; this version reads "
            f"up to {SCHEMA_VERSION}); upgrade cintel-harness to use it"
        )
    tables = {str(name) for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = {str(row[1]) for row in db.execute("PRAGMA table_info(items)")}
    fresh = not tables and version == 0
    if not (fresh and writer) and (not {"batch", "items"} <= tables or not columns >= _V1_COLUMNS):
        raise JournalError(
            f"{path} is an SQLite database but not a cintel journal; pass another --journal "
            "(this file is left as it is)"
        )
    if writer:
        _enable_wal(db, path)
        if fresh:
            _in_transaction(db, [*_CREATE.split(";")[:-1], _META, MEDIA_TABLE, f"PRAGMA user_version={SCHEMA_VERSION}"])
            columns.add("failed_transcript_sid")
        elif version < SCHEMA_VERSION:
            steps = [_META, MEDIA_TABLE, f"PRAGMA user_version={SCHEMA_VERSION}"]
            if "failed_transcript_sid" not in columns:
                steps.insert(0, "ALTER TABLE items ADD COLUMN failed_transcript_sid TEXT")
            _in_transaction(db, steps)
            columns.add("failed_transcript_sid")
    failed = "failed_transcript_sid" if "failed_transcript_sid" in columns else "NULL"
    return f"{_ITEM_COLUMNS}, {failed}"


def _enable_wal(db: sqlite3.Connection, path: Path) -> None:
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise JournalError(f"cannot write {path}: SQLite could not switch it to WAL mode (it stayed {mode!r})")
    db.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint; safe against a process crash


def _in_transaction(db: sqlite3.Connection, statements: list[str]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            db.execute(statement)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def connect_writer(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def connect_reader(path: Path) -> sqlite3.Connection:
    """`mode=ro`: SQLite refuses every write; sees each transaction a writer in another process has committed.

    A WAL reader needs the `-shm` file, creating it if no writer is running (SQLite gives it the journal's mode). In
    a directory we cannot write, with no `-wal` beside the journal, no writer has it open and none can start (it
    could not create its `-wal` either): the file is then read as immutable.
    """
    uri = path.resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        if "unable to open" not in str(error) or os.path.exists(f"{path}-wal"):
            db.close()
            raise
        db.close()
        db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    except BaseException:
        db.close()
        raise
    return db


def sqlite_errors(method: Callable[Concatenate[_J, _P], _R]) -> Callable[Concatenate[_J, _P], _R]:
    """An sqlite3 error inside `method` (disk full, a page damaged mid-run) becomes a JournalError naming the file."""

    @functools.wraps(method)
    def guarded(self: _J, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except STORAGE_ERRORS as error:
            raise translate(self.path, error, writer=self._writer) from None

    return guarded


class Transaction:
    """`with journal._transaction():` — COMMIT on success, ROLLBACK on error; `durable` syncs the WAL at COMMIT."""

    def __init__(self, db: sqlite3.Connection, *, durable: bool = False) -> None:
        self._db = db
        self._durable = durable

    def __enter__(self) -> sqlite3.Connection:
        if self._durable:
            self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            if self._durable:
                self._db.execute("PRAGMA synchronous=NORMAL")
