"""Manifest input (issue 7): a BOM is accepted, a bad byte is found with its row and exact offset before anything is
journaled, a misspelt column is an error naming both names and the row, and nothing a reject says leaks a secret."""

from __future__ import annotations

import codecs
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from harness._columns import KNOWN, edit_distance, misspelled_column
from harness._manifest import ManifestError, ManifestItem, ManifestScan, Reject, read_manifest, scan_manifest

REC = "RE" + "a" * 32
BOM = codecs.BOM_UTF8


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


# --- BOM ------------------------------------------------------------------------------------------------------------


def test_a_bom_is_accepted_in_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "b.jsonl", BOM + jsonl([{"media_url": "https://x.example/1.wav", "customer_key": "c1"}]))
    (item,) = read_manifest(path)
    assert isinstance(item, ManifestItem)
    assert item.customer_key == "c1"
    scan = scan_manifest(path)
    assert scan.bom
    assert scan.rows == 1
    assert scan.size == path.stat().st_size


def test_a_bom_is_accepted_in_csv_and_the_first_column_keeps_its_name(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8": without this, the key column was '\\ufeffcustomer_key', kept as metadata, keys generated."""
    path = write(tmp_path, "b.csv", BOM + b"customer_key,media_url,team\nc1,https://x.example/1.wav,blue\n")
    (item,) = read_manifest(path)
    assert isinstance(item, ManifestItem)
    assert (item.customer_key, item.key_generated, item.metadata) == ("c1", False, {"team": "blue"})
    assert scan_manifest(path).unknown_columns == ["team"]


# --- encoding errors: row and exact byte offset, found by the scan before anything is journaled ---------------------


def test_a_bad_byte_deep_in_the_file_is_reported_with_its_row_and_offset_in_the_file(tmp_path: Path) -> None:
    """The issue's case: "at byte 2002" for a byte at 329,682, after 2,000 rows had been journaled."""
    rows = jsonl([{"media_url": f"https://x.example/calls/{i:06d}.wav", "customer_key": f"k{i}",
                   "notes": "x" * 100} for i in range(2000)])  # fmt: skip
    bad_row = b'{"media_url": "https://x.example/caf\xe9.wav"}\n'
    content = rows + bad_row
    offset = len(rows) + bad_row.index(b"\xe9")
    path = write(tmp_path, "big.jsonl", content)
    with pytest.raises(ManifestError) as scanned:
        scan_manifest(path)
    message = str(scanned.value)
    assert f"byte offset {offset} " in message
    assert "row 2001" in message
    assert "0xe9" in message
    assert str(path) in message
    with pytest.raises(ManifestError) as read:
        list(read_manifest(path))
    assert str(read.value) == message


def test_the_scan_finds_a_bad_byte_that_reading_meets_only_after_the_good_rows(tmp_path: Path) -> None:
    content = jsonl([{"media_url": f"https://x.example/{i}.wav"} for i in range(50)]) + b'{"media_url": "\xff"}\n'
    path = write(tmp_path, "b.jsonl", content)
    with pytest.raises(ManifestError, match="row 51"):
        scan_manifest(path)  # the CLI's pre-pass: nothing read yet, nothing journaled
    reader = read_manifest(path)
    assert all(isinstance(next(reader), ManifestItem) for _ in range(50))  # what a runner would have journaled
    with pytest.raises(ManifestError, match="row 51"):
        next(reader)


def test_a_bad_byte_in_a_csv_names_the_record_and_the_line(tmp_path: Path) -> None:
    content = (
        b'media_url,customer_key,notes\nhttps://x.example/1.wav,c1,"two\nlines"\nhttps://x.example/2.wav,c2,caf\xe9\n'
    )
    path = write(tmp_path, "b.csv", BOM + content)
    with pytest.raises(ManifestError) as caught:
        scan_manifest(path)
    offset = len(BOM) + content.index(b"\xe9")
    assert f"byte offset {offset} " in str(caught.value)
    assert "row 2 (line 4)" in str(caught.value)


def test_a_bad_byte_in_a_csv_header_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", b"media_url,caf\xe9\nhttps://x.example/1.wav,1\n")
    with pytest.raises(ManifestError, match=r"byte offset 13 of the file, in the header \(line 1\)"):
        scan_manifest(path)


def test_utf16_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "media_url\nhttps://x.example/1.wav\n".encode("utf-16"))
    with pytest.raises(ManifestError, match="UTF-16"):
        scan_manifest(path)


CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])
LINE = st.fixed_dictionaries(
    {"media_url": st.text(CHARS, max_size=12).map(lambda s: "https://x.example/" + s)},
    optional={"notes": st.text(CHARS, max_size=12)},
)


def line_of(before: bytes) -> int:
    """The line of the byte after `before`: `\\n`, `\\r\\n` and a lone `\\r` end lines (a bad byte may split a CRLF)."""
    return len(re.findall(rb"\r\n|\r|\n", before)) + 1


INVALID = st.sampled_from(
    [b"\xff", b"\xfe", b"\xc0", b"\xc1", b"\x80", b"\xbf", b"\xf5", b"\xc3", b"\xe2\x82", b"\xf0"]
)


@given(
    rows=st.lists(LINE, min_size=1, max_size=30),
    where=st.data(),
    bad=INVALID,
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    ensure_ascii=st.booleans(),
)
def test_the_reported_row_and_offset_of_a_bad_byte_are_exact_in_jsonl(
    rows: list[dict[str, str]], where: st.DataObject, bad: bytes, bom: bool, newline: str, ensure_ascii: bool
) -> None:
    text = "".join(json.dumps(r, ensure_ascii=ensure_ascii) + newline for r in rows)
    body = text.encode()
    # a character boundary to put the bad byte(s) at
    boundaries = [len(text[:i].encode()) for i in range(len(text) + 1)]
    at = where.draw(st.sampled_from(boundaries))
    content = (BOM if bom else b"") + body[:at] + bad + body[at:]
    offset = (len(BOM) if bom else 0) + at
    row = line_of(body[:at])
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "b.jsonl", content)
        with pytest.raises(ManifestError) as caught:
            scan_manifest(path)
        with pytest.raises(ManifestError) as read:
            list(read_manifest(path))
    assert f"byte 0x{bad[0]:02x} at byte offset {offset} of the file, in row {row};" in str(caught.value)
    assert str(read.value) == str(caught.value)


@given(
    cells=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"],
                                         exclude_characters='",\r\n'), max_size=8), min_size=1, max_size=20),
    where=st.data(),
    bad=INVALID,
)  # fmt: skip
def test_the_reported_row_and_offset_of_a_bad_byte_are_exact_in_csv(
    cells: list[str], where: st.DataObject, bad: bytes
) -> None:
    header = "media_url,notes\r\n"
    text = header + "".join(f"https://x.example/{i}.wav,{c}\r\n" for i, c in enumerate(cells))
    body = text.encode()
    at = where.draw(st.sampled_from([len(text[:i].encode()) for i in range(len(header), len(text) + 1)]))
    content = body[:at] + bad + body[at:]
    record = line_of(body[:at]) - 1  # the header is line 1, record 1 is line 2
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "b.csv", content)
        with pytest.raises(ManifestError) as caught:
            scan_manifest(path)
    assert f"at byte offset {at} of the file, in row {record} (line {record + 1});" in str(caught.value)


def test_line_endings_number_rows_alike_in_scan_and_read(tmp_path: Path) -> None:
    rows = [json.dumps({"media_url": f"https://x.example/{i}.wav"}) for i in range(3)]
    path = write(tmp_path, "b.jsonl", (rows[0] + "\r\n" + rows[1] + "\r" + rows[2] + "\n").encode())
    assert [o.row for o in read_manifest(path)] == [1, 2, 3]
    assert scan_manifest(path).rows == 3


# --- misspelt columns -------------------------------------------------------------------------------------------------

TYPOS = {
    "customer_kye": "customer_key",
    "participant": "participants",
    "media_ur1": "media_url",
    "Media_URL": "media_url",
    "mediaurl": "media_url",
    "MediaUrl": "media_url",
    "CustomerKey": "customer_key",
    "source-sid": "source_sid",
    "SourceSid": "source_sid",
    "media_start_tiem": "media_start_time",
    "MediaStartTime": "media_start_time",
    "participents": "participants",
    "customer key": "customer_key",
    "media_urls": "media_url",
}
METADATA = [
    "team", "queue", "agent", "agent_id", "region", "campaign", "language", "duration", "notes", "call_id", "call_sid",
    "customer", "customer_id", "customer_name", "media", "media_type", "media_id", "source", "start_time", "url",
    "participants_count", "recording_url", "key", "sid", "room", "room_name", "track_count",
]  # fmt: skip


