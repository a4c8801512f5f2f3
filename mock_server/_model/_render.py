"""Twilio's wire conventions: date format, canonical URLs and list paging.

`url`, `links` and paging `meta` URLs always use the canonical `https://intelligence.twilio.com` base, as the real
service does: twilio-python follows `meta.next_page_url` verbatim and its HTTP client is what rewrites the host to
the mock. PageToken is opaque to clients; here it encodes the position in the collection, so a deep page costs
O(page size), not O(collection).
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any, TypeVar
from urllib.parse import urlencode

from mock_server._errors import invalid_parameter
from mock_server._model._params import Params

BASE = "https://intelligence.twilio.com"
T = TypeVar("T")


# The last second `iso` formatted: under load nearly every date rendered is this second's (created = updated = now).
# One tuple, swapped whole, so a thread reading it never sees one second with another's text.
_last_iso: tuple[int, str] = (0, "1970-01-01T00:00:00Z")


def iso(epoch: float) -> str:
    """Twilio's ISO-8601 form: `YYYY-MM-DDThh:mm:ssZ`, whole seconds (rounded down), UTC, always 4-digit years.

    (`strftime("%Y")` writes year 1 as "1" with glibc, so the fields are formatted here.)
    """
    global _last_iso
    second = math.floor(epoch)
    last = _last_iso
    if last[0] == second:
        return last[1]
    t = time.gmtime(second)
    text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
    _last_iso = (second, text)
    return text


# A JSON string literal exactly as the HTTP layer's encoder (ensure_ascii=False) writes one: the same C function.
json_string: Callable[[str], str] = encode_basestring


def encode_token(position: int) -> str:
    return "PT" + base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        if not token.startswith("PT"):
            raise ValueError
        raw = token[2:]
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        if not decoded.startswith("p"):
            raise ValueError
        position = int(decoded[1:])
        # Only the exact text encode_token wrote: int() would also take "p٣", "p 3", "p+3", "p0_3".
        if position < 0 or encode_token(position) != token:
            raise ValueError
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise invalid_parameter("PageToken", token, "not a page token this service issued") from None
    return position


def paginate(
    params: Params,
    *,
    key: str,
    path: str,
    items: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    keep: Callable[[T], bool] | None = None,
    filters: Sequence[tuple[str, str]] = (),
    max_page_size: int = 1000,
    newest_first: bool = True,
) -> dict[str, Any]:
    """One page of `items` (kept by `keep`), with Twilio's `meta` block.

    Positions count from the newest item when `newest_first`; the token of the next page is the position just
    after the last item returned, so walking pages while items are created or deleted neither repeats nor skips
    any that existed throughout.
    """
    page_size = params.int("PageSize", 50, low=1, high=max_page_size)
    page = params.int("Page", 0, low=0, high=10**9)
    token = params.get("PageToken")
    start = decode_token(token) if token else 0
    if not token and page:
        start = _skip(items, keep, page * page_size, newest_first)
    records: list[dict[str, Any]] = []
    position = len(items)
    more = False
    for at, item in _walk(items, start, newest_first):
        if keep is None or keep(item):
            if len(records) == page_size:
                # A kept item beyond this page: there is a next page, and it starts here.
                position, more = at, True
                break
            records.append(render(item))

    def url(page_number: int, page_token: str | None) -> str:
        query = [*filters, ("PageSize", str(page_size)), ("Page", str(page_number))]
        if page_token:
            query.append(("PageToken", page_token))
        return f"{BASE}{path}?{urlencode(query)}"

    return {
        key: records,
        "meta": {
            "page": page,
            "page_size": page_size,
            "first_page_url": url(0, None),
            "previous_page_url": url(page - 1, None) if page > 0 else None,
            "url": url(page, token),
            "next_page_url": url(page + 1, encode_token(position)) if more else None,
            "key": key,
        },
    }


def _walk(items: Sequence[T], start: int, newest_first: bool) -> Iterator[tuple[int, T]]:
    n = len(items)
    for position in range(start, n):
        yield position, items[n - 1 - position] if newest_first else items[position]


def _skip(items: Sequence[T], keep: Callable[[T], bool] | None, count: int, newest_first: bool) -> int:
    seen = 0
    for position, item in _walk(items, 0, newest_first):
        if keep is None or keep(item):
            if seen == count:
                return position
            seen += 1
    return len(items)
