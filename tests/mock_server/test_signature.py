"""X-Twilio-Signature: what the mock signs, twilio-python's RequestValidator accepts, and a 1-char tamper breaks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from mock_server._signature import body_sha256, compute_signature, signed_json_request, with_query

TOKEN = "12345678901234567890123456789012"
URL = "https://mycompany.example/myapp.php?foo=1&bar=2"

text = st.text(st.characters(codec="utf-8"), max_size=20)
names = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12)


def test_matches_a_hand_computed_hmac() -> None:
    # The documented algorithm, spelled out: URL, then each sorted name with its sorted values, no separators.
    params = {"To": ["+18005551212"], "CallSid": ["CA1234567890ABCDE"], "Digits": ["9", "1234"]}
    message = URL + "CallSidCA1234567890ABCDE" + "Digits1234" + "Digits9" + "To+18005551212"
    expected = base64.b64encode(hmac.new(TOKEN.encode(), message.encode(), hashlib.sha1).digest()).decode()
    assert compute_signature(URL, params, TOKEN) == expected


@given(st.dictionaries(names, st.lists(text, min_size=1, max_size=3), max_size=6), text)
def test_form_signature_validates_with_request_validator(params: dict[str, list[str]], token: str) -> None:
    token = token or "t"
    signature = compute_signature(URL, params, token)
    multi = MultiDict((name, value) for name, values in params.items() for value in values)
    assert RequestValidator(token).validate(URL, multi, signature)


def test_plain_string_values_are_single_values() -> None:
    assert compute_signature(URL, {"A": "xy"}, TOKEN) == compute_signature(URL, {"A": ["xy"]}, TOKEN)
    assert RequestValidator(TOKEN).validate(URL, {"A": "xy"}, compute_signature(URL, {"A": "xy"}, TOKEN))


def test_no_params_signs_the_url_alone() -> None:
    signature = compute_signature(URL, None, TOKEN)
    assert signature == compute_signature(URL, {}, TOKEN)
    assert RequestValidator(TOKEN).validate(URL, {}, signature)


def test_one_char_tamper_fails() -> None:
    sid = "GT" + "a" * 32
    signature = compute_signature(URL, {"TranscriptSid": [sid]}, TOKEN)
    validator = RequestValidator(TOKEN)
    assert validator.validate(URL, {"TranscriptSid": sid}, signature)
    assert not validator.validate(URL, {"TranscriptSid": sid[:-1] + "b"}, signature)
    assert not validator.validate(URL.replace("foo", "fop"), {"TranscriptSid": sid}, signature)
    assert not RequestValidator(TOKEN[:-1] + "x").validate(URL, {"TranscriptSid": sid}, signature)


@given(
    st.dictionaries(names, st.one_of(text, st.integers(), st.booleans(), st.none()), max_size=6),
    st.sampled_from(["http://127.0.0.1:8123/hook", "https://example.com/cb?x=1&y=%20z", "https://h.example/"]),
)
def test_json_variant_validates_with_request_validator(body: dict[str, object], url: str) -> None:
    raw = json.dumps(body, separators=(",", ":"))
    signed_url, signature = signed_json_request(url, raw.encode("utf-8"), TOKEN)
    assert parse_qs(urlsplit(signed_url).query)["bodySHA256"] == [body_sha256(raw.encode("utf-8"))]
    assert signed_url.startswith(url)
    # twilio-python checks the hash when given the raw body string, and signs the URL with no params.
    assert RequestValidator(TOKEN).validate(signed_url, raw, signature)


def test_json_variant_one_char_tamper_fails() -> None:
    raw = '{"transcript_sid":"GT0123","event_type":"voice_intelligence_transcript_available"}'
    signed_url, signature = signed_json_request("https://example.com/hook", raw.encode(), TOKEN)
    validator = RequestValidator(TOKEN)
    assert validator.validate(signed_url, raw, signature)
    assert not validator.validate(signed_url, raw.replace("GT0123", "GT0124"), signature)
    tampered = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert not validator.validate(signed_url, raw, tampered)


def test_signature_validates_with_and_without_default_port() -> None:
    raw = b'{"a":"b"}'
    signed_url, signature = signed_json_request("https://example.com/hook", raw, TOKEN)
    with_port = signed_url.replace("example.com", "example.com:443")
    assert RequestValidator(TOKEN).validate(with_port, raw.decode(), signature)


def test_with_query_appends_to_an_existing_query() -> None:
    assert with_query("http://h/p", []) == "http://h/p"
    assert with_query("http://h/p", [("a", "1 2")]) == "http://h/p?a=1+2"
    assert with_query("http://h/p?x=1", [("a", "&")]) == "http://h/p?x=1&a=%26"
