"""The SQLite journal: transitions, resume, batch guard, WAL, batched durability, no secrets at rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness._journal import Journal, JournalError, fingerprint
from harness._manifest import ManifestItem

SIGNED = "https://bucket.s3.amazonaws.com/calls/{i}.wav?X-Amz-Signature=topsecret{i}&X-Amz-Expires=900"
BATCH = {"manifest": "123:abc", "service_sid": "GA" + "1" * 32, "base_url": "http://127.0.0.1:8080"}


def items(n: int, start: int = 0) -> list[ManifestItem]:
    return [
        ManifestItem(i + 1, f"k{i}", {"media_properties": {"media_url": SIGNED.format(i=i)}}, metadata={"n": i})
        for i in range(start, start + n)
    ]


def test_items_move_through_the_states_and_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with Journal(path, batch=BATCH) as journal:
        assert journal.add_items(items(4)) == 4
        assert journal.add_items(items(4)) == 0  # re-adding on resume changes nothing
        journal.mark_submitting(["k0", "k1", "k2"])
        journal.mark_submitted("k0", "GT" + "0" * 32, "queued")
        journal.mark_unknown("k1", "timed out")
        journal.mark_failed("k2", "media not reachable")
        journal.mark_submitted("k3", "GT" + "3" * 32)
        journal.mark_completed("k3")
    with Journal(path, batch=BATCH) as journal:
        assert journal.counts() == {
            "pending": 0, "submitting": 0, "submitted": 1, "unknown": 1, "completed": 1, "failed": 1,
        }  # fmt: skip
        k0 = journal.get("k0")
        assert k0 is not None
        assert k0.transcript_sid == "GT" + "0" * 32
        assert k0.attempts == 1
        assert k0.first_attempt_at is not None
        assert k0.metadata == {"n": 0}
        assert [i.customer_key for i in journal.items("unknown", "submitting")] == ["k1"]
        assert journal.get("nope") is None


def test_a_crash_after_mark_submitting_leaves_the_item_to_reconcile(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    journal = Journal(path, batch=BATCH)
    journal.add_items(items(2))
    journal.mark_submitting(["k0"])
    # No close(), no flush: as if the process were killed right after the request went out.
    other = sqlite3.connect(path)
    assert other.execute("SELECT state, attempts FROM items WHERE customer_key='k0'").fetchone() == ("submitting", 1)
    other.close()


def test_get_reads_committed_state_without_flushing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", batch=BATCH)
    journal.add_items(items(1))
    journal.mark_submitted("k0", "GT" + "0" * 32)
    before = journal.get("k0")
    assert before is not None
    assert before.state == "pending"  # the answer is still buffered: a lookup must not force a commit
    journal.flush()
    after = journal.get("k0")
    assert after is not None
    assert after.state == "submitted"
    journal.close()


def test_buffered_answers_are_committed_together_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    journal = Journal(path, batch=BATCH)
    journal.add_items(items(3))
    for i in range(3):
        journal.mark_submitted(f"k{i}", f"GT{i:032d}")
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT COUNT(*) FROM items WHERE state='submitted'").fetchone() == (0,)
    journal.flush()
    assert reader.execute("SELECT COUNT(*) FROM items WHERE state='submitted'").fetchone() == (3,)
    reader.close()
    journal.close()


def test_a_journal_refuses_a_different_manifest(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    Journal(path, batch=BATCH).close()
    with pytest.raises(JournalError) as caught:
        Journal(path, batch={**BATCH, "manifest": "999:other"})
    assert "manifest" in str(caught.value)
    assert str(path) in str(caught.value)


def test_wal_mode(tmp_path: Path) -> None:
    with Journal(tmp_path / "j", batch=BATCH) as journal:
        assert journal._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_no_presigned_signature_reaches_the_journal_file(tmp_path: Path) -> None:
    path = tmp_path / "batch.journal"
    with Journal(path, batch={**BATCH, "base_url": "https://x.example/?token=hunter2"}) as journal:
        journal.add_items(items(20))
        journal.mark_submitting(["k1"])
        journal.mark_unknown("k1", f"reset while fetching {SIGNED.format(i=1)}")
        journal.mark_failed("k2", f"403 from {SIGNED.format(i=2)}")
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"topsecret" not in raw
    assert b"hunter2" not in raw
    assert b"bucket.s3.amazonaws.com/calls/1.wav" in raw  # the recording is still recognisable


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"media_url": "https://x/1.wav"}\n')
    first = fingerprint(manifest)
    manifest.write_text('{"media_url": "https://x/2.wav"}\n')
    assert fingerprint(manifest) != first


def test_unknown_state_names_are_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j", batch=BATCH) as journal, pytest.raises(ValueError, match="done"):
        list(journal.items("done"))