@pytest.mark.parametrize(("typo", "known"), TYPOS.items())
def test_a_misspelt_jsonl_key_is_an_error_naming_both_and_the_row(tmp_path: Path, typo: str, known: str) -> None:
    rows = [{"media_url": f"https://x.example/{i}.wav", "team": "blue"} for i in range(6)]
    rows.append({"media_url": "https://x.example/7.wav", typo: "[]" if known == "participants" else "v"})
    path = write(tmp_path, "b.jsonl", jsonl(rows))
    with pytest.raises(ManifestError) as caught:
        scan_manifest(path)
    assert f"row 7: column {typo!r} looks like a misspelling of {known!r}; rename it (or prefix it with 'x_'" in str(
        caught.value
    )
    with pytest.raises(ManifestError, match="row 7"):
        list(read_manifest(path))


@pytest.mark.parametrize(("typo", "known"), TYPOS.items())
def test_a_misspelt_csv_column_is_an_error_naming_both(tmp_path: Path, typo: str, known: str) -> None:
    media = "source_sid" if known == "media_url" else "media_url"
    value = REC if media == "source_sid" else "https://x.example/1.wav"
    path = write(tmp_path, "b.csv", f'{media},"{typo}"\n{value},v\n'.encode())
    with pytest.raises(ManifestError) as caught:
        scan_manifest(path)
    assert f"the header: column {typo!r} looks like a misspelling of {known!r}" in str(caught.value)
    with pytest.raises(ManifestError, match="looks like a misspelling"):
        list(read_manifest(path))


def test_every_misspelling_is_reported_at_once_with_its_first_row(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"media_url": "https://x.example/1.wav", "customer_kye": "a"},
        {"media_url": "https://x.example/2.wav", "customer_kye": "b", "participant": []},
    ]
    with pytest.raises(ManifestError) as caught:
        scan_manifest(write(tmp_path, "b.jsonl", jsonl(rows)))
    message = str(caught.value)
    assert "row 1: column 'customer_kye'" in message
    assert "row 2: column 'participant'" in message
    assert message.count("customer_kye") == 1
    assert "rename them (or prefix them with 'x_' or 'meta_' to keep them as metadata)" in message


@pytest.mark.parametrize("name", METADATA)
def test_ordinary_metadata_columns_are_not_taken_for_misspellings(name: str) -> None:
    assert misspelled_column(name) is None


@pytest.mark.parametrize("name", ["x_customer_kye", "meta_participant", "X_Media_URL", "META-source-sid", "x-mediaurl"])
def test_the_escape_hatch_keeps_a_close_name_as_metadata(tmp_path: Path, name: str) -> None:
    assert misspelled_column(name) is None
    path = write(tmp_path, "b.jsonl", jsonl([{"media_url": "https://x.example/1.wav", name: "v"}]))
    assert scan_manifest(path).unknown_columns == [name]
    (item,) = read_manifest(path)
    assert isinstance(item, ManifestItem)
    assert item.metadata == {name: "v"}


def test_unknown_columns_are_listed_once_and_sorted(tmp_path: Path) -> None:
    rows = [
        {"media_url": "https://x.example/1.wav", "team": "a", "agent": "b"},
        {"source_sid": REC, "team": "c", "queue": "d"},
        "not json",
        {"media_url": "https://x.example/3.wav", "agent": "e"},
    ]
    content = b"".join((r if isinstance(r, str) else json.dumps(r)).encode() + b"\n" for r in rows)
    scan = scan_manifest(write(tmp_path, "b.jsonl", content))
    assert scan == ManifestScan(
        tmp_path / "b.jsonl", "jsonl", rows=4, unknown_columns=["agent", "queue", "team"], size=len(content)
    )
    csv_path = write(tmp_path, "b.csv", b"media_url,team,customer_key,agent\nhttps://x.example/1.wav,a,k,b\n")
    assert scan_manifest(csv_path).unknown_columns == ["agent", "team"]


NAME = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20) | st.sampled_from(
    sorted(KNOWN) + list(TYPOS) + METADATA
)


@given(a=st.text(max_size=12), b=st.text(max_size=12), limit=st.none() | st.integers(0, 3))
def test_the_edit_distance_is_symmetric_and_a_true_distance(a: str, b: str, limit: int | None) -> None:
    assert edit_distance(a, b, limit) == edit_distance(b, a, limit)
    full = edit_distance(a, b)
    assert edit_distance(a, b, limit) == (full if limit is None else min(full, limit + 1))
    assert (full == 0) == (a == b)
    assert abs(len(a) - len(b)) <= full <= max(len(a), len(b))


