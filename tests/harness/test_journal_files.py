"""Journal files: a bad path or a bad file is a JournalError naming the path and what to do (never a raw sqlite3
error); files are created 0600 whatever the umask; journals from the first schema are read and migrated."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness._errors import CintelError
from harness._journal import Journal, JournalError, JournalReader, lock_path
from harness._journal_file import SCHEMA_VERSION
from harness._manifest import ManifestItem

BATCH = {"manifest": "123:abc"}


def items(n: int) -> list[ManifestItem]:
    return [
        ManifestItem(i + 1, f"k{i}", {"media_properties": {"media_url": f"https://h/{i}.wav"}}, metadata={"n": i})
        for i in range(n)
    ]


def make_journal(path: Path, n: int = 50) -> None:
    with Journal(path, batch=BATCH) as journal:
        journal.add_items(items(n))
        journal.mark_submitting([f"k{i}" for i in range(0, n, 2)])
        for i in range(0, n, 4):
            journal.mark_failed(f"k{i}", "media not reachable")


def read_everything(journal: JournalReader) -> None:
    journal.counts()
    journal.batch_info()
    for item in journal.items():
        journal.get(item.customer_key)
    journal.get_meta("x")


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make `path` refuse writes for this process. Without root, chmod does it; root ignores modes, so then the
    immutable attribute (chattr +i) makes the kernel refuse with EPERM — a real refusal either way."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    assert chattr, "running as root: the test needs chattr (e2fsprogs) to make a file read-only"
    subprocess.run([chattr, "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


# --- bad paths and bad files -----------------------------------------------------------------------------------


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _missing_parent(path: Path) -> Path:
    return path / "no-such-dir" / "j.sqlite"


def _parent_is_a_file(path: Path) -> Path:
    path.write_text("a regular file")
    return path / "j.sqlite"


def _random_bytes(path: Path) -> Path:
    path.write_bytes(os.urandom(8192))
    return path


def _text_file(path: Path) -> Path:
    path.write_text("customer_key,media_url\nk1,https://h/1.wav\n")
    return path


def _truncated(path: Path) -> Path:
    make_journal(path, 3000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _garbage_pages(path: Path) -> Path:
    make_journal(path, 3000)
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 6] = os.urandom(4096 * 3)
    path.write_bytes(bytes(data))
    return path


def _garbage_schema_page(path: Path) -> Path:
    make_journal(path, 10)
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)
    path.write_bytes(bytes(data))
    return path


def _newer_schema(path: Path) -> Path:
    make_journal(path, 3)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    return path


def _foreign_sqlite(path: Path) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE patients (name TEXT)")
        db.execute("INSERT INTO patients VALUES ('x')")
        db.commit()
    return path


def _device(path: Path) -> Path:
    return Path(os.devnull)


BAD: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a directory": (_directory, "is a directory, not a journal file"),
    "a missing parent directory": (_missing_parent, "does not exist"),
    "a parent that is a regular file": (_parent_is_a_file, "is not a directory"),
    "random bytes": (_random_bytes, "is not a cintel journal (not an SQLite database)"),
    "a text file": (_text_file, "is not a cintel journal (not an SQLite database)"),
    "a truncated journal": (_truncated, "is damaged (database disk image is malformed)"),
    "garbage pages": (_garbage_pages, "is damaged ("),
    "a garbage schema page": (_garbage_schema_page, "is damaged ("),
    "a newer schema": (_newer_schema, "written by a newer version of cintel-harness"),
    "another application's SQLite file": (_foreign_sqlite, "is an SQLite database but not a cintel journal"),
    "a device": (_device, "is not a regular file"),
}
READER_MESSAGE = {"a missing parent directory": "no such journal", "a parent that is a regular file": "no such journal"}


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("opener", ["writer", "reader"])
def test_a_bad_path_or_file_is_a_journal_error_naming_it(tmp_path: Path, case: str, opener: str) -> None:
    make, expected = BAD[case]
    path = make(tmp_path / "calls.jsonl.journal.sqlite")
    before = path.read_bytes() if path.is_file() else None
    open_journal = Journal.open_readonly if opener == "reader" else functools.partial(Journal, batch=BATCH)
    with pytest.raises(JournalError) as caught:
        open_journal(path)
    message = str(caught.value)
    assert str(path) in message
    assert (READER_MESSAGE.get(case, expected) if opener == "reader" else expected) in message
    assert isinstance(caught.value, CintelError)  # the CLI's error path: a message and an exit code, no traceback
    assert caught.value.__cause__ is None  # nothing chained from sqlite3 for the CLI to print
    if before is not None:
        assert path.read_bytes() == before  # a file that is not ours is left exactly as it was
    if opener == "writer" and case not in {"a directory", "a device"}:
        Journal(tmp_path / "fine.sqlite", batch=BATCH).close()  # and the lock of the refused one is not held


def test_a_read_only_journal_file_cannot_be_written_but_can_be_read(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    make_journal(path, 4)
    with unwritable(path):
        with pytest.raises(JournalError) as caught:
            Journal(path, batch=BATCH)
        assert str(caught.value).startswith(f"cannot write {path}: permission denied")
        with Journal.open_readonly(path) as reader:  # status / results still work
            assert reader.counts()["failed"] == 1
    Journal(path, batch=BATCH).close()  # and the refusal held no lock


@pytest.mark.parametrize("existing", [False, True])
def test_a_read_only_directory_cannot_hold_a_writer(tmp_path: Path, existing: bool) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "j.sqlite"
    if existing:
        make_journal(path, 4)
    with unwritable(folder):
        with pytest.raises(JournalError) as caught:
            Journal(path, batch=BATCH)
        assert str(caught.value).startswith(f"cannot write {path}: permission denied")
        if existing:  # no -wal/-shm beside it and none can be made: read as the immutable file it is
            with Journal.open_readonly(path) as reader:
                assert reader.counts()["submitting"] == 1
    assert sorted(p.name for p in folder.iterdir()) == (["j.sqlite", "j.sqlite.lock"] if existing else [])


@given(
    flips=st.lists(  # byte offset (often in the header and schema pages), xor mask
        st.tuples(st.integers(0, 8191) | st.integers(min_value=0), st.integers(1, 255)), min_size=1, max_size=40
    ),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_any_damage_to_a_journal_gives_a_journal_error_or_a_readable_journal(
    flips: list[tuple[int, int]], cut: int | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "j.sqlite"
        make_journal(path, 200)
        data = bytearray(path.read_bytes())
        for offset, xor in flips:
            data[offset % len(data)] ^= xor
        if cut is not None:
            data = data[: cut % (len(data) + 1)]
        path.write_bytes(bytes(data))
        for opener in (Journal.open_readonly, lambda p: Journal(p, batch={})):
            with contextlib.suppress(JournalError), opener(path) as journal:
                read_everything(journal)


# --- modes -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277])
def test_the_journal_its_sidecars_and_its_lock_are_created_owner_only(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "j.sqlite"
    old = os.umask(umask)
    try:
        with Journal(path, batch=BATCH) as journal:
            journal.add_items(items(3))
            journal.set_meta("k", "v")
            made = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    finally:
        os.umask(old)
    assert made == {"j.sqlite": 0o600, "j.sqlite-wal": 0o600, "j.sqlite-shm": 0o600, "j.sqlite.lock": 0o600}


def test_a_journal_made_with_a_looser_mode_is_tightened_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    make_journal(path, 3)
    path.chmod(0o644)
    lock_path(path).chmod(0o666)
    with Journal(path, batch=BATCH):
        assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {
            "j.sqlite": 0o600, "j.sqlite-wal": 0o600, "j.sqlite-shm": 0o600, "j.sqlite.lock": 0o600,
        }  # fmt: skip


# --- the first schema (journals made before locking, meta and batch_id) ---------------------------------------

V1_SCHEMA = """
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


