"""`POST /__mock__/scripts`: what a media says, registered through the control plane — the answer, Twilio-style
400s naming the field, reset and seed forgetting every script, the control token, the index."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.mock_server.support import Api

SHA = hashlib.sha256(b"media").hexdigest()
TOKEN = "a-control-token-of-some-length"


async def post_raw(api: Api, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with api.client.post("/__mock__/scripts", data=body, headers=headers or {}) as r:
        return r.status, await r.json(content_type=None)


async def test_a_script_by_hash_is_stored_and_answered_with_its_key(api: Api) -> None:
    r = await api.control(
        "POST", "/__mock__/scripts", {"sha256": SHA.upper(), "channels": {"1": ["a", "b"], "2": ["c"]}}
    )
    assert r.status == 201, r.body
    assert r.body == {"key": f"sha256:{SHA}", "sha256": SHA, "lines": {"1": 2, "2": 1}}
    script = api.state.scripts.get(sha256=SHA)
    assert script is not None
    assert script.lines(1) == ("a", "b")
    again = await api.control("POST", "/__mock__/scripts", {"sha256": SHA, "channels": {"1": ["replaced"]}})
    assert again.status == 201
    assert len(api.state.scripts) == 1
    replaced = api.state.scripts.get(sha256=SHA)
    assert replaced is not None
    assert replaced.lines(1) == ("replaced",)


async def test_a_script_by_url_never_keeps_the_query(api: Api) -> None:
    url = "HTTPS://Bucket.example.com/calls/1.wav?X-Amz-Signature=s3cr3t&X-Amz-Expires=60#frag"
    r = await api.control("POST", "/__mock__/scripts", {"media_url": url, "channels": {"2": ["Hello."]}})
    assert r.status == 201, r.body
    assert r.body == {"key": "url:https://bucket.example.com/calls/1.wav", "media_url": "https://bucket.example.com/calls/1.wav",
                      "lines": {"2": 1}}  # fmt: skip
    assert "s3cr3t" not in repr(r.body)
    assert api.state.scripts.get(media_url="https://bucket.example.com/calls/1.wav?other=sig") is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "JSON object"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "sha256"),
        (b'{"sha256": "abc", "channels": {"1": ["x"]}}', "sha256"),
        (f'{{"sha256": "{SHA}", "media_url": "https://x.example/a", "channels": {{"1": ["x"]}}}}'.encode(), "sha256"),
        (b'{"media_url": "ftp://x.example/a", "channels": {"1": ["x"]}}', "media_url"),
        (f'{{"sha256": "{SHA}"}}'.encode(), "channels"),
        (f'{{"sha256": "{SHA}", "channels": {{"3": ["x"]}}}}'.encode(), "channels.3"),
        (f'{{"sha256": "{SHA}", "channels": {{"1": []}}}}'.encode(), "channels.1"),
        (f'{{"sha256": "{SHA}", "channels": {{"1": [7]}}}}'.encode(), "channels.1[0]"),
        (f'{{"sha256": "{SHA}", "channels": {{"1": ["a\\nb"]}}}}'.encode(), "channels.1[0]"),
        (f'{{"sha256": "{SHA}", "channels": {{"1": ["x"]}}, "lines": 1}}'.encode(), "lines"),
    ],
)
async def test_a_bad_body_is_a_twilio_style_400_naming_the_field(api: Api, body: bytes, field: str) -> None:
    status, error = await post_raw(api, body)
    assert status == 400
    assert set(error) == {"code", "message", "more_info", "status"}
    assert (error["status"], error["code"]) == (400, 20001)
    assert field in error["message"]
    assert len(api.state.scripts) == 0


async def test_other_methods_are_405(api: Api) -> None:
    for method in ("GET", "PUT", "DELETE"):
        r = await api.control(method, "/__mock__/scripts")
        assert r.status == 405, method


@pytest.mark.parametrize(("path", "body"), [("/__mock__/reset", None), ("/__mock__/seed", {"seed": 4})])
async def test_reset_and_seed_forget_every_script(api: Api, path: str, body: Any) -> None:
    assert (await api.control("POST", "/__mock__/scripts", {"sha256": SHA, "channels": {"1": ["x"]}})).status == 201
    store = api.state.scripts
    assert (await api.control("POST", path, body)).status == 200
    assert len(api.state.scripts) == 0
    assert api.state.scripts is store  # one store per app: the new registry reads the same one
    assert api.state.registry.ctx.scripts is store


async def test_with_a_control_token_scripts_need_it(make_api: Any) -> None:
    api: Api = await make_api(control_token=TOKEN)
    body = f'{{"sha256": "{SHA}", "channels": {{"1": ["x"]}}}}'.encode()
    status, error = await post_raw(api, body)
    assert (status, error["code"]) == (401, 20003)
    status, _ = await post_raw(api, body, {"Authorization": "Bearer wrong-token-of-some-length"})
    assert status == 401
    assert len(api.state.scripts) == 0
    status, answer = await post_raw(api, body, {"Authorization": f"Bearer {TOKEN}"})
    assert (status, answer["key"]) == (201, f"sha256:{SHA}")
    status, _ = await post_raw(api, body, {"X-Mock-Control-Token": TOKEN})
    assert status == 201


async def test_the_index_lists_the_scripts_endpoint(api: Api) -> None:
    index = (await api.control("GET", "/__mock__/")).body
    [entry] = [e for e in index["endpoints"] if e["path"] == "/__mock__/scripts"]
    assert entry["method"] == "POST"
    assert "sha256" in entry["description"]
    assert "media_url" in entry["description"]
