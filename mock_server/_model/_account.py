"""One Twilio account's Intelligence state: services, operator attachments and custom operators.

Transcript operations live in `_transcripts.py` (mixed into `Account`) so each module stays one concern.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mock_server import _strict_json as strict_json
from mock_server._config import LifecycleConfig, MediaConfig
from mock_server._errors import ApiError, conflict, invalid_parameter, not_found, precondition_failed
from mock_server._model._catalogue import (
    OPERATOR_TYPES,
    PREBUILT,
    PREBUILT_BY_SID,
    TYPES_BY_NAME,
    TYPES_BY_SID,
    render_operator_type,
    render_prebuilt,
)
from mock_server._model._context import Context
from mock_server._model._media import new_alert_log
from mock_server._model._params import Params, Result
from mock_server._model._records import CustomOperatorRecord, ServiceRecord, TranscriptRecord
from mock_server._model._render import BASE, iso, paginate
from mock_server._model._transcripts import TranscriptOperations
from mock_server._sids import is_sid

LANGUAGE_CODES = frozenset(
    ("da-DK", "nl-NL", "en-AU", "en-GB", "en-US", "fr-FR", "de-DE", "it-IT", "no-NO", "pl-PL", "pt-BR", "pt-PT",
     "es-MX", "es-ES", "es-US", "sv-SE")
)  # fmt: skip
WEBHOOK_METHODS = ("GET", "POST", "NULL")


class Account(TranscriptOperations):
    def __init__(
        self,
        sid: str,
        auth_token: str,
        ctx: Context,
        lifecycle: LifecycleConfig | None = None,
        media: MediaConfig | None = None,
    ) -> None:
        self.sid = sid
        self.auth_token = auth_token
        self.ctx = ctx
        self.lifecycle = lifecycle or LifecycleConfig()
        self.media = media or MediaConfig()
        self.alerts = new_alert_log()
        self.recordings: dict[str, bytes] = {}
        self.services: dict[str, ServiceRecord] = {}
        self.transcripts: dict[str, TranscriptRecord] = {}
        self.order: list[TranscriptRecord] = []
        self.by_source_sid: dict[str, str] = {}
        self.customer_keys: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.custom_operators: dict[str, CustomOperatorRecord] = {}

    def __repr__(self) -> str:  # never the auth token
        return f"Account({self.sid})"

    def stats(self) -> dict[str, Any]:
        return {
            "transcripts_created": self.counts["created"],
            "transcripts_completed": self.counts["completed"],
            "transcripts_failed": self.counts["failed"],
            "transcripts_deleted": self.counts["deleted"],
            "transcripts_stored": len(self.transcripts),
            "transcripts_by_customer_key": dict(self.customer_keys),
            "services": len(self.services),
            **self.media_stats(),
        }

    # --- services ----------------------------------------------------------------------------------------------

    def _service(self, sid: str) -> ServiceRecord:
        service = self.services.get(sid)
        if service is None:
            raise not_found(f"/v2/Services/{sid}")
        return service

    def _render_service(self, s: ServiceRecord) -> dict[str, Any]:
        return {
            "account_sid": self.sid,
            "auto_redaction": s.auto_redaction,
            "media_redaction": s.media_redaction,
            "auto_transcribe": s.auto_transcribe,
            "data_logging": s.data_logging,
            "date_created": iso(s.created),
            "date_updated": iso(s.updated),
            "friendly_name": s.friendly_name,
            "language_code": s.language_code,
            "sid": s.sid,
            "unique_name": s.unique_name,
            "url": f"{BASE}/v2/Services/{s.sid}",
            "webhook_url": s.webhook_url,
            "webhook_http_method": s.webhook_http_method,
            "read_only_attached_operator_sids": list(s.operator_sids),
            "version": s.version,
            "encryption_credential_sid": s.encryption_credential_sid,
        }

    def _service_result(self, status: int, s: ServiceRecord) -> Result:
        return Result(status, self._render_service(s), {"ETag": f'"{s.version}"'})

    def _apply_service_fields(self, s: ServiceRecord, p: Params, *, creating: bool) -> None:
        if "UniqueName" in p and not creating:
            name = p.required("UniqueName")
            if any(o.unique_name == name and o is not s for o in self.services.values()):
                raise conflict(f"UniqueName '{name}' is already used by another Service")
            s.unique_name = name
        if "FriendlyName" in p:
            s.friendly_name = p.get("FriendlyName")
        auto_transcribe = p.bool("AutoTranscribe", None)
        auto_redaction = p.bool("AutoRedaction", None)
        media_redaction = p.bool("MediaRedaction", None)
        data_logging = p.bool("DataLogging", None)
        if data_logging is not None:
            s.data_logging = data_logging
        if auto_transcribe is not None:
            s.auto_transcribe = auto_transcribe
        if auto_redaction is not None:
            s.auto_redaction = auto_redaction
        if media_redaction is not None:
            s.media_redaction = media_redaction
        if s.media_redaction and not s.auto_redaction:
            raise invalid_parameter("MediaRedaction", "true", "requires AutoRedaction to be enabled")
        if "WebhookUrl" in p:
            url = p.get("WebhookUrl") or None
            if url is not None and not url.startswith(("http://", "https://")):
                raise invalid_parameter("WebhookUrl", url, "must be an http or https URL")
            s.webhook_url = url
        if "WebhookHttpMethod" in p:
            method = (p.get("WebhookHttpMethod") or "").upper()
            if method not in WEBHOOK_METHODS:
                raise invalid_parameter("WebhookHttpMethod", p.get("WebhookHttpMethod"), "must be GET, POST or NULL")
            s.webhook_http_method = method
        if "EncryptionCredentialSid" in p:
            cr = p.get("EncryptionCredentialSid") or None
            if cr is not None and not is_sid(cr, "CR"):
                raise invalid_parameter("EncryptionCredentialSid", cr, "must be a Credential SID (CR…)")
            s.encryption_credential_sid = cr

    def create_service(self, p: Params) -> Result:
        name = p.required("UniqueName")
        if any(s.unique_name == name for s in self.services.values()):
            raise conflict(f"UniqueName '{name}' is already used by another Service")
        language = p.get("LanguageCode") or "en-US"
        if language not in LANGUAGE_CODES:
            raise invalid_parameter("LanguageCode", language, "not a supported language")
        service = ServiceRecord(self.ctx.sids.new("GA"), name, self.ctx.clock.now())
        service.language_code = language
        self._apply_service_fields(service, p, creating=True)
        self.services[service.sid] = service
        return self._service_result(201, service)

    def list_services(self, p: Params) -> Result:
        items = list(self.services.values())
        return Result(200, paginate(p, key="services", path="/v2/Services", items=items, render=self._render_service))

    def fetch_service(self, sid: str) -> Result:
        return self._service_result(200, self._service(sid))

    def update_service(self, sid: str, p: Params, if_match: str | None = None) -> Result:
        service = self._service(sid)
        if if_match is not None and if_match.strip('"') not in (str(service.version), "*"):
            raise precondition_failed(f'"{service.version}"')
        if "LanguageCode" in p:
            raise invalid_parameter("LanguageCode", p.get("LanguageCode"), "cannot be changed on a Service")
        self._apply_service_fields(service, p, creating=False)
        service.version += 1
        service.updated = self.ctx.clock.now()
        return self._service_result(200, service)

    def delete_service(self, sid: str) -> Result:
        self._service(sid)
        del self.services[sid]
        return Result(204, None)

    # --- operator attachments ----------------------------------------------------------------------------------

    def _operator_exists(self, sid: str) -> bool:
        return sid in PREBUILT_BY_SID or sid in self.custom_operators

    def create_operator_attachment(self, service_sid: str, operator_sid: str) -> Result:
        service = self._service(service_sid)
        if not self._operator_exists(operator_sid):
            raise not_found(f"/v2/Services/{service_sid}/Operators/{operator_sid}")
        if operator_sid not in service.operator_sids:
            service.operator_sids.append(operator_sid)
        return Result(202, self._attachment(service_sid, operator_sid))

    def delete_operator_attachment(self, service_sid: str, operator_sid: str) -> Result:
        service = self._service(service_sid)
        if operator_sid not in service.operator_sids:
            raise not_found(f"/v2/Services/{service_sid}/Operators/{operator_sid}")
        service.operator_sids.remove(operator_sid)
        return Result(204, None)

    def fetch_operator_attachments(self, service_sid: str) -> Result:
        service = self._service(service_sid)
        url = f"{BASE}/v2/Services/{service_sid}/Operators"
        return Result(200, {"service_sid": service_sid, "operator_sids": list(service.operator_sids), "url": url})

    @staticmethod
    def _attachment(service_sid: str, operator_sid: str) -> dict[str, Any]:
        url = f"{BASE}/v2/Services/{service_sid}/Operators/{operator_sid}"
        return {"service_sid": service_sid, "operator_sid": operator_sid, "url": url}

    # --- operators, pre-built and custom -----------------------------------------------------------------------

    def _render_custom(self, o: CustomOperatorRecord, url_path: str = "Operators/Custom") -> dict[str, Any]:
        return {
            "account_sid": self.sid,
            "sid": o.sid,
            "friendly_name": o.friendly_name,
            "description": None,
            "author": self.sid,
            "operator_type": o.operator_type,
            "version": o.version,
            "availability": "public",
            "config": o.config,
            "date_created": iso(o.created),
            "date_updated": iso(o.updated),
            "url": f"{BASE}/v2/{url_path}/{o.sid}",
        }

    def operator_name_and_type(self, sid: str) -> tuple[str, str]:
        prebuilt = PREBUILT_BY_SID.get(sid)
        if prebuilt is not None:
            return prebuilt.friendly_name, prebuilt.operator_type
        custom = self.custom_operators.get(sid)
        return (custom.friendly_name, custom.operator_type) if custom else ("Removed Operator", "extract")

    @staticmethod
    def _check_filters(p: Params) -> tuple[str | None, str | None, list[tuple[str, str]]]:
        availability = p.get("Availability")
        if availability is not None and availability not in (
            "internal", "beta", "public", "deprecated", "general-availability", "retired",
        ):  # fmt: skip
            raise invalid_parameter("Availability", availability, "not an availability")
        language = p.get("LanguageCode")
        filters = [(k, v) for k, v in (("Availability", availability), ("LanguageCode", language)) if v]
        return availability, language, filters

    def list_operators(self, p: Params) -> Result:
        availability, language, filters = self._check_filters(p)
        rows: list[dict[str, Any]] = [render_prebuilt(o, url_path="Operators") for o in PREBUILT]
        rows += [self._render_custom(o, "Operators") for o in self.custom_operators.values()]
        rows = [r for r in rows if availability in (None, r["availability"]) and language in (None, "en-US")]
        body = paginate(p, key="operators", path="/v2/Operators", items=rows, render=dict, filters=filters)
        return Result(200, body)

    def fetch_operator(self, sid: str) -> Result:
        if sid in PREBUILT_BY_SID:
            return Result(200, render_prebuilt(PREBUILT_BY_SID[sid], url_path="Operators"))
        if sid in self.custom_operators:
            return Result(200, self._render_custom(self.custom_operators[sid], "Operators"))
        raise not_found(f"/v2/Operators/{sid}")

    def list_prebuilt_operators(self, p: Params) -> Result:
        availability, language, filters = self._check_filters(p)
        rows = [
            render_prebuilt(o) for o in PREBUILT if availability in (None, "general-availability") and language in (
                None, "en-US",
            )
        ]  # fmt: skip
        path = "/v2/Operators/PreBuilt"
        return Result(200, paginate(p, key="operators", path=path, items=rows, render=dict, filters=filters))

    def fetch_prebuilt_operator(self, sid: str) -> Result:
        if sid not in PREBUILT_BY_SID:
            raise not_found(f"/v2/Operators/PreBuilt/{sid}")
        return Result(200, render_prebuilt(PREBUILT_BY_SID[sid]))

    @staticmethod
    def _config(p: Params) -> object:
        raw = p.required("Config")
        try:
            config = strict_json.loads(raw)
        except ValueError as exc:
            raise invalid_parameter("Config", raw, f"must be a JSON object: {exc}") from None
        if not isinstance(config, dict):
            raise invalid_parameter("Config", raw, "must be a JSON object")
        return config

    def create_custom_operator(self, p: Params) -> Result:
        name = p.required("FriendlyName")
        type_name = p.required("OperatorType")
        operator_type = TYPES_BY_NAME.get(type_name) or TYPES_BY_SID.get(type_name)
        if operator_type is None:
            raise invalid_parameter("OperatorType", type_name, "not an operator type")
        if not operator_type.configurable:
            raise invalid_parameter("OperatorType", type_name, "this operator type cannot be configured")
        record = CustomOperatorRecord(
            self.ctx.sids.new("LY"), name, operator_type.name, self._config(p), self.ctx.clock.now()
        )
        self.custom_operators[record.sid] = record
        return Result(202, self._render_custom(record), {"ETag": f'"{record.version}"'})

    def list_custom_operators(self, p: Params) -> Result:
        availability, _, filters = self._check_filters(p)
        items = [o for o in self.custom_operators.values() if availability in (None, "public")]
        path = "/v2/Operators/Custom"
        body = paginate(p, key="operators", path=path, items=items, render=self._render_custom, filters=filters)
        return Result(200, body)

    def _custom(self, sid: str) -> CustomOperatorRecord:
        record = self.custom_operators.get(sid)
        if record is None:
            raise not_found(f"/v2/Operators/Custom/{sid}")
        return record

    def fetch_custom_operator(self, sid: str) -> Result:
        record = self._custom(sid)
        return Result(200, self._render_custom(record), {"ETag": f'"{record.version}"'})

    def update_custom_operator(self, sid: str, p: Params, if_match: str | None = None) -> Result:
        record = self._custom(sid)
        if if_match is not None and if_match.strip('"') not in (str(record.version), "*"):
            raise precondition_failed(f'"{record.version}"')
        name = p.required("FriendlyName")
        record.config = self._config(p)
        record.friendly_name = name
        record.version += 1
        record.updated = self.ctx.clock.now()
        return Result(202, self._render_custom(record), {"ETag": f'"{record.version}"'})

    def delete_custom_operator(self, sid: str) -> Result:
        self._custom(sid)
        del self.custom_operators[sid]
        for service in self.services.values():
            if sid in service.operator_sids:
                service.operator_sids.remove(sid)
        return Result(204, None)

    def list_operator_types(self, p: Params) -> Result:
        _, language, filters = self._check_filters(p)
        rows = [t for t in OPERATOR_TYPES if language in (None, "en-US")]
        path = "/v2/OperatorTypes"
        body = paginate(p, key="operator_types", path=path, items=rows, render=render_operator_type, filters=filters)
        return Result(200, body)

    def fetch_operator_type(self, sid_or_name: str) -> Result:
        operator_type = TYPES_BY_SID.get(sid_or_name) or TYPES_BY_NAME.get(sid_or_name)
        if operator_type is None:
            raise not_found(f"/v2/OperatorTypes/{sid_or_name}")
        return Result(200, render_operator_type(operator_type))


__all__ = ["Account", "ApiError"]
