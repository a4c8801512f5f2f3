"""scrub_text: no URL secret survives, whatever the URL's shape, spelling, encoding or place in a message."""

from __future__ import annotations

import json
import logging
import string
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from harness._redact import REDACTED, ScrubbingFilter, scrub_text, scrub_url

# --- the cases of issue 7, each spelled out -------------------------------------------------------------------------

SECRET = "Zq9SECRETx7Kw"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"HTTPS://b.example/a.wav?X-Amz-Signature={SECRET}", "HTTPS://b.example/a.wav?<redacted>"),
        (f"Https://b.example/a.wav?foo={SECRET}&X-Amz-Expires=900", "Https://b.example/a.wav?<redacted>"),
        (f"fetch https://b.example/my call.wav?X-Amz-Signature={SECRET} failed (403)",
         "fetch https://b.example/my call.wav?<redacted> failed (403)"),
        (json.dumps({"e": f"https://b.example/a.wav?foo={SECRET}"}).replace("/", "\\/"),
         '{"e": "https:\\/\\/b.example\\/a.wav?<redacted>"}'),
        (f"https://user:{SECRET}@host.example/a.wav", "https://host.example/a.wav"),
        (f"https://{SECRET}@github.example/org/repo.git", "https://github.example/org/repo.git"),
        (f"https://user:{SECRET}@host.example:8443", "https://host.example:8443"),
        ("media_url=" + quote(f"https://u:{SECRET}@b.example/a b.wav?foo={SECRET}", safe=""),
         "media_url=https%3A%2F%2Fb.example%2Fa%20b.wav%3F<redacted>"),
        (quote(quote(f"https://b.example/a.wav?foo={SECRET}", safe=""), safe=""),
         "https%253A%252F%252Fb.example%252Fa.wav%253F<redacted>"),
        (f"bucket.s3.amazonaws.com/calls/1.wav?foo={SECRET} not found",
         "bucket.s3.amazonaws.com/calls/1.wav?<redacted> not found"),
        (f"(see https://x.example/a.wav?q={SECRET}).", "(see https://x.example/a.wav?<redacted>)."),
        (f"https://x.example/a.wav#access_token={SECRET}", "https://x.example/a.wav#<redacted>"),
        (f"X-Amz-Signature%3D{SECRET}%26X-Amz-Date%3D20240101", "X-Amz-Signature%3D<redacted>%26X-Amz-Date%3D20240101"),
        (f"sig={SECRET}&se=2024-01-01", "sig=<redacted>&se=2024-01-01"),
        (f"Authorization: Basic {SECRET}", "Authorization: Basic <redacted>"),
        (f"{{'Authorization': 'Bearer {SECRET}'}}", "{'Authorization': 'Bearer <redacted>'}"),
    ],
)  # fmt: skip
def test_each_leak_of_issue_7_is_closed_and_the_recording_stays_recognisable(text: str, kept: str) -> None:
    assert scrub_text(text) == kept


def test_the_readme_example() -> None:
    url = "https://bucket.s3.amazonaws.com/calls/0001.wav?X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F20240101"
    assert scrub_url(url) == "https://bucket.s3.amazonaws.com/calls/0001.wav?<redacted>"
    assert scrub_url("https://user:pw@host.example/a.wav?sig=1") == "https://host.example/a.wav?<redacted>"
    assert scrub_url("https://host.example/a.wav") == "https://host.example/a.wav"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "customer_key 'k1' is already used by an earlier row",
        "Expecting ',' delimiter: line 1 column 5 (char 4)",
        "see https://github.com/o/r/issues/7 and issue #42, what? yes",
        "https://x.example/a.wav failed: is it public? (403)",
        "C:\\Users\\me\\batch.jsonl: not UTF-8",
        "results in out/batch.d/items/k1.json",
        "20003: Authenticate (https://www.twilio.com/docs/errors/20003)",
        "a=b, limit=12 in-flight=3",
    ],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert scrub_text(text) == text


# --- property tests: URL shapes x encodings x positions --------------------------------------------------------------

