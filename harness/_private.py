"""Modes of what cintel writes that holds call content or credentials-adjacent data — files 0600, folders 0700 —
and making folders with exactly that mode whatever the umask."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "make_dirs"]

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def make_dirs(path: Path, mode: int = PRIVATE_DIR) -> None:
    """`path` and every missing parent with `mode` exactly (whatever the umask: mkdir(parents=True) would give the
    parents the umask's mode, and mkdir(mode) is masked by it)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=mode, exist_ok=True)
        directory.chmod(mode)
