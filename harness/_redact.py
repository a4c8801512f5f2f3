"""Keeping credentials out of everything the harness writes.

Pre-signed media URLs carry their signature in the query string (S3's `X-Amz-Signature`, GCS's `X-Goog-Signature`
or `Signature`, Azure's `sig`): the query *is* a credential, and so is a URL's `user:password@`. `scrub_text()` is
the one function every boundary where text leaves the process (journal, results, rejects, summary, logs, error
messages) passes text through. In any text it

- drops the query and the fragment of every URL (`?<redacted>`, `#<redacted>`) and the userinfo (`user:pw@`), however
  the URL is spelled: any scheme in any case (`HTTPS://`), JSON-escaped slashes (`https:\\/\\/`), percent-encoded
  once or more (`https%3A%2F%2F…%3F…`), no scheme at all (`bucket.s3.amazonaws.com/a.wav?…`), a path with spaces
  (`https://b.example/my call.wav?…`), inside quotes, brackets, JSON or a `repr()`;
- as a backstop, replaces the value of every well-known credential parameter wherever it appears, URL or not
  (`X-Amz-Signature=<redacted>`, also with `=` spelled `%3D`), and the credentials of an `Authorization:` header.

Scheme, host and path stay readable, so a user still recognises the recording:
`https://bucket.s3.amazonaws.com/calls/0001.wav?<redacted>`. Text without URLs or credential parameters comes back
unchanged, scrubbing twice changes nothing more, and the cost is linear in the text. It never raises.

`ScrubbingFilter` applies the same to log records (message, exception text, stack, string extras).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

REDACTED = "<redacted>"

# Where a URL's authority begins: after `://` in any spelling (plain, JSON-escaped, percent-encoded any number of
# times, mixed), or a bare host name with a dot and a letter TLD followed by a path or a query (no scheme given).
_START = re.compile(
    r"(?<=[A-Za-z0-9+.\-])(?P<colon>:|%(?:25)*3[Aa])(?P<s1>\\*/|%(?:25)*2[Ff])(?P<s2>\\*/|%(?:25)*2[Ff])"
    r"|(?<![A-Za-z0-9.-])(?P<host>(?:[A-Za-z0-9-]++\.)+[A-Za-z]{2,63}(?:(?P<port>:|%(?:25)*3[Aa])[0-9]{1,5})?)"
    r"(?=\\*/|\?|(?P<hostsep>%(?:25)*(?:2[Ff]|3[Ff])))"
)
_PERCENT = re.compile(r"%(?:25)*")
_WHITESPACE = re.compile(r"\s")
# A query or fragment runs to whitespace, a quote, an angle bracket or a backslash that is not an escape a URL can
# hold (`\/` in JSON, `\u0026`, `\xe9` in a repr); closing punctuation at its end is left in place.
_ESCAPE = r"\\++(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|U[0-9A-Fa-f]{8})"  # a character escaped by JSON or repr()
_BODY = re.compile(rf"(?:\\++/|{_ESCAPE}|[^\s\"'<>`\\])*")
_TRAILING = ".,;:!?)]}"

# The backstop: well-known credential parameters, wherever they are (case-insensitive, `=` plain or encoded).
_CREDENTIAL_PARAMETERS = (
    "x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|x-goog-security-token"
    "|signature|sig|awsaccesskeyid|googleaccessid|token|access_token|id_token|refresh_token|auth_token|authtoken"
    "|security_token|sessiontoken|password|passwd|pwd|secret|client_secret|api_key|apikey|api-key|private_token"
)
_CREDENTIAL_PARAMETER = re.compile(
    rf"(?<![A-Za-z0-9_-])(?:{_CREDENTIAL_PARAMETERS})(?:=|%(?:25)*3[Dd]|\\u003[Dd])"
    r"(?P<value>(?:\\++/|\\++(?:u(?!0026)[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2})|(?!%(?:25)*26)[^\s&\"'<>`#\\])+)",
    re.IGNORECASE,
)
_AUTHORIZATION = re.compile(
    r"(?<![A-Za-z0-9_-])(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|digest|token)\s+)?+"
    r"(?P<value>[^\s\"'<>,;}\\]+)",
    re.IGNORECASE,
)
# Cheap test: can this text hold anything to scrub at all?
_MAYBE = re.compile(
    r":[\\/%]|%(?:25)*3a|\.[a-z]{2,63}(?:(?::|%(?:25)*3a)[0-9]+)?(?:\\*/|\?|%(?:25)*[23]f)|=|%(?:25)*3d|\\u003d|authorization",
    re.IGNORECASE,
)


class _Level:
    """The delimiters of a URL spelled plainly (prefix None) or percent-encoded with `prefix` (`%`, `%25`, …)."""

    def __init__(self, prefix: str | None) -> None:
        def either(plain: str, hex_code: str) -> str:
            return plain if prefix is None else f"(?:{plain}|{re.escape(prefix)}{hex_code})"

        slash, query, fragment = either(r"\\*/", "2[Ff]"), either(r"\?", "3[Ff]"), either("#", "23")
        self.prefix = prefix
        self.slash = re.compile(slash)
        self.query = re.compile(query)
        self.fragment = re.compile(fragment)
        self.at = re.compile(either("@", "40"))
        self.authority = re.compile(rf"(?:(?!{slash}|{query}|{fragment})(?:[^/\\?#\s\"'<>`]|{_ESCAPE}))*")
        # From a path: the first query or fragment delimiter, or what ends a URL even with spaces in its path.
        self.path_end = re.compile(rf"(?P<query>{query})|(?P<fragment>{fragment})|[\r\n\"<>`]")


@lru_cache(maxsize=16)
def _level(prefix: str | None) -> _Level:
    return _Level(prefix)


class _NextMatch:
    """`pattern.search(text, pos)` for increasing `pos`, reusing the previous answer while it is still the answer."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.text, self.pattern = text, pattern
        self.start, self.end = -1, -1  # the last search began at `start` and found nothing before `end`
        self.match: re.Match[str] | None = None

    def search(self, pos: int) -> re.Match[str] | None:
        if not (self.start <= pos <= self.end):
            self.start = pos
            self.match = self.pattern.search(self.text, pos)
            self.end = self.match.start() if self.match else len(self.text)
        return self.match