TOKEN = string.ascii_letters + string.digits
# A secret that is part of the marker ("redacted") is "found" in every scrubbed text; it is not a leak.
secrets_ = st.text(TOKEN, min_size=8, max_size=24).filter(lambda s: s.lower() not in REDACTED.lower())
schemes = st.sampled_from(["http", "https", "s3", "gs", "ftp", "wss", "az", "x-custom+v1.2"]).flatmap(
    lambda s: st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in s]).map("".join)
)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
TLDS = ["com", "example", "net", "io", "amazonaws.com", "blob.core.windows.net"]
domains = st.builds(
    lambda parts, tld: ".".join([*parts, tld]), st.lists(labels, min_size=1, max_size=3), st.sampled_from(TLDS)
)
hosts = st.one_of(
    domains,
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "10.0.0.7", "bücher.example"]),
)
ports = st.none() | st.integers(1, 65535)
users = st.text(TOKEN + "._-", min_size=1, max_size=8) | st.just("a%40b.example")
escapes = st.sampled_from(["%20", "%3F", "%23", "%2F", "%25", "%C3%A9", "%3D", "%26"])
path_chars = st.characters(
    codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"], exclude_characters='?#/\\"<>`\u0085\u00a0'
)
segments = st.lists(st.one_of(st.text(path_chars, max_size=6), escapes, st.just(" ")), max_size=4).map("".join)
paths = st.lists(segments, max_size=4).map(lambda s: "/" + "/".join(s))
param_names = st.text(TOKEN + "_.-", min_size=1, max_size=12)
param_values = st.text(TOKEN + "_.~-", max_size=12) | escapes


@dataclass
class Url:
    text: str
    secret: str
    schemeless: bool = False


@st.composite
def urls(draw: st.DrawFn) -> Url:
    """A URL with one secret in it: a query value, a fragment, a password or a user name."""
    secret = draw(secrets_)
    where = draw(st.sampled_from(["query", "query", "password", "user", "fragment"]))
    scheme = draw(schemes)
    host = draw(hosts)
    port = draw(ports)
    path = draw(st.sampled_from(["", "/"]) | paths)
    userinfo = ""
    if where == "password":
        userinfo = f"{draw(users)}:{secret}@"
    elif where == "user":
        userinfo = f"{secret}@"
    elif draw(st.booleans()):
        userinfo = f"{draw(users)}:{draw(param_values)}@"
    params = draw(st.lists(st.tuples(param_names, param_values), max_size=4))
    if where == "query":
        at = draw(st.integers(0, len(params)))
        params.insert(at, (draw(param_names), draw(param_values) + secret))
    has_query = bool(params) or draw(st.booleans())
    query = "?" + "&".join(f"{k}={v}" for k, v in params) if has_query else ""
    fragment = ""
    if where == "fragment":
        # `#` after a space in a path reads as prose ("issue #7"): there only a credential parameter name counts
        name = draw(st.sampled_from(["access_token", "token", "sig"]) if " " in path else param_names)
        fragment = f"#{name}={secret}"
    if where != "fragment" and query and draw(st.booleans()):
        fragment = "#" + draw(param_values)
    authority = f"{userinfo}{host}" + (f":{port}" if port is not None else "")
    if not path and (query or fragment) and draw(st.booleans()):
        path = "/"
    if where in ("query",) and draw(st.integers(0, 9)) == 0 and "." in host and host[-1].isalpha():
        return Url(f"{host}{path or '/'}{query}{fragment}", secret, schemeless=True)
    return Url(f"{scheme}://{authority}{path}{query}{fragment}", secret)


context_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=16)
TEMPLATES = [
    "{p}{u}{s}",
    "{p} {u} {s}",
    '{p} "{u}" {s}',
    "{p} '{u}' {s}",
    "{p} ({u}) {s}",
    "{p} <{u}> {s}",
    "{p} [{u}], {s}",
    "{p}: {u}.",
    "{p} {u}\n{s}",
    "{p}\n{u}",
    "failed to fetch {u}: 403 Forbidden",
    "{p} url={u}&next=1 {s}",
]


def encodings(message: str, url: str, schemeless: bool = False) -> dict[str, str]:
    found = {
        "plain": message,
        "json": json.dumps({"error": message, "n": 1}),
        "json ascii off": json.dumps([message], ensure_ascii=False),
        "json escaped slashes": json.dumps({"error": message}).replace("/", "\\/"),
        "json twice": json.dumps(json.dumps({"error": message})),
        "url percent-encoded": message.replace(url, quote(url, safe="")),
        "url percent-encoded, slashes kept": message.replace(url, quote(url)),
        "url plus-encoded": message.replace(url, quote_plus(url)),
        "url percent-encoded twice": message.replace(url, quote(quote(url, safe=""), safe="")),
        "message percent-encoded": quote(message, safe=""),
        "repr": repr(message),
        "ascii": ascii(message),
        "repr of a dict": repr({"media_url": url, "error": message}),
    }
    if schemeless:  # `host/what%3F.wav` is a file name with a question mark in it: only a scheme says it is encoded
        del found["url percent-encoded, slashes kept"]
    return found


