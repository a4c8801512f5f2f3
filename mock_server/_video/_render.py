"""Video's wire conventions: canonical `https://video.twilio.com` URLs, list paging, filters and the SID checks.

Paging is the Intelligence model's (`mock_server._model._render.paginate`: Page, PageSize, opaque PageToken, Twilio's
`meta` block); only the host of the `meta` URLs differs, since twilio-python follows `next_page_url` verbatim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mock_server._errors import invalid_parameter
from mock_server._model._params import Params
from mock_server._model._render import BASE as INTELLIGENCE_BASE
from mock_server._model._render import iso, paginate

__all__ = ["VIDEO", "choice", "created_between", "iso", "page"]

VIDEO = "https://video.twilio.com"
T = TypeVar("T")


def page(
    params: Params,
    *,
    key: str,
    path: str,
    items: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    keep: Callable[[T], bool] | None,
    filters: Sequence[tuple[str, str]],
    max_page_size: int,
    newest_first: bool = True,
) -> dict[str, Any]:
    """One page of `items` (newest first unless told), with `meta` URLs on video.twilio.com."""
    body = paginate(
        params, key=key, path=path, items=items, render=render, keep=keep, filters=filters,
        max_page_size=max_page_size, newest_first=newest_first,
    )  # fmt: skip
    meta = body["meta"]
    for name in ("first_page_url", "previous_page_url", "url", "next_page_url"):
        url = meta[name]
        if isinstance(url, str) and url.startswith(INTELLIGENCE_BASE):
            meta[name] = VIDEO + url[len(INTELLIGENCE_BASE) :]
    return body


def choice(params: Params, name: str, allowed: Sequence[str]) -> str | None:
    """An optional enum parameter: None when absent, 400 / 20001 naming it when not one of `allowed`."""
    value = params.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise invalid_parameter(name, value, f"must be one of {', '.join(allowed)}")
    return value


def created_between(params: Params) -> tuple[float | None, float | None, list[tuple[str, str]]]:
    """DateCreatedAfter / DateCreatedBefore as epoch seconds, and the (name, value) pairs to echo in `meta` URLs."""
    after, before = params.datetime("DateCreatedAfter"), params.datetime("DateCreatedBefore")
    echo = [(n, v) for n in ("DateCreatedAfter", "DateCreatedBefore") if (v := params.get(n))]
    return after, before, echo


def in_window(created: float, after: float | None, before: float | None) -> bool:
    """Twilio's windows: on or after `after`, strictly before `before` (whole seconds, as the dates are rendered)."""
    second = int(created // 1)
    return (after is None or second >= after) and (before is None or second < before)