def scrub_text(text: str) -> str:
    """`text` with every URL's query, fragment and userinfo, and every credential parameter's value, removed."""
    try:
        if not _MAYBE.search(text):
            return text
        return _apply(text, _edits(text))
    except Exception:  # scrubbing must never be why an error goes unreported; hide it all instead
        return REDACTED


def scrub_url(url: str) -> str:
    """`https://bucket.s3.amazonaws.com/a.wav?X-Amz-Signature=…` → `https://bucket.s3.amazonaws.com/a.wav?<redacted>`.

    `scrub_text()` applied to one URL: scheme, host, port and path kept; query, fragment and userinfo dropped.
    """
    return scrub_text(url)


def _edits(text: str) -> list[tuple[int, int, str]]:
    """The spans to replace: (start, end, replacement)."""
    edits: list[tuple[int, int, str]] = []
    path_ends: dict[str | None, _NextMatch] = {}
    whitespace = _NextMatch(text, _WHITESPACE)
    pos = 0
    while (start := _START.search(text, pos)) is not None:
        pos = start.end()
        if start.group("host") is not None:
            encoded = [g for g in start.group("port", "hostsep") if g and g.startswith("%")]
            authority_start = start.start()
        else:
            encoded = [g for g in start.group("colon", "s1", "s2") if g.startswith("%")]
            authority_start = start.end()
        percent = _PERCENT.match(encoded[0]) if encoded else None
        level = _level(percent.group() if percent else None)
        authority = level.authority.match(text, authority_start)
        assert authority is not None  # it matches the empty string
        userinfo_end = max((at.end() for at in level.at.finditer(authority.group())), default=0)
        if userinfo_end:
            edits.append((authority_start, authority_start + userinfo_end, ""))
        at = authority.end()
        delimiter = level.query.match(text, at) or level.fragment.match(text, at)
        if delimiter is None and level.slash.match(text, at):
            finder = path_ends.get(level.prefix)
            if finder is None:
                finder = path_ends[level.prefix] = _NextMatch(text, level.path_end)
            found = finder.search(at)
            if found is not None and found.group("query") is not None:
                delimiter = found
            elif found is not None and found.group("fragment") is not None:
                blank = whitespace.search(at)  # `#` after a space is prose ("issue #7"), not a fragment
                if blank is None or blank.start() > found.start():
                    delimiter = found
        if delimiter is None:
            continue
        body = _BODY.match(text, delimiter.end())
        assert body is not None
        end = body.end()
        while end > delimiter.end() and text[end - 1] in _TRAILING:
            end -= 1
        if end > delimiter.end():
            edits.append((delimiter.end(), end, REDACTED))
            pos = max(pos, end)
    for pattern in (_CREDENTIAL_PARAMETER, _AUTHORIZATION):
        for found in pattern.finditer(text):
            begin, end = found.span("value")
            while end > begin and text[end - 1] in _TRAILING:
                end -= 1
            if end > begin:
                edits.append((begin, end, REDACTED))
    return edits


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace the spans; overlapping ones merge, and a merged span hides behind `<redacted>` if any part did."""
    if not edits:
        return text
    edits.sort()
    out: list[str] = []
    done = 0
    begin, end, replacement = edits[0]
    for b, e, r in edits[1:]:
        if b < end:
            end = max(end, e)
            replacement = replacement or r
            continue
        out += (text[done:begin], replacement)
        done, (begin, end, replacement) = end, (b, e, r)
    out += (text[done:begin], replacement, text[end:])
    return "".join(out)


# LogRecord's own attributes; any other string attribute came from `extra=` and is scrubbed too.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ScrubbingFilter(logging.Filter):
    """Scrubs every record a handler emits: the formatted message (`msg % args`), exception text, stack, extras.

    Install it on each *handler* (`handler.addFilter(ScrubbingFilter())`): a logger's own filters never see
    records propagated from its children. The record is changed in place — `msg` becomes the scrubbed message,
    `args` None, `exc_text` the scrubbed traceback and `exc_info` None — so every later handler and formatter
    sees only scrubbed text. It never drops a record and never raises.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            _scrub_record(record)
        except Exception:  # a record that cannot be scrubbed is still worth its level and place
            record.msg, record.args, record.exc_info, record.exc_text = REDACTED, None, None, None
        return True


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # bad %-arguments: keep what there is, as logging itself would not
        message = f"{record.msg!s} {record.args!r}"
    record.msg, record.args = scrub_text(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    record.exc_info = None
    if record.exc_text:
        record.exc_text = scrub_text(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub_text(record.stack_info)
    for name, value in list(vars(record).items()):
        if isinstance(value, str) and name not in _RECORD_ATTRIBUTES:
            setattr(record, name, scrub_text(value))
