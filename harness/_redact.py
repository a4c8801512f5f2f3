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
import string
from functools import lru_cache

REDACTED = "<redacted>"

# Where a URL's authority begins: after `://` in any spelling (plain, JSON-escaped, percent-encoded any number of
# times, mixed) that follows a scheme character, or at a bare host name whose last label is letters and that is
# followed by a path or a query (no scheme given: `bucket.s3.amazonaws.com/a.wav?…`). Both patterns start with a
# rare character, so finding them costs little; the scheme or the host is found by looking back.
_SEPARATOR = re.compile(r"(?P<colon>:|%(?:25)*3[Aa])(?P<s1>\\*/|%(?:25)*2[Ff])(?P<s2>\\*/|%(?:25)*2[Ff])")
_SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+.-")
_HOST_END = re.compile(
    r"\.[A-Za-z]{2,63}(?:(?P<port>:|%(?:25)*3[Aa])[0-9]{1,5})?(?=\\*/|\?|(?P<hostsep>%(?:25)*(?:2[Ff]|3[Ff])))"
)
_HOST_RUN = re.compile(r"[A-Za-z0-9.-]{0,256}")  # matched backwards, from a host's end
_PERCENT = re.compile(r"%(?:25)*")
_WHITESPACE = re.compile(r"\s")
# A query or fragment runs to whitespace, a quote, an angle bracket or a backslash that is not an escape a URL can
# hold (`\/` in JSON, `\u0026`, `\xe9` in a repr); closing punctuation at its end is left in place.
_ESCAPE = r"\\++(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|U[0-9A-Fa-f]{8})"  # a character escaped by JSON or repr()
_BODY = re.compile(rf"(?:[^\s\"'<>`\\]++|\\++/|{_ESCAPE})*")
_TRAILING = ".,;:!?)]}"

# The backstop: well-known credential parameters, wherever they are (case-insensitive, `=` plain or encoded). Found
# from the `=`: the name before it is looked up.
_CREDENTIAL_PARAMETERS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token",  # S3 (SigV4) pre-signed URLs
    "x-goog-signature", "x-goog-credential", "x-goog-security-token", "googleaccessid",  # GCS signed URLs
    "signature", "awsaccesskeyid",  # S3 SigV2, GCS v2, CloudFront
    "sig",  # Azure SAS
    "token", "access_token", "id_token", "refresh_token", "auth_token", "authtoken", "security_token", "sessiontoken",
    "password", "passwd", "pwd", "secret", "client_secret", "api_key", "apikey", "api-key", "private_token",
})  # fmt: skip
_LONGEST_NAME = max(map(len, _CREDENTIAL_PARAMETERS))
_NAME_RUN = re.compile(rf"[A-Za-z0-9_-]{{0,{_LONGEST_NAME + 1}}}")  # matched backwards, from the `=`
_EQUALS = re.compile(r"=|%(?:25)*3[Dd]|\\u003[Dd]")
_VALUE = re.compile(r"(?:[^\s&\"'<>`#\\%]++|(?!%(?:25)*26)%|\\++/|\\++(?:u(?!0026)[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}))+")
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
        if prefix is None:
            self.authority = re.compile(rf"(?:[^/\\?#\s\"'<>`]++|{_ESCAPE})*")
        else:  # a `%` may begin an encoded `/`, `?` or `#`
            delimiters = f"{re.escape(prefix)}(?:2[Ff]|3[Ff]|23)"
            self.authority = re.compile(rf"(?:[^/\\?#\s\"'<>`%]++|(?!{delimiters})%|{_ESCAPE})*")
        # From a path: the first query or fragment delimiter, or what ends a URL even with spaces in its path.
        if prefix is None:
            self.path_end = re.compile(r"[?#\r\n\"<>`]")
        else:
            self.path_end = re.compile(rf"{query}|{fragment}|[\r\n\"<>`]")


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
        return _apply(text, _Scrubber(text).edits())
    except Exception:  # scrubbing must never be why an error goes unreported: hide it all instead
        return REDACTED


def scrub_url(url: str) -> str:
    """`https://bucket.s3.amazonaws.com/a.wav?X-Amz-Signature=…` → `https://bucket.s3.amazonaws.com/a.wav?<redacted>`.

    `scrub_text()` applied to one URL: scheme, host, port and path kept; query, fragment and userinfo dropped.
    """
    return scrub_text(url)


def _prefix(encoded: str | None) -> str | None:
    """`%3A` → `%`, `%253A` → `%25`: how many times a URL was percent-encoded; None if it was not."""
    if encoded is None:
        return None
    found = _PERCENT.match(encoded)
    return found.group() if found else None


