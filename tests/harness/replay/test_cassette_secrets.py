"""What never reaches a cassette (properties over tokens, secrets and signed URLs), and cassettes that are refused."""

from __future__ import annotations

import base64
import json
import string
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import IntelligenceClient
from harness._redact import _CREDENTIAL_PARAMETERS
from harness.replay import CassetteError, Recorder, Scrubber, load_cassette, parse_cassette
from harness.replay._scrub import CREDENTIAL_PARAMETERS

SECRET = st.text(string.ascii_letters + string.digits, min_size=16, max_size=40)
PARAMETER = st.sampled_from(["X-Amz-Signature", "Signature", "sig", "X-Goog-Signature", "token", "X-Amz-Credential"])


def _echo(request: httpx.Request) -> httpx.Response:
    """Answers as Twilio does: the create's Channel (with its media URL) echoed in the body; plus a Location."""
    fields = dict(httpx.QueryParams(request.content.decode()))
    channel = json.loads(fields.get("Channel", "{}"))
    url = channel.get("media_properties", {}).get("media_url", "")
    body = {"sid": "GT" + "a" * 32, "account_sid": "AC" + "b" * 32, "channel": channel, "status": "queued",
            "customer_key": fields.get("CustomerKey")}  # fmt: skip
    return httpx.Response(202, json=body, headers={"Location": url, "X-Echo": url}, request=request)


def test_the_credential_parameters_are_those_the_harness_scrubs_everywhere() -> None:
    assert _CREDENTIAL_PARAMETERS <= CREDENTIAL_PARAMETERS


@given(token=SECRET, signature=SECRET, parameter=PARAMETER, key=st.booleans())
async def test_no_token_api_secret_basic_credentials_or_signature_is_written(
    tmp_path_factory: pytest.TempPathFactory, token: str, signature: str, parameter: str, key: bool
) -> None:
    account = "AC" + "1" * 32
    url = f"https://bucket.example.com/a b/c.wav?X-Amz-Date=20250101&{parameter}={quote(signature)}&x=1"
    credentials = {"api_key": "SK" + "2" * 32, "api_secret": token} if key else {"auth_token": token}
    recorder = Recorder()
    transport = recorder.wrap(httpx.MockTransport(_echo))
    async with IntelligenceClient(account, base_url="http://127.0.0.1:9", transport=transport, **credentials) as c:
        await c.create_transcript("GA" + "3" * 32, {"media_properties": {"media_url": url}}, customer_key="k")
    path = tmp_path_factory.mktemp("c") / "c.json"
    recorder.save(path)
    raw = path.read_bytes()

    username = credentials.get("api_key", account)
    basic = base64.b64encode(f"{username}:{token}".encode())
    for secret in (token.encode(), basic, signature.encode(), quote(signature).encode()):
        assert secret not in raw
    assert f"{parameter}=<redacted>".encode() in raw
    assert b"X-Amz-Date=20250101" in raw  # parameters that are not credentials stay readable
    load_cassette(path)  # and the file still validates


@given(token=SECRET)
def test_a_learned_secret_is_scrubbed_in_any_later_text_and_scrubbing_twice_changes_nothing(token: str) -> None:
    scrubber = Scrubber()
    scrubber.header("Authorization", "Basic " + base64.b64encode(f"AC{'1' * 32}:{token}".encode()).decode())
    text = f"an S3 error echoing <SignatureProvided>{token}</SignatureProvided> and ?token={quote(token)}"
    once = scrubber.text(text)

    assert token not in once
    assert quote(token) not in once
    assert scrubber.text(once) == once


def test_pseudonyms_are_consistent_and_in_order_of_first_appearance() -> None:
    first, second = "AC" + "a" * 32, "AC" + "b" * 32
    scrubber = Scrubber(pseudonymise=True)
    text = scrubber.text(f"/Accounts/{second}/x?AccountSid={first}&Other={second}")
    value = scrubber.value({first: [second, {"account_sid": first}]})

    one, two = "AC" + "0" * 31 + "1", "AC" + "0" * 31 + "2"
    assert text == f"/Accounts/{one}/x?AccountSid={two}&Other={one}"
    assert value == {two: [one, {"account_sid": two}]}
    assert scrubber.text(text) == text  # pseudonyms are not pseudonymised again


def test_headers_that_carry_credentials_keep_only_their_name() -> None:
    scrubber = Scrubber()
    for name in ("Authorization", "X-Twilio-Signature", "Cookie", "X-Api-Key", "X-Auth-Token"):
        assert scrubber.header(name, "value-of-it") == (name.lower(), "<redacted>")
    assert scrubber.header("Content-Type", "application/json") == ("content-type", "application/json")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[]", "a cassette is a JSON object, not list"),
        ("{", "not JSON"),
        ('{"version": 2}', "version 2 is not one this cintel reads (it reads 1)"),
        ('{"version": 1, "exchanges": [{"id": 1, "at_ms": 0, "request": {"method": "GET", "url": "ftp://x"},'
         ' "response": {"status": 200}}]}', "exchanges.0.request.url = \"ftp://x\": String should match pattern"),
        ('{"version": 1, "exchanges": [{"id": 1, "at_ms": 0, "request": {"method": "GET", "url": "http://x/"}}]}',
         '"url": "http://x/"}}: an exchange has exactly one of response and error'),
        ('{"version": 1, "exchanges": [{"id": 1, "at_ms": 0, "request": {"method": "GET", "url": "http://x/"},'
         ' "response": {"status": 200, "body": {"json": 1, "text": "1"}}}]}',
         "a body has exactly one of json, form, text, base64, omitted (here: json, text)"),
        ('{"version": 1, "exchanges": [], "extra": true}', "extra = true: Extra inputs are not permitted"),
        ('{"version": 1, "callbacks": [{"id": 1, "at_ms": 0, "after_exchanges": -1, "method": "POST",'
         ' "target": "/callbacks"}]}', "callbacks.0.after_exchanges = -1"),
    ],
)  # fmt: skip
def test_a_malformed_cassette_is_refused_naming_the_key_and_value(document: str, message: str) -> None:
    with pytest.raises(CassetteError) as error:
        parse_cassette(document, source="run.json")
    assert str(error.value).startswith("run.json: ")
    assert message in str(error.value)


def test_a_missing_or_binary_cassette_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match=r"absent.json: cannot read the cassette: No such file"):
        load_cassette(tmp_path / "absent.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CassetteError, match=r"bin.json: not UTF-8 text"):
        load_cassette(tmp_path / "bin.json")
