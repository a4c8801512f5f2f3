"""Reading a manifest's bytes as lines: universal newlines, strict UTF-8 with the exact offset of a bad byte, a
leading byte-order mark skipped (`_manifest` builds rows on it)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import IO


class Undecodable(Exception):
    """A byte that is not UTF-8: the line it is on, and its offset from the start of the file."""

    def __init__(self, line: int, offset: int, byte: int) -> None:
        super().__init__(line, offset, byte)
        self.line, self.offset, self.byte = line, offset, byte
        self.row: int | None = line  # JSONL: the line; CSV: the record, set by the reader (None: the header)


_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


class Lines:
    """The file's lines as text (universal newlines, ends kept), decoded strictly, a leading BOM skipped.

    `number` is the current line's number and `offset` the byte offset of the next line; a byte that is not UTF-8
    raises `Undecodable` with its exact offset in the file.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.number = 0
        self.offset = 0
        self.bom = False

    def __iter__(self) -> Iterator[str]:
        first = True
        for chunk in self.handle:
            if first:
                first = False
                if chunk.startswith(codecs.BOM_UTF8):
                    self.bom, self.offset, chunk = True, len(codecs.BOM_UTF8), chunk[len(codecs.BOM_UTF8) :]
            for piece in _LONE_CR.split(chunk) if b"\r" in chunk else (chunk,):
                if not piece:
                    continue
                self.number += 1
                try:
                    text = piece.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise Undecodable(self.number, self.offset + exc.start, piece[exc.start]) from None
                self.offset += len(piece)
                yield text
