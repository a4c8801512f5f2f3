"""Services, operators and attachments in the domain model (no HTTP)."""

from __future__ import annotations

import pytest

from mock_server._errors import ApiError
from tests.mock_server.domain_support import P, world


def test_create_answers_201_with_an_etag_and_twilio_shape() -> None:
    _, account, _, _ = world()
    result = account.create_service(P(UniqueName="second", AutoRedaction="true", LanguageCode="en-GB"))
    assert result.status == 201
    assert result.headers["ETag"] == '"1"'
    body = result.body
    assert body is not None
    assert body["sid"].startswith("GA")
    assert len(body["sid"]) == 34
    assert body["auto_redaction"] is True
    assert body["language_code"] == "en-GB"
    assert body["url"] == f"https://intelligence.twilio.com/v2/Services/{body['sid']}"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"UniqueName": "x", "AutoTranscribe": "yes"}, "AutoTranscribe"),
        ({"UniqueName": "x", "LanguageCode": "xx-XX"}, "LanguageCode"),
        ({"UniqueName": "x", "WebhookHttpMethod": "PUT"}, "WebhookHttpMethod"),
        ({"UniqueName": "x", "WebhookUrl": "ftp://host/x"}, "WebhookUrl"),
        ({"UniqueName": "x", "MediaRedaction": "true"}, "MediaRedaction"),
        ({"UniqueName": "x", "EncryptionCredentialSid": "CRnope"}, "EncryptionCredentialSid"),
        ({}, "UniqueName"),
    ],
)
def test_invalid_service_parameters_are_20001_naming_the_parameter(params: dict[str, str], named: str) -> None:
    _, account, _, _ = world()
    with pytest.raises(ApiError) as caught:
        account.create_service(P(**params))
    assert (caught.value.status, caught.value.code) == (400, 20001)
    assert named in caught.value.message


def test_unique_name_is_unique_per_account_only() -> None:
    registry, account, _, _ = world()
    with pytest.raises(ApiError) as caught:
        account.create_service(P(UniqueName="calls"))
    assert caught.value.status == 409
    other = registry.create_account()
    assert other.create_service(P(UniqueName="calls")).status == 201


def test_update_bumps_version_and_honours_if_match() -> None:
    _, account, _, sid = world()
    updated = account.update_service(sid, P(FriendlyName="Calls"), if_match='"1"')
    assert updated.body is not None
    assert updated.body["version"] == 2
    assert updated.headers["ETag"] == '"2"'
    with pytest.raises(ApiError) as caught:
        account.update_service(sid, P(FriendlyName="Stale"), if_match='"1"')
    assert caught.value.status == 412
    with pytest.raises(ApiError) as caught:
        account.update_service(sid, P(LanguageCode="fr-FR"))
    assert "LanguageCode" in caught.value.message


def test_delete_then_fetch_is_404_naming_the_path() -> None:
    _, account, _, sid = world()
    assert account.delete_service(sid).status == 204
    with pytest.raises(ApiError) as caught:
        account.fetch_service(sid)
    assert (caught.value.status, caught.value.code) == (404, 20404)
    assert f"/v2/Services/{sid}" in caught.value.message


def test_attachments_and_custom_operators() -> None:
    _, account, _, sid = world()
    prebuilt = account.list_prebuilt_operators(P()).body
    assert prebuilt is not None
    op_sid = prebuilt["operators"][0]["sid"]
    assert account.create_operator_attachment(sid, op_sid).status == 202
    custom = account.create_custom_operator(
        P(FriendlyName="Summary", OperatorType="text-generation", Config='{"prompt": "Summarise"}')
    )
    assert custom.status == 202
    assert custom.body is not None
    custom_sid = custom.body["sid"]
    account.create_operator_attachment(sid, custom_sid)
    attached = account.fetch_operator_attachments(sid).body
    assert attached is not None
    assert attached["operator_sids"] == [op_sid, custom_sid]
    assert account.delete_custom_operator(custom_sid).status == 204
    attached = account.fetch_operator_attachments(sid).body
    assert attached is not None
    assert attached["operator_sids"] == [op_sid]
    with pytest.raises(ApiError):
        account.create_custom_operator(P(FriendlyName="x", OperatorType="extract", Config="{}"))  # not configurable
    with pytest.raises(ApiError) as caught:
        account.create_custom_operator(P(FriendlyName="x", OperatorType="json", Config="[1]"))
    assert "Config" in caught.value.message


def test_prebuilt_sids_are_stable_across_registries_and_seeds() -> None:
    _, first, _, _ = world(seed=1)
    _, second, _, _ = world(seed=2)
    assert first.list_prebuilt_operators(P()).body == second.list_prebuilt_operators(P()).body
    by_name = first.fetch_operator_type("pii-extract").body
    assert by_name is not None
    assert first.fetch_operator_type(by_name["sid"]).body == by_name
