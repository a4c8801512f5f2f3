"""One writer per journal: an exclusive `flock` on the sidecar `<journal>.lock`, held for the writer's whole life.

The lock belongs to the open file description, so the kernel drops it when the process ends however it ends —
kill -9 included — and a stale lock cannot exist: the sidecar file may stay on disk, but nobody holds it. The holder
writes who it is (pid, host, start time, the start of its command line) into the sidecar after locking, so that a
refused run can name the process it is waiting for. Readers (`cintel status`, `cintel results`) never touch the lock.

`flock` is advisory and local: every cintel writer takes it, and the journal must live on a local file system
(NFS emulates `flock` with byte-range locks that some servers do not share between clients).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._journal_file import JournalError, describe_os_error, private_mode
from harness._redact import scrub_text


@dataclass(frozen=True)
class LockHolder:
    """Who holds a journal's lock, as the holder wrote it into the sidecar."""

    pid: int
    host: str
    started: float
    command: str

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        return f"pid {self.pid} on host {self.host}, since {since}: {self.command}"


class JournalLocked(JournalError):
    """Another process holds this journal's writer lock: a second run would submit the same items again."""

    def __init__(self, path: Path, holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "its pid is not recorded yet"
        super().__init__(
            f"{path} is in use by another cintel run ({who}); wait for it to finish, or stop it, then run again"
        )
        self.path = path
        self.holder = holder


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


class WriterLock:
    """`WriterLock.acquire(journal)` takes the lock or raises `JournalLocked` at once; `release()` gives it back."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, journal: Path) -> WriterLock:
        path = lock_path(journal)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as error:
            raise JournalError(
                f"cannot write {journal} (its lock file {path.name}): {describe_os_error(error)}; "
                "choose a writable place with --journal, or fix the permissions"
            ) from None
        try:
            private_mode(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JournalLocked(journal, _read_holder(fd)) from None
            except OSError as error:
                raise JournalError(f"cannot lock {path}: {describe_os_error(error)}") from None
            _write_holder(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Forget the holder's details and unlock (closing the descriptor unlocks). The file stays: deleting it
        would let a new run lock a fresh inode while an old one still holds the unlinked one."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):  # the details are only informative; unlocking is what matters
            os.ftruncate(fd, 0)
        os.close(fd)

    def __del__(self) -> None:  # a writer dropped without close() still unlocks when collected
        if self._fd is not None:
            os.close(self._fd)


def _write_holder(fd: int) -> None:
    argv = [os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python", *sys.argv[1:3]]
    command = scrub_text(" ".join(argv) + (" …" if len(sys.argv) > 3 else ""))
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": command}
    data = json.dumps(record).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _read_holder(fd: int) -> LockHolder | None:
    for _ in range(5):  # the holder may be between its truncate and its write: give it a moment
        holder = _parse_holder(fd)
        if holder is not None:
            return holder
        time.sleep(0.02)
    return None


def _parse_holder(fd: int) -> LockHolder | None:
    try:
        size = os.fstat(fd).st_size
        raw: Any = json.loads(os.pread(fd, min(size, 64 * 1024), 0) or b"null")
        return LockHolder(int(raw["pid"]), str(raw["host"]), float(raw["started"]), str(raw["command"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None  # written by something else, or read between the holder's truncate and write
