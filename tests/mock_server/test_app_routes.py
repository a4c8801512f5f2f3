"""The Twilio-facing HTTP layer through aiohttp's test server: every route family, every error code.

Every response these tests receive is validated against the spec (2xx) or Twilio's error shape by the `recorder`
fixture at teardown.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_server._routes import PERMISSION_PREFIX, ROUTES, RouteTable
from tests.mock_server.support import Api, basic, channel_json

GT = "GT" + "0" * 32
SERVICES_ALL = PERMISSION_PREFIX + "services/*"


# --- the route table ---------------------------------------------------------------------------------------------


def test_route_table_covers_every_spec_operation(intelligence_spec: dict[str, Any]) -> None:
    spec_ops = {
        (method.upper(), path, op["operationId"])
        for path, item in intelligence_spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "delete")
    }
    ours = {(r.method, r.template, r.operation_id) for r in ROUTES}
    assert ours == spec_ops


@pytest.mark.parametrize(
    ("path", "operation_id", "ids"),
    [
        ("/v2/Operators/PreBuilt", "ListPrebuiltOperator", ()),
        ("/v2/Operators/Custom", "ListCustomOperator", ()),
        ("/v2/Operators/LY1", "FetchOperator", ("LY1",)),
        ("/v2/Operators/PreBuilt/LY2", "FetchPrebuiltOperator", ("LY2",)),
        (f"/v2/Transcripts/{GT}/Sentences/Encrypted", "FetchEncryptedSentences", (GT,)),
        (f"/v2/Transcripts/{GT}/OperatorResults/Encrypted", "FetchEncryptedOperatorResults", (GT,)),
        (f"/v2/Transcripts/{GT}/OperatorResults/LY3", "FetchOperatorResult", (GT, "LY3")),
    ],
)
def test_literal_segments_win_over_parameters(path: str, operation_id: str, ids: tuple[str, ...]) -> None:
    methods, found = RouteTable().match(path)
    assert methods is not None
    assert methods["GET"].operation_id == operation_id
    assert found == ids


@pytest.mark.parametrize("path", ["/", "/v2", "/v2/Transcripts/", "/v2//Media", "/v3/Transcripts", "/v2/Nope/x/y/z"])
def test_unknown_paths_do_not_match(path: str) -> None:
    assert RouteTable().match(path) == (None, ())


def test_wildcard_and_slashless_permissions() -> None:
    create = next(r for r in ROUTES if r.operation_id == "CreateService")
    assert create.allowed(frozenset({SERVICES_ALL}))
    assert create.allowed(frozenset({create.permission.lstrip("/")}))
    assert not create.allowed(frozenset({PERMISSION_PREFIX + "transcripts/*"}))


# --- every family, happy path -------------------------------------------------------------------------------------


async def test_every_route_family_answers_per_spec(api: Api) -> None:
    dev = api.dev
    svc = await api.service(dev, FriendlyName="Support")
    assert (await api.call("GET", "/v2/Services", dev, params={"PageSize": "1"})).status == 200
    fetched = await api.call("GET", f"/v2/Services/{svc}", dev)
    etag = fetched.headers["ETag"]
    updated = await api.call("POST", f"/v2/Services/{svc}", dev, data={"FriendlyName": "x"}, headers={"If-Match": etag})
    assert updated.status == 200
    stale = await api.call("POST", f"/v2/Services/{svc}", dev, data={"FriendlyName": "y"}, headers={"If-Match": etag})
    assert stale.status == 412

    operators = await api.call("GET", "/v2/Operators/PreBuilt", dev)
    op_sid = operators.body["operators"][0]["sid"]
    assert (await api.call("GET", f"/v2/Operators/PreBuilt/{op_sid}", dev)).status == 200
    assert (await api.call("GET", f"/v2/Operators/{op_sid}", dev)).status == 200
    assert (await api.call("GET", "/v2/Operators", dev)).status == 200
    attach = await api.call("POST", f"/v2/Services/{svc}/Operators/{op_sid}", dev)
    assert attach.status == 202
    attached = await api.call("GET", f"/v2/Services/{svc}/Operators", dev)
    assert attached.body["operator_sids"] == [op_sid]

    types = await api.call("GET", "/v2/OperatorTypes", dev)
    assert types.status == 200
    type_name = types.body["operator_types"][0]["name"]
    assert (await api.call("GET", f"/v2/OperatorTypes/{type_name}", dev)).status == 200
    configurable = next(t for t in types.body["operator_types"] if t["configurable"])
    custom = await api.call(
        "POST",
        "/v2/Operators/Custom",
        dev,
        data={"FriendlyName": "Mine", "OperatorType": configurable["name"], "Config": json.dumps({"x": 1})},
    )
    assert custom.status == 202, custom.body
    custom_sid = custom.body["sid"]
    assert (await api.call("GET", "/v2/Operators/Custom", dev)).status == 200
    got = await api.call("GET", f"/v2/Operators/Custom/{custom_sid}", dev)
    upd = await api.call(
        "POST",
        f"/v2/Operators/Custom/{custom_sid}",
        dev,
        data={"FriendlyName": "Mine 2", "Config": "{}"},
        headers={"If-Match": got.headers["ETag"]},
    )
    assert upd.status == 202
    assert (await api.call("DELETE", f"/v2/Operators/Custom/{custom_sid}", dev)).status == 204

    t = await api.transcript(dev, svc, customer_key="k-1")
    tsid = t["sid"]
    assert t["status"] == "completed"
    assert (await api.call("GET", "/v2/Transcripts", dev, params={"ServiceSid": svc})).status == 200
    assert (await api.call("GET", f"/v2/Transcripts/{tsid}", dev)).status == 200
    sentences = await api.call("GET", f"/v2/Transcripts/{tsid}/Sentences", dev, params={"WordTimestamps": "true"})
    assert sentences.body["sentences"]
    assert (await api.call("GET", f"/v2/Transcripts/{tsid}/Sentences/Encrypted", dev)).status == 200
    results = await api.call("GET", f"/v2/Transcripts/{tsid}/OperatorResults", dev)
    assert [r["operator_sid"] for r in results.body["operator_results"]] == [op_sid]
    assert (await api.call("GET", f"/v2/Transcripts/{tsid}/OperatorResults/{op_sid}", dev)).status == 200
    assert (await api.call("GET", f"/v2/Transcripts/{tsid}/OperatorResults/Encrypted", dev)).status == 200

    media = await api.call("GET", f"/v2/Transcripts/{tsid}/Media", dev)
    url = media.body["media_url"]
    assert url.startswith(str(api.client.make_url("/__mock__/media/")))
    async with api.client.session.get(url) as r:  # no credentials: the signature is the credential
        assert r.status == 200
        assert r.content_type == "audio/wav"
        assert (await r.read())[:4] == b"RIFF"
    async with api.client.session.get(url.replace("Signature=", "Signature=0")) as r:
        assert r.status == 403
        assert (await r.json())["code"] == 20403

    assert (await api.call("DELETE", f"/v2/Services/{svc}/Operators/{op_sid}", dev)).status == 204
    assert (await api.call("DELETE", f"/v2/Transcripts/{tsid}", dev)).status == 204
    assert (await api.call("GET", f"/v2/Transcripts/{tsid}", dev)).status == 404
    assert (await api.call("DELETE", f"/v2/Services/{svc}", dev)).status == 204
    assert api.state.unexpected_errors == 0


async def test_list_pages_follow_next_page_url(api: Api) -> None:
    dev = api.dev
    svc = await api.service(dev)
    created = {(await api.transcript(dev, svc, customer_key=f"k{i}"))["sid"] for i in range(5)}
    seen: list[str] = []
    r = await api.call("GET", "/v2/Transcripts", dev, params={"PageSize": "2"})
    while True:
        assert r.status == 200
        seen += [t["sid"] for t in r.body["transcripts"]]
        next_url = r.body["meta"]["next_page_url"]
        if next_url is None:
            break
        assert next_url.startswith("https://intelligence.twilio.com/v2/Transcripts?")
        r = await api.call("GET", next_url.removeprefix("https://intelligence.twilio.com"), dev)
    assert sorted(seen) == sorted(created)


# --- errors -------------------------------------------------------------------------------------------------------


async def test_20001_names_the_parameter_and_the_value(api: Api) -> None:
    dev = api.dev
    r = await api.call("POST", "/v2/Transcripts", dev, data={"ServiceSid": "XX123", "Channel": channel_json()})
    assert (r.status, r.body["code"]) == (400, 20001)
    assert "ServiceSid" in r.body["message"]
    assert "XX123" in r.body["message"]
    r = await api.call("GET", "/v2/Services", dev, params={"PageSize": "0"})
    assert r.body["code"] == 20001
    assert "PageSize" in r.body["message"]
    assert "'0'" in r.body["message"]
    svc = await api.service(dev)
    r = await api.call("POST", "/v2/Transcripts", dev, data={"ServiceSid": svc, "Channel": "{not json"})
    assert r.body["code"] == 20001
    assert "Channel" in r.body["message"]
    assert "{not json" in r.body["message"]


async def test_bodies_that_are_not_utf8_forms_are_20001(api: Api) -> None:
    dev = api.dev
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await api.call("POST", "/v2/Services", dev, data=b"UniqueName=%FF%FE", headers=form)
    assert (r.status, r.body["code"]) == (400, 20001)
    assert "UniqueName" in r.body["message"]
    r = await api.call("POST", "/v2/Services", dev, data=b"UniqueName=\xff\xfe", headers=form)
    assert r.body["code"] == 20001
    assert "UniqueName" in r.body["message"]
    as_json = {"Content-Type": "application/json"}
    r = await api.call("POST", "/v2/Services", dev, data=b'{"UniqueName": "x"}', headers=as_json)
    assert r.body["code"] == 20001
    assert "Content-Type" in r.body["message"]
    r = await api.call("GET", "/v2/Transcripts?Status=%C3%28", dev)
    assert r.body["code"] == 20001
    assert "Status" in r.body["message"]


async def test_repeated_form_keys_are_kept_and_the_last_value_wins(api: Api) -> None:
    dev = api.dev
    r = await api.call("POST", "/v2/Services", dev, data=[("UniqueName", "first"), ("UniqueName", "second")])
    assert r.status == 201
    assert r.body["unique_name"] == "second"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + "bm9jb2xvbg=="},  # "nocolon"
        basic("AC" + "0" * 32, "wrong"),
    ],
)
async def test_20003_for_missing_or_bad_credentials(api: Api, headers: dict[str, str]) -> None:
    r = await api.call("GET", "/v2/Services", None, headers=headers)
    assert (r.status, r.body["code"], r.body["message"]) == (401, 20003, "Authenticate")
    assert r.headers["WWW-Authenticate"].startswith("Basic")


async def test_wrong_token_for_a_real_account_is_20003(api: Api) -> None:
    r = await api.call("GET", "/v2/Services", None, headers=basic(api.dev.sid, api.dev.token + "x"))
    assert r.body["code"] == 20003


async def test_api_key_authenticates_for_its_account_only(api: Api) -> None:
    other = await api.account()
    key = await api.key(api.dev, None)
    svc = await api.service(key)
    assert (await api.call("GET", f"/v2/Services/{svc}", api.dev)).status == 200
    assert (await api.call("GET", f"/v2/Services/{svc}", other)).status == 404
    wrong = await api.call("GET", "/v2/Services", None, headers=basic(key.sid, "nope"))
    assert wrong.body["code"] == 20003


async def test_404_and_405_are_twilio_json(api: Api) -> None:
    dev = api.dev
    r = await api.call("GET", "/v2/Nothing/Here", dev)
    assert (r.status, r.body["code"]) == (404, 20404)
    r = await api.call("GET", "/favicon.ico", None)
    assert (r.status, r.body["code"]) == (404, 20404)
    r = await api.call("GET", f"/v2/Transcripts/{GT}", dev)
    assert (r.status, r.body["code"]) == (404, 20404)
    r = await api.call("PUT", "/v2/Transcripts", dev)
    assert r.status == 405
    assert r.body["code"] == 20004
    assert r.headers["Allow"] == "GET, POST"
    r = await api.call("DELETE", "/v2/Operators/PreBuilt", dev)
    assert r.status == 405


async def test_restricted_key_may_manage_services_but_not_read_media_or_operator_results(api: Api) -> None:
    dev = api.dev
    key = await api.key(dev, [SERVICES_ALL, PERMISSION_PREFIX + "transcripts/read"])
    svc = await api.service(key)  # create
    assert (await api.call("GET", "/v2/Services", key)).status == 200  # list
    assert (await api.call("GET", f"/v2/Services/{svc}", key)).status == 200  # read
    assert (await api.call("POST", f"/v2/Services/{svc}", key, data={"FriendlyName": "n"})).status == 200
    tsid = (await api.transcript(dev, svc))["sid"]
    assert (await api.call("GET", f"/v2/Transcripts/{tsid}", key)).status == 200

    for path, missing in [
        (f"/v2/Transcripts/{tsid}/Media", "transcript-media/read"),
        (f"/v2/Transcripts/{tsid}/OperatorResults", "operator-results/read"),
        (f"/v2/Transcripts/{tsid}/OperatorResults/LY{'0' * 32}", "operator-results/read"),
        (f"/v2/Transcripts/{tsid}/Sentences", "transcript-sentences/read"),
        ("/v2/Transcripts", "transcripts/list"),
    ]:
        r = await api.call("GET", path, key)
        assert (r.status, r.body["code"]) == (401, 70051), path
        assert r.body["message"] == f"Authorization Error: required permission {PERMISSION_PREFIX}{missing} is missing"
    r = await api.call("POST", "/v2/Transcripts", key, data={"ServiceSid": svc, "Channel": channel_json()})
    assert r.body["code"] == 70051
    account = api.state.registry.account(dev.sid)
    assert account is not None
    assert account.stats()["transcripts_created"] == 1  # refused: nothing created
    assert (await api.call("DELETE", f"/v2/Services/{svc}", key)).status == 204


async def test_429_when_over_the_concurrency_limit(make_api: object) -> None:
    api: Api = await make_api({"latency_ms": 150})  # type: ignore[operator]
    limited = await api.account(concurrency_limit=1)
    import asyncio

    replies = await asyncio.gather(*(api.call("GET", "/v2/Services", limited) for _ in range(3)))
    statuses = sorted(r.status for r in replies)
    assert statuses == [200, 429, 429]
    refused = next(r for r in replies if r.status == 429)
    assert refused.body["code"] == 20429


async def test_rate_limit_headers_and_token_bucket_429(make_api: Any) -> None:
    api: Api = await make_api({"rate_limits": {"services": {"per_second": 0.001, "burst": 2}}, "retry_after": True})
    dev = api.dev
    first = await api.call("GET", "/v2/Services", dev)
    assert first.status == 200
    assert first.headers["X-Rate-Limit-Limit"]
    assert "X-Rate-Limit-Remaining" in first.headers
    assert "X-Rate-Limit-Config" in first.headers
    assert (await api.call("GET", "/v2/Services", dev)).status == 200
    refused = await api.call("GET", "/v2/Services", dev)
    assert (refused.status, refused.body["code"]) == (429, 20429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await api.call("GET", "/v2/Transcripts", dev)).status == 200  # another family has its own bucket


async def test_after_polls_lifecycle_completes_on_fetch_and_queues_the_callback(make_api: Any) -> None:
    api: Api = await make_api({"lifecycle": {"mode": "after_polls", "polls": 2}})
    dev = api.dev
    svc = await api.service(dev, WebhookUrl="http://127.0.0.1:9/hook")
    tsid = (await api.transcript(dev, svc))["sid"]
    statuses = [(await api.call("GET", f"/v2/Transcripts/{tsid}", dev)).body["status"] for _ in range(3)]
    assert statuses[-1] == "completed"
    assert statuses[0] != "completed"
    stats = await api.control("GET", f"/__mock__/accounts/{dev.sid}/stats")
    assert stats.body["transcripts_completed"] == 1
    assert api.state.registry.drain_callbacks() == []  # the request path handed them to the dispatcher