class _Scrubber:
    """One pass over a text, collecting the spans to replace as (start, end, replacement)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: list[tuple[int, int, str]] = []
        self.path_ends: dict[str | None, _NextMatch] = {}
        self.whitespace = _NextMatch(text, _WHITESPACE)
        self.reversed: str | None = None

    def edits(self) -> list[tuple[int, int, str]]:
        done = 0  # the end of the last query redacted: URLs and parameters inside it go with it
        seen: set[int] = set()  # authorities handled (a URL with a scheme is found from `://` and from its host)
        covered: list[tuple[int, int]] = []  # the queries redacted, in order
        separator, host = self._separator(0), self._host(0)
        while separator is not None or host is not None:
            if host is None or (separator is not None and separator[0] <= host[0]):
                assert separator is not None
                start, authority_start, prefix, resume = separator
                separator = self._separator(resume)
            else:
                start, authority_start, prefix, resume = host
                host = self._host(resume)
            if start < done or authority_start in seen:
                continue
            seen.add(authority_start)
            end = self._url(authority_start, _level(prefix))
            if end:
                covered.append((self.spans[-1][0], end))
                done = end
                if separator is not None and separator[0] < done:
                    separator = self._separator(done)
                if host is not None and host[0] < done:
                    host = self._host(done)
        self._credentials(covered)
        return self.spans

    def _separator(self, pos: int) -> tuple[int, int, str | None, int] | None:
        """The next `://` from `pos` that follows a scheme: (URL start, authority start, prefix, where to go on)."""
        text = self.text
        while (found := _SEPARATOR.search(text, pos)) is not None:
            pos = found.end()
            if found.start() > 0 and text[found.start() - 1] in _SCHEME_CHARS:
                encoded = next((g for g in found.group("colon", "s1", "s2") if g.startswith("%")), None)
                return found.start(), found.end(), _prefix(encoded), found.end()
        return None

    def _host(self, pos: int) -> tuple[int, int, str | None, int] | None:
        """The next bare host from `pos` (its end, `.tld`, is found first and its start by looking back)."""
        while (found := _HOST_END.search(self.text, pos)) is not None:
            pos = found.end()
            begin = found.start() - self._run_before(_HOST_RUN, found.start())
            if begin < found.start():
                encoded = next((g for g in found.group("port", "hostsep") if g and g.startswith("%")), None)
                return begin, begin, _prefix(encoded), found.end()
        return None

    def _url(self, authority_start: int, level: _Level) -> int:
        """Drop the userinfo and redact the query or fragment of the URL whose authority begins there.

        Returns where the redacted query ends (0 if none was).
        """
        text = self.text
        authority = level.authority.match(text, authority_start)
        assert authority is not None  # it matches the empty string
        userinfo_end = max((at.end() for at in level.at.finditer(authority.group())), default=0)
        if userinfo_end:
            self.spans.append((authority_start, authority_start + userinfo_end, ""))
        at = authority.end()
        delimiter = level.query.match(text, at) or level.fragment.match(text, at)
        if delimiter is None and level.slash.match(text, at):
            finder = self.path_ends.get(level.prefix)
            if finder is None:
                finder = self.path_ends[level.prefix] = _NextMatch(text, level.path_end)
            found = finder.search(at)
            if found is not None and level.query.fullmatch(found.group()):
                delimiter = found
            elif found is not None and level.fragment.fullmatch(found.group()):
                blank = self.whitespace.search(at)  # `#` after a space is prose ("issue #7"), not a fragment
                if blank is None or blank.start() > found.start():
                    delimiter = found
        if delimiter is None:
            return 0
        body = _BODY.match(text, delimiter.end())
        assert body is not None
        return self._redact(delimiter.end(), body.end())

    def _credentials(self, covered: list[tuple[int, int]]) -> None:
        """The value of every credential parameter outside the queries already redacted."""
        text = self.text
        pos, k = 0, 0
        while (equals := _EQUALS.search(text, pos)) is not None:
            at = equals.start()
            while k < len(covered) and covered[k][1] <= at:
                k += 1
            if k < len(covered) and covered[k][0] <= at:
                pos = covered[k][1]
                continue
            pos = equals.end()
            name = text[at - self._run_before(_NAME_RUN, at) : at]
            if name.lower() not in _CREDENTIAL_PARAMETERS:  # a longer name than any of them is not either
                continue
            value = _VALUE.match(text, equals.end())
            if value is not None and self._redact(value.start(), value.end()):
                pos = value.end()  # what is in it goes with it
        if "authorization" in text.lower():
            for found in _AUTHORIZATION.finditer(text):
                self._redact(*found.span("value"))

    def _run_before(self, run: re.Pattern[str], end: int) -> int:
        """How many characters before `end` `run` matches, read right to left."""
        if self.reversed is None:
            self.reversed = self.text[::-1]
        found = run.match(self.reversed, len(self.text) - end)
        return found.end() - found.start() if found else 0

    def _redact(self, begin: int, end: int) -> int:
        """Hide text[begin:end], less closing punctuation at its end; returns the end (0 if nothing was left)."""
        while end > begin and self.text[end - 1] in _TRAILING:
            end -= 1
        if end <= begin:
            return 0
        self.spans.append((begin, end, REDACTED))
        return end


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
