"""The Encrypted subresources' `location` / `locations` serve what they point at: every sentence, or one operator
result, as plain JSON in the unencrypted resources' shape (the mock cannot encrypt: it says so in a header),
honouring `Redacted` as the request that made the URL asked; refused like the media URLs once expired or edited.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from mock_server._clock import ManualClock
from mock_server._media._pii import find_pii
from mock_server._media._serve_media import ENCRYPTION_HEADER
from mock_server._model._catalogue import PREBUILT
from tests.mock_server.support import Api, Creds, Reply

IMMEDIATE = {"lifecycle": {"mode": "immediate"}}  # media fetching off: the invented conversation
PII_OPERATOR = next(p.sid for p in PREBUILT if p.operator_type == "pii-extract")
SUMMARY_OPERATOR = next(p.sid for p in PREBUILT if p.friendly_name == "Conversation Summary")
TOKEN = "encrypted-control-token-0123456789"


async def _download(api: Api, url: str, headers: dict[str, str] | None = None) -> Reply:
    """GET a signed URL the mock handed out, with no credentials at all."""
    parts = urlsplit(url)
    return await api.call("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path, None, headers=headers)


async def _redacting_service(api: Api, creds: Creds, *operators: str, redaction: bool = True) -> str:
    svc = await api.service(creds, AutoRedaction="true" if redaction else "false")
    for osid in operators:
        r = await api.call("POST", f"/v2/Services/{svc}/Operators/{osid}", creds)
        assert r.status == 202, r.body
    return svc


async def _list_all(api: Api, creds: Creds, tsid: str, redacted: str) -> list[dict[str, Any]]:
    """Every sentence through the paged API (page size 2, so paging is walked), with word timestamps."""
    out: list[dict[str, Any]] = []
    params: dict[str, str] | None = {"Redacted": redacted, "WordTimestamps": "true", "PageSize": "2"}
    path = f"/v2/Transcripts/{tsid}/Sentences"
    while True:
        r = await api.call("GET", path, creds, params=params)
        assert r.status == 200, r.body
        out.extend(r.body["sentences"])
        next_url = r.body["meta"]["next_page_url"]
        if not next_url:
            return out
        parts = urlsplit(next_url)
        path, params = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


async def _transcript_with_pii(api: Api, creds: Creds, svc: str) -> str:
    """A completed transcript whose invented conversation has PII in it (deterministic by the app's seed)."""
    for _ in range(20):
        tsid = str((await api.transcript(creds, svc))["sid"])
        if any(find_pii(s["transcript"]) for s in await _list_all(api, creds, tsid, "false")):
            return tsid
    raise AssertionError("no transcript with PII in 20 tries")


async def test_the_sentences_location_serves_every_sentence_as_the_list_renders_it(make_api: Any) -> None:
    api: Api = await make_api(IMMEDIATE)
    dev = api.dev
    tsid = await _transcript_with_pii(api, dev, await _redacting_service(api, dev))

    path = f"/v2/Transcripts/{tsid}/Sentences/Encrypted"
    for asked, expected_variant in (
        ({}, "redacted"),
        ({"Redacted": "true"}, "redacted"),
        ({"Redacted": "false"}, "unredacted"),
    ):
        r = await api.call("GET", path, dev, params=asked)
        assert r.status == 200, r.body
        location = r.body["location"]
        assert urlsplit(location).path.endswith(f"/{tsid}/sentences/{expected_variant}")
        got = await _download(api, location)
        assert got.status == 200, got.body
        assert got.headers["Content-Type"].startswith("application/json")
        assert got.headers[ENCRYPTION_HEADER].startswith("none")  # plain JSON, and it says so
        listed = await _list_all(api, dev, tsid, "true" if expected_variant == "redacted" else "false")
        assert got.body == {"sentences": listed}

    redacted = (await _download(api, (await api.call("GET", path, dev)).body["location"])).body
    texts = " ".join(s["transcript"] for s in redacted["sentences"])
    assert not find_pii(texts)  # the default location holds no PII
    assert "[" in texts


async def test_each_operator_results_location_serves_that_result(make_api: Any) -> None:
    api: Api = await make_api(IMMEDIATE)
    dev = api.dev
    svc = await _redacting_service(api, dev, PII_OPERATOR, SUMMARY_OPERATOR)
    tsid = await _transcript_with_pii(api, dev, svc)

    for redacted in ("true", "false"):
        asked = {"Redacted": redacted}
        r = await api.call("GET", f"/v2/Transcripts/{tsid}/OperatorResults/Encrypted", dev, params=asked)
        assert r.status == 200, r.body
        locations = r.body["locations"]
        assert len(locations) == 2
        for location in locations:
            osid = urlsplit(location).path.split("/")[-2]
            got = await _download(api, location)
            assert got.status == 200, got.body
            assert got.headers[ENCRYPTION_HEADER].startswith("none")
            one = await api.call("GET", f"/v2/Transcripts/{tsid}/OperatorResults/{osid}", dev, params=asked)
            assert got.body == one.body
        (pii_location,) = [loc for loc in locations if urlsplit(loc).path.split("/")[-2] == PII_OPERATOR]
        pii = (await _download(api, pii_location)).body
        entities = pii["extract_results"]["entities"]
        assert entities
        if redacted == "true":
            assert not any(find_pii(e) for e in entities)
        else:
            assert all(find_pii(e) for e in entities)


async def test_without_auto_redaction_both_variants_serve_the_plain_sentences(make_api: Any) -> None:
    api: Api = await make_api(IMMEDIATE)
    dev = api.dev
    tsid = await _transcript_with_pii(api, dev, await _redacting_service(api, dev, redaction=False))
    r = await api.call("GET", f"/v2/Transcripts/{tsid}/Sentences/Encrypted", dev)
    assert urlsplit(r.body["location"]).path.endswith("/sentences/unredacted")  # nothing was redacted
    got = await _download(api, r.body["location"])
    assert any(find_pii(s["transcript"]) for s in got.body["sentences"])


async def test_an_expired_or_edited_location_is_403_and_a_deleted_transcript_404(make_api: Any) -> None:
    clock = ManualClock()
    api: Api = await make_api({**IMMEDIATE, "media_url_ttl_s": 60}, clock=clock)
    dev = api.dev
    svc = await _redacting_service(api, dev, PII_OPERATOR)
    tsid = str((await api.transcript(dev, svc))["sid"])
    sentences = (await api.call("GET", f"/v2/Transcripts/{tsid}/Sentences/Encrypted", dev)).body["location"]
    results = (await api.call("GET", f"/v2/Transcripts/{tsid}/OperatorResults/Encrypted", dev)).body["locations"]
    urls = [sentences, *results]

    for url in urls:
        parts = urlsplit(url)
        edited = [
            url.replace("/redacted?", "/unredacted?"),  # asking for more than was granted
            url.replace("Signature=", "Signature=0"),
            url.replace(f"/{tsid}/", f"/GT{'0' * 32}/"),
            parts.path,  # no Expires, no Signature
        ]
        for bad in edited:
            r = await _download(api, bad)
            assert (r.status, r.body["code"]) == (403, 20403), bad
            assert r.body["message"] == "Media URL signature is missing or invalid"

    clock.advance(60)
    for url in urls:
        assert (await _download(api, url)).status == 200  # good until its expiry, inclusive
    clock.advance(1)
    for url in urls:
        r = await _download(api, url)
        assert (r.status, r.body["code"], r.body["message"]) == (403, 20403, "Media URL has expired")

    fresh = (await api.call("GET", f"/v2/Transcripts/{tsid}/Sentences/Encrypted", dev)).body["location"]
    assert (await api.call("DELETE", f"/v2/Transcripts/{tsid}", dev)).status == 204
    r = await _download(api, fresh)
    assert (r.status, r.body["code"]) == (404, 20404)


async def test_locations_need_no_credentials_and_no_control_token(make_api: Any) -> None:
    api: Api = await make_api(IMMEDIATE, control_token=TOKEN)
    dev = api.dev
    svc = await _redacting_service(api, dev, PII_OPERATOR)
    tsid = str((await api.transcript(dev, svc))["sid"])
    location = (await api.call("GET", f"/v2/Transcripts/{tsid}/Sentences/Encrypted", dev)).body["location"]
    assert (await _download(api, location)).status == 200  # the signature is the credential, as for media
    r = await api.call("GET", "/__mock__/config", None)
    assert r.status == 401  # while the rest of the control plane still wants its token