def make_v1_journal(path: Path) -> None:
    """A journal as the first version wrote it (schema copied from commit 667a1cc's harness/_journal.py)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO batch VALUES ('manifest', '123:abc')")
        db.executemany(
            "INSERT INTO items (customer_key, row, media, state, transcript_sid, updated_at, last_error, metadata)"
            " VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            [
                ("a", 1, "https://h/a.wav", "completed", "GT" + "a" * 32, None, '{"n": 1}'),
                ("b", 2, "https://h/b.wav", "failed", "GT" + "b" * 32, "transcript failed", "{}"),
                ("c", 3, "https://h/c.wav", "pending", None, None, "{}"),
            ],
        )


def test_a_first_schema_journal_is_read_without_being_changed(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    make_v1_journal(path)
    before = path.read_bytes()
    with Journal.open_readonly(path) as reader:
        assert reader.counts()["completed"] == 1
        assert reader.batch_id is None
        assert reader.get_meta("anything") is None
        item = reader.get("b")
        assert item is not None
        assert item.failed_transcript_sid is None
        assert item.last_error == "transcript failed"
    assert path.read_bytes() == before


def test_a_first_schema_journal_is_migrated_by_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    make_v1_journal(path)
    with Journal(path, batch=BATCH) as journal:
        batch_id = journal.batch_id
        assert len(batch_id) == 32
        assert journal.batch_info() == {"manifest": "123:abc", "batch_id": batch_id}
        assert [(i.customer_key, i.state, i.metadata) for i in journal.items()] == [
            ("a", "completed", {"n": 1}), ("b", "failed", {}), ("c", "pending", {}),
        ]  # fmt: skip
        assert journal.requeue_failed() == 1
        journal.set_meta("k", "v")
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    with Journal(path, batch=BATCH) as journal:
        assert journal.batch_id == batch_id
        item = journal.get("b")
        assert item is not None
        assert (item.state, item.failed_transcript_sid) == ("unknown", "GT" + "b" * 32)
        assert journal.get_meta("k") == "v"