def _variants(name: str) -> list[str]:
    return [name.upper(), name.lower(), name.replace("_", "-"), name.replace("_", ""), name.title().replace("_", "")]


@given(name=NAME)
def test_misspelling_detection_is_consistent_across_case_and_separators(name: str) -> None:
    verdict = misspelled_column(name)
    assert verdict is None or verdict in KNOWN
    if name in KNOWN:
        assert verdict is None
    if verdict is not None:
        folded = "".join(c for c in name.casefold() if c.isalnum())
        assert edit_distance(folded, verdict.replace("_", ""), 2) <= 2
        for variant in _variants(name):
            if variant not in KNOWN and not variant.casefold().startswith(("x_", "x-", "meta_", "meta-")):
                assert misspelled_column(variant) == verdict, variant


@given(
    known=st.sampled_from(sorted(KNOWN)),
    edit=st.sampled_from(["insert", "delete", "substitute", "swap"]),
    where=st.data(),
    char=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"),
)
def test_one_edit_of_a_known_column_is_always_caught(known: str, edit: str, where: st.DataObject, char: str) -> None:
    i = where.draw(st.integers(0, len(known) - 2))
    if edit == "insert":
        name = known[:i] + char + known[i:]
    elif edit == "delete":
        name = known[:i] + known[i + 1 :]
    elif edit == "substitute":
        name = known[:i] + char + known[i + 1 :]
    else:
        name = known[:i] + known[i + 1] + known[i] + known[i + 2 :]
    assume(name not in KNOWN)
    assert misspelled_column(name) == known


@given(name=NAME)
def test_csv_headers_and_jsonl_keys_get_the_same_verdict(name: str) -> None:
    assume(name not in KNOWN and name.strip() == name and all(c.isprintable() for c in name))
    expected = misspelled_column(name)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl_path = write(Path(tmp), "b.jsonl", jsonl([{"media_url": "https://x.example/1.wav", name: "v"}]))
        csv_path = write(
            Path(tmp), "b.csv", ('media_url,"' + name.replace('"', '""') + '"\nhttps://x/1.wav,v\n').encode()
        )
        for path in (jsonl_path, csv_path):
            if expected is None:
                assert scan_manifest(path).unknown_columns == [name]
            else:
                with pytest.raises(ManifestError, match="looks like a misspelling of"):
                    scan_manifest(path)


# --- file-level problems, reasons scrubbed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("batch.txt", b"{}", "unknown manifest format"),
        ("batch.csv", b"customer_key,team\nk,blue\n", "media_url or source_sid column"),
        ("batch.csv", b"", "empty"),
        ("batch.jsonl", b'{"media_url": "https://x/\xff.wav"}\n', "not UTF-8"),
    ],
)
def test_the_scan_refuses_a_bad_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(ManifestError) as caught:
        scan_manifest(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_the_scan_refuses_a_missing_file_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"nope\.jsonl: cannot open"):
        scan_manifest(tmp_path / "nope.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(ManifestError, match=r"dir\.jsonl: cannot open"):
        scan_manifest(tmp_path / "dir.jsonl")


SECRET = "Zq9SECRETx7Kw"
SIGNED = f"HTTPS://b.example/my call.wav?X-Amz-Signature={SECRET}"


@pytest.mark.parametrize(
    "row",
    [
        {"source_sid": SIGNED},
        {"media_url": "https://x.example/a.wav", "media_start_time": f"2024 {SIGNED}"},
        {"media_url": "https://x.example/a.wav", "participants": [{"channel_participant": 1, f"x {SIGNED}": 1}]},
        {"media_url": "https://x.example/a.wav", "customer_key": f"token={SECRET}"},
        {"media_url": f"ftp://u:{SECRET}@x.example/a.wav"},
    ],
)
def test_no_reject_reason_or_excerpt_carries_a_secret(tmp_path: Path, row: dict[str, Any]) -> None:
    first = {"media_url": "https://x.example/0.wav", "customer_key": row.get("customer_key", "k0")}
    path = write(tmp_path, "b.jsonl", jsonl([first, row]))
    reject = list(read_manifest(path))[-1]
    assert isinstance(reject, Reject)
    assert SECRET not in reject.reason
    assert SECRET not in reject.excerpt
