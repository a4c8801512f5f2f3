"""The files a mock service writes, and the threads that write and remove them off the event loop.

The media pipeline (downloaded media, silenced copies) and the Video service (recorded tracks, compositions) keep
their files the same way: a private temporary folder (`tempfile.mkdtemp`, mode 0700) made on first use, one
subfolder per *generation* — a reset moves on to the next generation and removes the old one in the pool, so jobs
still running finish into the old folder and their results are dropped — and a small thread pool for the blocking
file work, shut down with the folder when the app closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["ScratchSpace", "remove_quietly"]


def remove_quietly(path: str | os.PathLike[str]) -> None:
    """Delete a file if it is still there (blocking: call it from a worker thread)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class ScratchSpace:
    """One service's files and file threads (see the module's docstring)."""

    def __init__(self, prefix: str, workers: int) -> None:
        self.prefix = prefix  # of the folder's name, and of the pool's thread names
        self.workers = workers
        self.generation = 0
        self._executor: ThreadPoolExecutor | None = None
        self._root: Path | None = None
        self._closed = False

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=self.prefix)
        return self._executor

    def folder(self, *parts: str) -> Path:
        """This generation's folder (and `parts` below it), made if missing."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        folder = self._root.joinpath(str(self.generation), *parts)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    def discard(self, path: str) -> None:
        """Remove a file without blocking the loop (in the pool; here once the pool is gone)."""
        if self._closed:
            remove_quietly(path)
            return
        try:
            self.executor.submit(remove_quietly, path)
        except RuntimeError:  # the pool is shut down: the app is closing and removes the whole folder
            remove_quietly(path)

    def next_generation(self) -> None:
        """The mock was reset: later files go to a new folder; the old one is removed in the pool."""
        if self._root is not None:
            old = self._root / str(self.generation)
            with contextlib.suppress(RuntimeError):
                self.executor.submit(shutil.rmtree, old, True)
        self.generation += 1

    def reopen(self) -> None:
        """The app starts (again): files are removed in the pool once more."""
        self._closed = False

    async def close(self) -> None:
        """Shut the pool down (queued work cancelled, running work finished) and remove the whole folder."""
        self._closed = True
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(None, lambda: executor.shutdown(cancel_futures=True))
        if self._root is not None:
            root, self._root = self._root, None
            await asyncio.to_thread(shutil.rmtree, root, True)
