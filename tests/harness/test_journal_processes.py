"""The journal across real processes: one writer at a time (an OS lock that kill -9 cannot leave stale), readers
that see a running writer's committed state without blocking it, and metadata that survives kill -9."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness._journal import Journal, JournalError, JournalLocked, lock_path

ROOT = Path(__file__).resolve().parents[2]
BATCH = {"manifest": "123:abc", "service_sid": "GA" + "1" * 32}

# A writer in its own process, driven line by line on stdin; it answers each command with one line on stdout.
CHILD = """
import json, os, signal, sys
from harness._journal import Journal, JournalLocked
from harness._manifest import ManifestItem

try:
    journal = Journal(sys.argv[2], batch=json.loads(sys.argv[3]))
except JournalLocked as refused:
    print("refused", json.dumps(str(refused)), flush=True)
    sys.exit(0)
print("locked", flush=True)
for line in sys.stdin:
    command, *args = line.split()
    if command == "add":
        journal.add_items(
            ManifestItem(i + 1, f"k{i}", {"media_properties": {"media_url": f"https://h/{i}.wav"}})
            for i in range(int(args[0]))
        )
    elif command == "submitting":
        journal.mark_submitting(args)
    elif command == "submitted":  # buffered: committed by the next flush
        for key in args:
            journal.mark_submitted(key, "GT" + key.rjust(32, "0"))
    elif command == "flush":
        journal.flush()
    elif command == "meta":
        journal.set_meta(args[0], args[1])
    elif command == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    print("ok", flush=True)
"""


class Child:
    """`python cintel-child.py submit JOURNAL BATCH` — argv shaped like `cintel submit calls.jsonl ...`."""

    def __init__(self, script: Path, journal: Path, batch: dict[str, str] = BATCH) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "submit", str(journal), json.dumps(batch)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self._first: str | None = None

    @property
    def first(self) -> str:
        """The child's first line: `locked`, or `refused "<message>"`."""
        if self._first is None:
            self._first = self.read()
        return self._first

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"child exited with {self.proc.wait()}"
        return line.strip()

    def send(self, command: str) -> None:
        assert self.first == "locked"
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        assert self.read() == "ok"

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait() == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


