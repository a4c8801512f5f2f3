"""The batch's output directory: one batch per directory, private files, and results that a crash cannot duplicate.

What is written (all `0600`, the directories `0700`: results hold conversation text — PHI for a clinic's calls):
- `items/<name>.json`: one file per finished item (sentences, operator results…), written *before* the journal
  records the item as finished, by atomic replace — a crash in between rewrites the same file on resume.
  `<name>` is the CustomerKey percent-encoded (`x/1` → `x%2F1`, `x?1` → `x%3F1`), so two keys never share a file.
- `results.jsonl`, `summary.json`: derived from the journal at the end of every run (atomic replace), so they
  hold exactly one line per finished item however often the run was interrupted.
- `rejects.jsonl`: the manifest rows refused at load (rewritten by every run: the manifest cannot change).
- `.cintel-batch`: the journal's batch id; a directory that holds another batch's results is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness._errors import CintelError
from harness._journal import Journal
from harness._private import PRIVATE_DIR, PRIVATE_FILE
from harness._redact import scrub_text

MARKER = ".cintel-batch"


class OutputDirError(CintelError):
    """The output directory cannot be used: it belongs to another batch, or cannot be created or written."""


def item_filename(customer_key: str) -> str:
    """A file name that is a one-to-one function of the key: everything but `[A-Za-z0-9_-]` is percent-encoded.

    `.` is encoded too, so no key becomes `.`/`..` or a hidden file. A key whose encoding is longer than 200 bytes
    (64 non-ASCII characters encode to up to 768) keeps its first 150 bytes and gains `~` and 16 hex digits of its
    SHA-256, so the name stays under the 255 bytes file systems allow and distinct keys keep distinct names.
    """
    raw = customer_key.encode("utf-8", "surrogatepass")  # a JSON manifest may hold a lone surrogate
    encoded = quote(raw, safe="-_").replace(".", "%2E")
    if len(encoded) > 200:
        head = re.sub(r"%[0-9A-F]?$", "", encoded[:150])  # never cut an escape in half
        encoded = f"{head}~{hashlib.sha256(raw).hexdigest()[:16]}"
    return encoded + ".json"


def prepare(out: Path, batch_id: str) -> None:
    """Create `out` (0700) for this batch, or accept it if it already holds this batch; refuse anything else."""
    try:
        out.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        (out / "items").mkdir(mode=PRIVATE_DIR, exist_ok=True)
        marker = out / MARKER
        if not marker.exists():
            others = sorted(p.name for p in out.iterdir() if p.name != "items")
            if others or any((out / "items").iterdir()):
                raise OutputDirError(
                    f"{out} is not empty and does not belong to this batch ({', '.join(others[:5]) or 'items/…'});"
                    " choose another --out"
                )
            _claim(marker, batch_id)
        owner = marker.read_text(encoding="utf-8").strip()
        if owner != batch_id:
            raise OutputDirError(
                f"{out} holds the results of another batch (batch id {owner}, this one is {batch_id}); "
                "choose another --out, or delete that directory if its batch is finished with"
            )
    except OSError as exc:
        raise OutputDirError(f"{out}: cannot use as the output directory: {exc.strerror or exc}") from None


def _claim(marker: Path, batch_id: str) -> None:
    """Create the marker only if it does not exist (O_EXCL): of two batches starting on one empty directory at
    once, exactly one claims it; the other then reads the winner's id and is refused."""
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(batch_id + "\n")


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` by atomic replace, the file `0600` whatever the umask."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, PRIVATE_FILE)  # O_CREAT's mode only applies to a new file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_lines(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """JSON lines by atomic replace; returns how many."""
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    write_private(path, "".join(line + "\n" for line in lines))
    return len(lines)


def write_item(out: Path, customer_key: str, record: dict[str, Any]) -> None:
    write_private(out / "items" / item_filename(customer_key), json.dumps(record, indent=1, ensure_ascii=False))


def result_line(item: Any, out: Path | None = None) -> dict[str, Any]:
    """One `results.jsonl` line from a journal item: what the journal knows, scrubbed, and its items/ file."""
    line: dict[str, Any] = {
        "row": item.row,
        "customer_key": item.customer_key,
        "state": item.state,
        "transcript_sid": item.transcript_sid,
        "status": item.status,
        "metadata": item.metadata,
    }
    if item.state == "failed":
        line["error"] = scrub_text(item.last_error or item.status or "failed")
    name = item_filename(item.customer_key)
    if item.state == "completed" or (out is not None and (out / "items" / name).exists()):
        line["item_file"] = f"items/{name}"
    return line


def write_results(out: Path, journal: Journal) -> int:
    """`results.jsonl`: one line per finished (completed or failed) item, from the journal, in manifest order."""
    return write_lines(out / "results.jsonl", (result_line(i, out) for i in journal.items("completed", "failed")))
