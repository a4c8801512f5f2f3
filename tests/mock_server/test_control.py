"""The /__mock__/ control plane: accounts, keys, layered config, stats, reset, seed; and the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import mock_server
from mock_server._stats import STATS_KEYS
from tests.mock_server.support import Api, basic, channel_json


async def test_create_account_with_config_and_token(api: Api) -> None:
    r = await api.control("POST", "/__mock__/accounts", {"concurrency_limit": 3, "auth_token": "t0k3n"})
    assert r.status == 201
    assert set(r.body) == {"account_sid", "auth_token"}
    assert r.body["auth_token"] == "t0k3n"
    sid = r.body["account_sid"]
    assert (await api.call("GET", "/v2/Services", None, headers=basic(sid, "t0k3n"))).status == 200
    config = await api.control("GET", f"/__mock__/accounts/{sid}/config")
    assert config.body["concurrency_limit"] == 3
    stats = await api.control("GET", f"/__mock__/accounts/{sid}/stats")
    assert stats.body["current_limit"] == 3


@pytest.mark.parametrize(
    ("method", "path", "body", "named"),
    [
        ("PATCH", "/__mock__/config", {"concurency_limit": 3}, "concurency_limit"),
        ("PATCH", "/__mock__/config", {"faults": {"eror_5xx": 0.1}}, "faults.eror_5xx"),
        ("PATCH", "/__mock__/config", {"latency_ms": -1}, "latency_ms"),
        ("POST", "/__mock__/accounts", {"bogus": True}, "bogus"),
    ],
)
async def test_unknown_or_bad_config_key_is_400_naming_it(
    api: Api, method: str, path: str, body: dict[str, Any], named: str
) -> None:
    before = len(api.state.accounts)
    r = await api.control(method, path, body)
    assert r.status == 400
    assert f"'{named}'" in r.body["message"]
    assert len(api.state.accounts) == before  # nothing was created


async def test_account_config_layers_over_the_global_config(api: Api) -> None:
    a = await api.account(concurrency_limit=2)
    b = await api.account()
    r = await api.control("PATCH", "/__mock__/config", {"concurrency_limit": 7, "retry_after": True})
    assert r.status == 200
    assert r.body["concurrency_limit"] == 7
    a_config = (await api.control("GET", f"/__mock__/accounts/{a.sid}/config")).body
    b_config = (await api.control("GET", f"/__mock__/accounts/{b.sid}/config")).body
    assert (a_config["concurrency_limit"], a_config["retry_after"]) == (2, True)  # own override kept, rest follows
    assert (b_config["concurrency_limit"], b_config["retry_after"]) == (7, True)
    r = await api.control("PATCH", f"/__mock__/accounts/{b.sid}/config", {"concurrency_limit": 1})
    assert r.body["concurrency_limit"] == 1
    assert (await api.control("GET", "/__mock__/config")).body["concurrency_limit"] == 7
    assert (await api.control("PATCH", f"/__mock__/accounts/{b.sid}/config", {"nope": 1})).status == 400
    assert (await api.control("GET", "/__mock__/accounts/AC0/config")).status == 404


async def test_keys_full_and_restricted(api: Api) -> None:
    r = await api.control("POST", f"/__mock__/accounts/{api.dev.sid}/keys", {"permissions": None})
    assert r.status == 201
    assert r.body["sid"].startswith("SK")
    assert r.body["permissions"] is None
    r = await api.control("POST", f"/__mock__/accounts/{api.dev.sid}/keys", {"permissions": ["/twilio/x/y/read"]})
    assert r.body["permissions"] == ["/twilio/x/y/read"]
    assert (await api.control("POST", f"/__mock__/accounts/{api.dev.sid}/keys", {"permissions": "all"})).status == 400
    assert (await api.control("POST", "/__mock__/accounts/ACnope/keys", {})).status == 404


async def test_accounts_are_isolated(api: Api) -> None:
    a = await api.account(concurrency_limit=1)
    b = await api.account()
    svc = await api.service(a)
    await api.transcript(a, svc, customer_key="only-a")
    assert (await api.call("GET", f"/v2/Services/{svc}", b)).status == 404
    listed = await api.call("GET", "/v2/Transcripts", b)
    assert listed.body["transcripts"] == []
    a_stats = (await api.control("GET", f"/__mock__/accounts/{a.sid}/stats")).body
    b_stats = (await api.control("GET", f"/__mock__/accounts/{b.sid}/stats")).body
    assert a_stats["transcripts_by_customer_key"] == {"only-a": 1}
    assert b_stats["transcripts_created"] == 0
    assert (a_stats["requests"], b_stats["requests"]) == (2, 2)
    assert b_stats["current_limit"] is None
    assert a_stats["current_limit"] == 1


async def test_stats_documents(api: Api) -> None:
    dev = api.dev
    svc = await api.service(dev)
    await api.transcript(dev, svc, customer_key="k")
    await api.transcript(dev, svc, customer_key="k")
    await api.call("GET", "/v2/Nope", None)
    stats = (await api.control("GET", "/__mock__/stats")).body
    for key in (
        "requests",
        "responses_by_status",
        "rejected_429",
        "peak_in_flight",
        "in_flight",
        "transcripts_created",
        "transcripts_by_customer_key",
        "transcripts_completed",
        "webhooks_sent",
        "webhooks_failed",
        "accounts",
    ):
        assert key in stats, key
    assert stats["requests"] == 4
    assert stats["responses_by_status"] == {"201": 1, "202": 2, "404": 1}
    assert stats["transcripts_by_customer_key"] == {"k": 2}
    assert stats["transcripts_completed"] == 2
    assert stats["unexpected_errors"] == 0
    one = stats["accounts"][dev.sid]
    for key in ("current_limit", "in_flight", "peak_in_flight", "rejected_429", "webhooks_sent", "webhooks_failed"):
        assert key in one, key
    assert one["in_flight"] == 0
    assert one["peak_in_flight"] == 1


async def test_reset_forgets_state_keeps_config_and_restores_the_dev_account(api: Api) -> None:
    dev_before = api.dev
    await api.control("PATCH", "/__mock__/config", {"retry_after": True})
    other = await api.account()
    svc = await api.service(dev_before)
    r = await api.control("POST", "/__mock__/reset")
    assert r.status == 200
    assert api.dev == dev_before  # same SID and token as at startup
    assert (await api.call("GET", f"/v2/Services/{svc}", dev_before)).status == 404
    assert (await api.call("GET", "/v2/Services", other)).status == 401
    assert (await api.control("GET", "/__mock__/config")).body["retry_after"] is True
    assert (await api.control("GET", "/__mock__/stats")).body["requests"] == 2  # the two calls since the reset


async def test_seed_resets_so_the_same_requests_get_the_same_sids(api: Api) -> None:
    async def run() -> list[str]:
        assert (await api.control("POST", "/__mock__/seed", {"seed": 42})).status == 200
        account = await api.account()
        svc = await api.service(account)
        r = await api.call("POST", "/v2/Transcripts", account, data={"ServiceSid": svc, "Channel": channel_json()})
        return [account.sid, account.token, svc, r.body["sid"]]

    first, second = await run(), await run()
    assert first == second
    assert (await api.control("POST", "/__mock__/seed", {"seed": "x"})).status == 400


async def _script(api: Api) -> list[Any]:
    """A run touching every seeded choice: dev credentials, SIDs, secrets, faults, lifecycle failures."""
    index = (await api.control("GET", "/__mock__/")).body
    seen: list[Any] = [index["dev_account_sid"], index["dev_service_sid"], api.dev.token]
    account = await api.account(lifecycle={"mode": "immediate", "failure_rate": 0.5}, faults={"error_5xx": 0.3})
    key = await api.key(account, None)
    seen += [account.sid, account.token, key.sid, key.token]
    for i in range(12):
        r = await api.call("POST", "/v2/Services", account, data={"UniqueName": f"s{i}"})
        seen.append((r.status, r.body.get("sid")))
    services = [sid for status, sid in seen[-12:] if status == 201]
    for i in range(12):
        form = {"ServiceSid": services[0], "Channel": channel_json(), "CustomerKey": f"k{i}"}
        r = await api.call("POST", "/v2/Transcripts", key, data=form)
        seen.append((r.status, r.body.get("sid"), r.body.get("status")))
    return seen


@pytest.mark.parametrize("seed", [0, 42, 2**63 - 1])
async def test_seed_n_behaves_exactly_as_a_fresh_seed_n_process(make_api: Any, seed: int) -> None:
    used = await make_api(seed=7)
    await _script(used)  # state, counters and generators all moved on
    await used.control("PATCH", "/__mock__/config", {"retry_after": True})
    r = await used.control("POST", "/__mock__/seed", {"seed": seed})
    assert r.status == 200
    fresh = await make_api({"retry_after": True}, seed=seed)  # same config, as when restarted with --config
    assert r.body == {"seed": seed, "dev_account_sid": fresh.dev.sid, "dev_service_sid": fresh.state.dev_service_sid}
    assert await _script(used) == await _script(fresh)
    assert (await used.control("GET", "/__mock__/stats")).body == (await fresh.control("GET", "/__mock__/stats")).body


@pytest.mark.parametrize(
    "body", [{"seed": -1}, {"seed": 2**63}, {"seed": 1.0}, {"seed": True}, {}, {"seed": 1, "x": 2}]
)
async def test_seed_refuses_what_is_not_a_seed(api: Api, body: dict[str, Any]) -> None:
    r = await api.control("POST", "/__mock__/seed", body)
    assert r.status == 400
    assert r.body["code"] == 20001


async def test_same_seed_gives_the_same_dev_account(make_api: Any) -> None:
    a, b, c = await make_api(seed=5), await make_api(seed=5), await make_api(seed=6)
    assert a.dev == b.dev
    assert a.dev != c.dev


def _readme_stats_keys() -> set[str]:
    """The keys README's control-plane table promises for `GET /__mock__/stats`."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `GET /__mock__/stats`"))
    answer = row.split("|")[2]
    return set(re.findall(r"`([a-z_0-9]+)`", answer))