Spawn = Callable[[Path], Child]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start a writer process on a journal; every one started is stopped when the test ends."""
    script = tmp_path / "cintel-child.py"
    script.write_text(CHILD)
    started: list[Child] = []

    def start(journal: Path) -> Child:
        started.append(Child(script, journal))
        return started[-1]

    yield start
    for child in started:
        child.stop()


def test_a_second_writer_is_refused_at_once_naming_the_journal_and_the_other_process(
    tmp_path: Path, spawn: Spawn
) -> None:
    path = tmp_path / "calls.jsonl.journal.sqlite"
    holder = spawn(path)
    assert holder.first == "locked"
    with pytest.raises(JournalLocked) as caught:
        Journal(path, batch=BATCH)
    message = str(caught.value)
    assert str(path) in message
    assert f"in use by another cintel run (pid {holder.pid} on host {socket.gethostname()}, since 20" in message
    assert " UTC: cintel-child.py submit " in message
    assert message.endswith("…); wait for it to finish, or stop it, then run again")
    assert isinstance(caught.value, JournalError)
    assert caught.value.holder is not None
    assert caught.value.holder.pid == holder.pid


def test_a_second_writer_process_is_refused_too_and_nothing_it_would_do_reaches_the_journal(
    tmp_path: Path, spawn: Spawn
) -> None:
    path = tmp_path / "j.sqlite"
    holder = spawn(path)
    assert holder.first == "locked"
    holder.send("add 3")
    second = spawn(path)
    assert second.first.startswith("refused ")
    assert f"pid {holder.pid} " in json.loads(second.first.removeprefix("refused "))
    assert second.proc.wait() == 0
    with Journal.open_readonly(path) as reader:
        assert reader.counts()["pending"] == 3


def test_after_the_holder_is_killed_with_sigkill_the_lock_is_free_at_once(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "j.sqlite"
    holder = spawn(path)
    holder.send("add 2")
    holder.send("submitting k0")
    holder.kill9()
    assert lock_path(path).exists()  # the sidecar stays on disk; nobody holds it
    with Journal(path, batch=BATCH) as journal:  # no wait, no retry, no "stale lock" to clean up
        item = journal.get("k0")
        assert item is not None
        assert item.state == "submitting"  # made durable before the kill: resume reconciles it
        holder_info = json.loads(lock_path(path).read_text())
        assert holder_info["pid"] == os.getpid()


def test_racing_writers_exactly_one_wins(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "j.sqlite"
    children = [spawn(path) for _ in range(4)]  # started together; each holds what it got until the fixture ends
    outcomes = sorted(child.first.split()[0] for child in children)
    assert outcomes == ["locked", "refused", "refused", "refused"]


def test_a_second_writer_in_the_same_process_is_refused_and_close_releases(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    first = Journal(path, batch=BATCH)
    with pytest.raises(JournalLocked, match=f"pid {os.getpid()} "):
        Journal(path, batch=BATCH)
    first.close()
    Journal(path, batch=BATCH).close()


def test_a_refused_batch_does_not_keep_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, batch=BATCH).close()
    with pytest.raises(JournalError, match="different manifest"):
        Journal(path, batch={**BATCH, "manifest": "999:other"})
    Journal(path, batch=BATCH).close()  # the failed open released the lock


def test_a_reader_sees_what_a_running_writer_committed_and_cannot_write(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "j.sqlite"
    writer = spawn(path)
    writer.send("add 3")
    writer.send("submitting k0 k1")
    writer.send("meta webhook_url https://example.com/hook")
    with Journal.open_readonly(path) as reader:
        assert reader.counts()["submitting"] == 2
        assert reader.get_meta("webhook_url") == "https://example.com/hook"
        assert reader.batch_info()["manifest"] == BATCH["manifest"]
        writer.send("submitted k0")  # buffered in the writer: not committed, not visible
        item = reader.get("k0")
        assert item is not None
        assert item.state == "submitting"
        writer.send("flush")
        item = reader.get("k0")
        assert item is not None
        assert item.state == "submitted"
        assert [i.customer_key for i in reader.items("submitted")] == ["k0"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._db.execute("UPDATE items SET state='failed'")


def test_an_open_reader_does_not_hold_up_the_writer(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "j.sqlite"
    writer = spawn(path)
    writer.send("add 5")
    with Journal.open_readonly(path) as reader:
        rows = reader.items()
        assert next(rows).customer_key == "k0"  # a read transaction is open in this process
        writer.send("submitting k1 k2")  # commits while it is
        writer.send("submitted k1")
        writer.send("flush")
        assert [i.state for i in rows] == ["pending"] * 4  # the open read sees one snapshot
        assert reader.counts()["submitting"] == 1  # the next read sees the new commits


def test_metadata_set_before_a_kill_9_is_there_after_it(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "j.sqlite"
    writer = spawn(path)
    writer.send("meta original_webhook_url https://customer.example/hook")
    writer.kill9()
    with Journal(path, batch=BATCH) as journal:
        assert journal.get_meta("original_webhook_url") == "https://customer.example/hook"


def test_opening_read_only_changes_nothing_and_takes_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path, batch=BATCH) as journal:
        journal.set_meta("k", "v")
    lock_path(path).unlink()
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, path.stat().st_size)
    with Journal.open_readonly(path) as reader:
        assert reader.counts()["pending"] == 0
        assert list(reader.items()) == []
        assert reader.get("x") is None
        assert reader.get_meta("k") == "v"
        assert reader.batch_id is not None
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, path.stat().st_size) == before


def test_a_missing_journal_is_an_error_and_nothing_is_created(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such journal") as caught:
        Journal.open_readonly(tmp_path / "nope.sqlite")
    assert str(tmp_path / "nope.sqlite") in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["a b.sqlite", "a?b=1.sqlite", "a#b.sqlite", "a%20b.sqlite", "ä€.sqlite"])
def test_a_reader_opens_paths_that_need_quoting_in_a_uri(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with Journal(path, batch=BATCH) as journal:
        journal.set_meta("k", name)
    with Journal.open_readonly(path) as reader:
        assert reader.get_meta("k") == name
    assert {p.name for p in tmp_path.iterdir()} <= {name, name + ".lock", name + "-wal", name + "-shm"}
