"""The output directory: one batch per directory, claimed atomically; collision-free item names; private files."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness._outputs import OutputDirError, item_filename, prepare, write_private

KEYS = st.text(st.characters(codec="utf-8") | st.characters(categories=["Cs"]), min_size=1, max_size=64)


@given(st.lists(KEYS, min_size=2, max_size=20, unique=True))
def test_distinct_keys_never_share_an_item_file(keys: list[str]) -> None:
    names = [item_filename(k) for k in keys]
    assert len(set(names)) == len(names)
    for name in names:
        assert "/" not in name
        assert not name.startswith(".")
        assert len(name.encode()) <= 255
        assert name.isascii()


def test_long_non_ascii_keys_get_short_distinct_names() -> None:
    a, b = "é" * 63 + "a", "é" * 63 + "b"
    assert item_filename(a) != item_filename(b)
    assert len(item_filename(a)) <= 255


def test_a_directory_is_claimed_by_one_batch_and_refused_to_another(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepare(out, "batch-a")
    prepare(out, "batch-a")  # the same batch again: a resume
    with pytest.raises(OutputDirError, match="another batch"):
        prepare(out, "batch-b")
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_a_directory_holding_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputDirError, match="not empty"):
        prepare(tmp_path, "batch-a")


def test_two_batches_racing_for_one_empty_directory_one_wins(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outcomes: dict[str, str] = {}
    start = threading.Barrier(8)

    def claim(batch: str) -> None:
        start.wait()
        try:
            prepare(out, batch)
            outcomes[batch] = "ok"
        except OutputDirError:
            outcomes[batch] = "refused"

    threads = [threading.Thread(target=claim, args=(f"b{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["ok"] + ["refused"] * 7


def test_private_files_are_0600_whatever_the_umask_and_replace_atomically(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