@given(url=urls(), template=st.sampled_from(TEMPLATES), prefix=context_text, suffix=context_text)
@example(url=Url(f"https://b.example/my call.wav?X-Amz-Signature={SECRET}", SECRET), template="{p}{u}{s}",
         prefix="", suffix="")  # fmt: skip
@example(url=Url(f"https://u:{SECRET}@h.example", SECRET), template="{p}{u}{s}", prefix="", suffix="@x")
def test_the_secret_never_appears_in_the_output(url: Url, template: str, prefix: str, suffix: str) -> None:
    message = template.format(p=prefix, u=url.text, s=suffix)
    assume(message.count(url.secret) == 1)  # it is in the URL and nowhere else
    for name, text in encodings(message, url.text, url.schemeless).items():
        out = scrub_text(text)
        assert url.secret not in out, (name, text, out)
        assert scrub_text(out) == out, (name, text, out)


@given(url=urls())
def test_scrub_url_is_scrub_text_for_one_url_and_keeps_scheme_host_and_path(url: Url) -> None:
    out = scrub_url(url.text)
    assert out == scrub_text(url.text)
    assert url.secret not in out
    start = url.text.split("?")[0].split("#")[0]
    if "@" not in start:
        assert out.startswith(start)


NAMES = [
    "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "X-Goog-Signature", "X-Goog-Credential",
    "Signature", "sig", "token", "access_token", "AWSAccessKeyId", "GoogleAccessId", "auth_token", "password",
    "client_secret", "api_key",
]  # fmt: skip


@given(
    name=st.sampled_from(NAMES).flatmap(
        lambda s: st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in s]).map("".join)
    ),
    equals=st.sampled_from(["=", "%3D", "%3d", "%253D"]),
    secret=secrets_,
    prefix=context_text,
    after=st.sampled_from(["", "&", "%26", " ", "\n", '"', "'", ".", ")", "#"]),
    suffix=context_text,
)
def test_a_credential_parameter_is_scrubbed_without_any_url(
    name: str, equals: str, secret: str, prefix: str, after: str, suffix: str
) -> None:
    text = f"{prefix} {name}{equals}{secret}{after}{suffix}"
    assume(text.count(secret) == 1)
    out = scrub_text(text)
    assert secret not in out
    assert f"{name}{equals}{REDACTED}" in out


@given(st.text(st.characters(codec="utf-8", exclude_characters="/=%\\")))
def test_text_without_slashes_or_equals_is_unchanged(text: str) -> None:
    assume("authorization" not in text.lower())
    assert scrub_text(text) == text


@given(st.text(st.sampled_from(list(":/\\%3aAdD=?#@&\"' .com-x\nu0"))) | st.text())
def test_scrubbing_is_idempotent_and_never_raises(text: str) -> None:
    once = scrub_text(text)
    assert scrub_text(once) == once


def test_a_long_hostile_line_is_scrubbed_in_one_pass() -> None:
    """Many URL starts, no terminators: every start is handled without rescanning the rest of the line."""
    text = "a://" * 20_000 + "b.example/x?q=" + SECRET + " " + "c.d/" * 20_000 + "a-" * 20_000 + "token=" * 20_000
    out = scrub_text(text)
    assert SECRET not in out
    assert out.startswith("a://a://")
    assert out.endswith("token=<redacted>")


# --- the logging filter ---------------------------------------------------------------------------------------------


def test_the_logging_filter_scrubs_message_arguments_exception_and_extras() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record) + " extra=" + str(getattr(record, "media", "")))

    handler = Collect()
    handler.addFilter(ScrubbingFilter())
    logger = logging.getLogger("test_redact.filter")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        url = f"HTTPS://b.example/a b.wav?X-Amz-Signature={SECRET}"
        logger.warning("fetch %s failed", url, extra={"media": url})
        try:
            raise RuntimeError(f"could not fetch {url}")
        except RuntimeError:
            logger.exception("boom %d", 1)
        logger.warning("bad args %d", "not a number")  # a formatting error is not a reason to leak or crash
    finally:
        logger.removeHandler(handler)
    assert len(records) == 3
    assert all(SECRET not in r for r in records)
    assert "fetch HTTPS://b.example/a b.wav?<redacted> failed" in records[0]
    assert "RuntimeError: could not fetch HTTPS://b.example/a b.wav?<redacted>" in records[1]
    assert "bad args" in records[2]
