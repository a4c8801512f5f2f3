"""The SQLite journal: transitions, resume, batch guard, WAL, batched durability, no secrets at rest."""

from __future__ import annotations

import json
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


# --- run metadata, batch id, --retry-failed ---------------------------------------------------------------------


def test_run_metadata_is_committed_at_once_and_none_deletes_it(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with Journal(path, batch=BATCH) as journal:
        assert journal.get_meta("webhook_url") is None
        journal.set_meta("webhook_url", "https://customer.example/hook")
        journal.set_meta("webhook_method", "POST")
        journal.set_meta("webhook_method", "GET")
        other = sqlite3.connect(path)  # committed: visible to another connection before close()
        assert dict(other.execute("SELECT key, value FROM meta").fetchall()) == {
            "webhook_url": "https://customer.example/hook", "webhook_method": "GET",
        }  # fmt: skip
        other.close()
        journal.set_meta("webhook_method", None)
        assert journal.get_meta("webhook_method") is None
        assert journal._db.execute("PRAGMA synchronous").fetchone() == (1,)  # back to NORMAL for the answers
    with Journal(path, batch=BATCH) as journal:
        assert journal.get_meta("webhook_url") == "https://customer.example/hook"
        assert journal.get_meta("webhook_method") is None
        assert "webhook_url" not in journal.batch_info()  # metadata is not part of the batch's identity


def test_a_batch_id_is_made_once_and_kept(tmp_path: Path) -> None:
    with Journal(tmp_path / "a", batch=BATCH) as journal:
        first = journal.batch_id
        assert len(first) == 32
        int(first, 16)
        assert journal.batch_info()["batch_id"] == first
    with Journal(tmp_path / "a", batch=BATCH) as journal:
        assert journal.batch_id == first
    with Journal.open_readonly(tmp_path / "a") as reader:
        assert reader.batch_id == first
    with Journal(tmp_path / "b", batch=BATCH) as journal:
        assert journal.batch_id != first


def test_batch_keys_first_given_on_a_later_open_are_recorded_and_then_checked(tmp_path: Path) -> None:
    path = tmp_path / "j"
    Journal(path, batch={"manifest": "123:abc"}).close()
    with Journal(path, batch=BATCH) as journal:
        journal.add_items(items(1))
        journal.mark_submitting(["k0"])  # sent: from now on the service is part of the batch
    with pytest.raises(JournalError, match="different service_sid"):
        Journal(path, batch={**BATCH, "service_sid": "GA" + "2" * 32})


def test_requeue_failed_sends_failed_items_back_through_reconciliation(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with Journal(path, batch=BATCH) as journal:
        journal.add_items(items(4))
        journal.mark_submitting(["k0", "k1", "k2", "k3"])
        journal.mark_submitted("k0", "GT" + "0" * 32)
        journal.mark_failed("k0", "transcript failed", "failed")  # the transcript failed
        journal.mark_failed("k1", f"400: media not reachable: {SIGNED.format(i=1)}")  # the create was refused
        journal.mark_submitted("k2", "GT" + "2" * 32)
        journal.mark_completed("k2")
        # k0 and k1 are failed only in the buffer: requeue_failed() must see them
        assert journal.requeue_failed() == 2
        reader = sqlite3.connect(path)  # committed when it returns
        assert reader.execute("SELECT COUNT(*) FROM items WHERE state='unknown'").fetchone() == (2,)
        reader.close()
        k0, k1, k2 = journal.get("k0"), journal.get("k1"), journal.get("k2")
        assert k0 is not None
        assert k1 is not None
        assert k2 is not None
        assert (k0.state, k0.transcript_sid, k0.failed_transcript_sid, k0.status) == (
            "unknown", None, "GT" + "0" * 32, None,
        )  # fmt: skip
        assert k0.last_error == "retrying after: transcript failed"
        assert (k1.state, k1.failed_transcript_sid) == ("unknown", None)
        assert k1.last_error is not None
        assert k1.last_error.startswith("retrying after: 400: media not reachable: https://bucket.s3")
        assert "topsecret" not in k1.last_error
        assert (k2.state, k2.transcript_sid) == ("completed", "GT" + "2" * 32)
        assert journal.counts()["failed"] == 0
        assert [i.customer_key for i in journal.items("unknown")] == ["k0", "k1"]
        assert journal.requeue_failed() == 0
        # reconciliation found the failed transcript only: send again, then it fails once more
        journal.mark_pending("k0", "no transcript found while reconciling: sending again")
        journal.mark_submitting(["k0"])
        journal.mark_submitted("k0", "GT" + "9" * 32)
        journal.mark_failed("k0", "transcript failed", "failed")
        assert journal.requeue_failed() == 1
        again = journal.get("k0")
        assert again is not None
        assert (again.failed_transcript_sid, again.attempts) == ("GT" + "9" * 32, 2)


def test_mark_pending_puts_an_item_back_with_nothing_counted_as_failed(tmp_path: Path) -> None:
    with Journal(tmp_path / "j", batch=BATCH) as journal:
        journal.add_items(items(2))
        journal.mark_submitting(["k0", "k1"])
        journal.mark_pending("k0", "blocked by the account: 20003 Authenticate")
        journal.mark_pending("k1")
        assert journal.counts() == {
            "pending": 2, "submitting": 0, "submitted": 0, "unknown": 0, "completed": 0, "failed": 0,
        }  # fmt: skip
        k0, k1 = journal.get("k0"), journal.get("k1")
        assert k0 is not None
        assert k1 is not None
        assert (k0.last_error, k0.attempts, k0.failed_transcript_sid) == (
            "blocked by the account: 20003 Authenticate", 1, None,
        )  # fmt: skip
        assert k1.last_error is None


def test_the_service_may_be_corrected_until_a_create_has_been_sent(tmp_path: Path) -> None:
    """A run blocked by a wrong --service (exit 4) sent nothing: the corrected command reuses the journal."""
    path = tmp_path / "j.sqlite"
    wrong, right, other = ("GA" + c * 32 for c in "012")
    with Journal(path, batch={"manifest": "m", "service_sid": wrong}) as journal:
        journal.add_items(items(3))
    with Journal(path, batch={"manifest": "m", "service_sid": right}) as journal:
        assert journal.batch_info()["service_sid"] == right
        journal.mark_submitting(["k0"])
    with pytest.raises(JournalError, match="different service_sid"):
        Journal(path, batch={"manifest": "m", "service_sid": other})
    with pytest.raises(JournalError, match="different manifest"):
        Journal(path, batch={"manifest": "another", "service_sid": right})


def test_a_presigned_url_in_a_metadata_column_is_scrubbed_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    metadata = {"backup": "https://b.example/a.wav?X-Amz-Signature=m3tas3cret", "team": "blue"}
    row = ManifestItem(1, "k", {"media_properties": {"source_sid": "RE" + "0" * 32}}, metadata=metadata)
    with Journal(path, batch={"manifest": "m"}) as journal:
        journal.add_items([row])
        item = journal.get("k")
    assert item is not None
    assert item.metadata["team"] == "blue"
    assert "m3tas3cret" not in json.dumps(item.metadata)
    assert b"m3tas3cret" not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
