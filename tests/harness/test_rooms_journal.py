"""The journal's media steps (schema 3): recorded at once, read back by a reader, never a URL's secret, and a journal
from before schema 3 still opens — read as it is, migrated by the writer."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from harness._journal import Journal
from harness._journal_file import SCHEMA_VERSION
from tests.harness.test_journal_files import BATCH, make_v1_journal


def make_v2_journal(path: Path) -> None:
    """A journal as schema 2 left it: the first schema migrated (meta table, failed_transcript_sid), no media."""
    make_v1_journal(path)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("ALTER TABLE items ADD COLUMN failed_transcript_sid TEXT")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("PRAGMA user_version=2")


def test_the_steps_of_a_merge_are_recorded_and_read_back_by_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    channel = {"participants": [{"channel_participant": 1, "role": "Agent"}]}
    with Journal(path, batch=BATCH) as journal:
        assert journal.media_step("k") is None
        journal.begin_merge("k")
        journal.begin_merge("k")  # a merge interrupted, then a second one
        journal.mark_merged("k", tmp_path / "k.flac", "ab" * 32, 1234, channel)
        journal.begin_upload("k")
        journal.mark_hosted("k", "s3://bucket/calls/k.flac")
        with Journal.open_readonly(path) as reader:  # committed at once, not buffered
            step = reader.media_step("k")
    assert step is not None
    assert (step.merge_attempts, step.upload_attempts, step.merged) == (2, 1, True)
    assert (step.merged_path, step.merged_sha256, step.merged_bytes) == (str(tmp_path / "k.flac"), "ab" * 32, 1234)
    assert (step.channel, step.hosted) == (channel, "s3://bucket/calls/k.flac")


def test_a_hosted_location_never_keeps_a_query_and_a_new_merge_forgets_the_old_hosting(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path, batch=BATCH) as journal:
        journal.mark_merged("k", tmp_path / "k.flac", "00" * 32, 1, {})
        journal.mark_hosted("k", "http://127.0.0.1:9/__mock__/media/k.flac?Expires=1&Signature=Zs3cr3t")
        step = journal.media_step("k")
        assert step is not None
        assert step.hosted == "http://127.0.0.1:9/__mock__/media/k.flac?<redacted>"
        journal.forget_merged("k")
        step = journal.media_step("k")
        assert step is not None
        assert (step.merged, step.hosted) == (False, None)
        journal.mark_merged("k", tmp_path / "k.flac", "11" * 32, 2, {})
        assert [s.customer_key for s in journal.media_steps()] == ["k"]
    for file in tmp_path.iterdir():  # the journal and whatever sidecars are left
        assert b"Zs3cr3t" not in file.read_bytes(), file


def test_a_schema_2_journal_is_read_as_it_is_and_migrated_by_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    make_v2_journal(path)
    before = path.read_bytes()
    with Journal.open_readonly(path) as reader:
        assert reader.media_step("c") is None
        assert list(reader.media_steps()) == []
        assert reader.counts()["pending"] == 1
    assert path.read_bytes() == before
    with Journal(path, batch=BATCH) as journal:
        journal.begin_merge("c")
        step = journal.media_step("c")
        assert step is not None
        assert step.merge_attempts == 1
        assert [i.customer_key for i in journal.items()] == ["a", "b", "c"]
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)