async def test_stats_have_every_key_the_readme_lists_globally_and_per_account(api: Api) -> None:
    promised = _readme_stats_keys()
    assert set(STATS_KEYS) <= promised | {"accounts"}, "README lists fewer keys than the code promises"
    assert promised - {"accounts"} <= set(STATS_KEYS)
    other = await api.account(concurrency_limit=3)
    stats = (await api.control("GET", "/__mock__/stats")).body
    assert promised <= set(stats), promised - set(stats)
    for sid in (api.dev.sid, other.sid):
        one = (await api.control("GET", f"/__mock__/accounts/{sid}/stats")).body
        assert promised - {"accounts"} <= set(one), promised - set(one)
        assert stats["accounts"][sid] == one
    assert stats["accounts"][other.sid]["current_limit"] == 3
    assert stats["current_limit"] is None  # the global config sets no limit
    await api.control("PATCH", "/__mock__/config", {"concurrency_limit": 9})
    assert (await api.control("GET", "/__mock__/stats")).body["current_limit"] == 9


async def test_global_stats_total_every_counter_of_the_accounts(api: Api) -> None:
    svc = api.state.dev_service_sid
    t = await api.transcript(api.dev, svc, customer_key="a")
    assert (await api.call("DELETE", f"/v2/Transcripts/{t['sid']}", api.dev)).status == 204
    other = await api.account(lifecycle={"mode": "immediate", "failure_rate": 1.0})
    await api.transcript(other, await api.service(other), customer_key="a")
    stats = (await api.control("GET", "/__mock__/stats")).body
    accounts = stats["accounts"].values()
    summed = ("transcripts_created", "transcripts_completed", "transcripts_failed", "transcripts_deleted",
              "webhooks_sent", "webhooks_failed", "webhooks_dropped", "connections_dropped")  # fmt: skip
    for key in summed:
        assert stats[key] == sum(one[key] for one in accounts), key
    assert (stats["transcripts_deleted"], stats["transcripts_failed"]) == (1, 1)
    assert stats["transcripts_by_customer_key"] == {"a": 2}


async def test_the_index_lists_every_control_endpoint(api: Api) -> None:
    for path in ("/__mock__/", "/__mock__"):
        r = await api.control("GET", path)
        assert r.status == 200
        listed = {(e["method"], e["path"]) for e in r.body["endpoints"]}
        assert all(e["description"] for e in r.body["endpoints"])
        assert r.body["dev_account_sid"] == api.dev.sid
        assert r.body["dev_service_sid"] == api.state.dev_service_sid
    routed = {
        r.canonical.replace("{account_sid}", "{AccountSid}").replace("{sid}", "{TranscriptSid}")
        for r in api.client.app.router.resources()
        if r.canonical.startswith("/__mock__")
    }
    assert {path for _, path in listed} == routed - {"/__mock__"}  # every route is in the index, and only those
    # Every listed endpoint answers its method (a placeholder SID gives 404/403, never 405).
    for method, path in listed:
        concrete = path.replace("{AccountSid}", api.dev.sid).replace("{TranscriptSid}", "GT" + "0" * 32)
        r = await api.control(method, concrete, {} if method != "GET" else None)
        assert r.status != 405, (method, path)
        assert r.status < 500


async def test_control_plane_errors_are_json(api: Api) -> None:
    r = await api.control("DELETE", "/__mock__/config")
    assert r.status == 405
    assert r.body["code"] == 20004
    async with api.client.post("/__mock__/accounts", data=b"{oops", headers={"Content-Type": "application/json"}) as r2:
        assert r2.status == 400
        assert (await r2.json())["code"] == 20001


@pytest.mark.parametrize(
    ("method", "path", "raw", "said"),
    [
        ("PATCH", "/__mock__/config", b"[" * 100_000 + b"]" * 100_000, "nested deeper than"),  # was a text/plain 500
        ("PATCH", "/__mock__/config", b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested deeper than"),
        ("PATCH", "/__mock__/config", b'{"latency_ms": NaN}', "NaN is not a JSON value"),
        ("PATCH", "/__mock__/config", b'{"latency_ms": 1e999}', "out of range"),
        ("PATCH", "/__mock__/config", b"[1, 2]", "got a JSON array"),
        ("PATCH", "/__mock__/config", b'"x"', "got a JSON string"),
        ("PATCH", "/__mock__/config", b"\xff\xfe", "not UTF-8"),
        ("PATCH", "/__mock__/config", b'{"concurrency_limit": "4"}', "'concurrency_limit'"),
        ("POST", "/__mock__/accounts", b'{"auth_token": 5}', "'auth_token'"),
        ("POST", "/__mock__/accounts", b'{"auth_token": "a\\u0000b"}', "'auth_token'"),
        ("POST", "/__mock__/accounts", b'{"x": "\\ud800"}', "surrogate"),
        ("POST", "/__mock__/seed", b'{"seed": "1"}', "'seed'"),
        ("POST", "/__mock__/reset", b"{oops", "must be a JSON object"),
    ],
)
async def test_bad_control_bodies_are_400_json_naming_the_problem(
    api: Api, method: str, path: str, raw: bytes, said: str
) -> None:
    async with api.client.request(method, path, data=raw, headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert r.content_type == "application/json"
        body = await r.json()
    assert body["code"] == 20001
    assert said in body["message"]
    assert api.state.unexpected_errors == 0


# --- the command line -----------------------------------------------------------------------------------------


def test_main_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert mock_server.main(["--help"]) == 0
    assert "--seed" in capsys.readouterr().out
    assert mock_server.main(["--port", "nope"]) == 2


def test_main_bad_config_file_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mock.toml"
    path.write_text("concurrency_limit = 4\n[faults]\nerror5xx = 0.5\n", encoding="utf-8")
    assert mock_server.main(["--config", str(path)], prog="cintel mock") == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert "faults.error5xx" in err
    assert mock_server.main(["--config", str(tmp_path / "missing.toml")]) == 2


async def test_an_oversized_control_body_is_413_json(api: Api) -> None:
    raw = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    async with api.client.patch("/__mock__/config", data=raw, headers={"Content-Type": "application/json"}) as r:
        assert r.status == 413
        assert (await r.json())["message"] == "Request body too large"
    assert api.state.unexpected_errors == 0
