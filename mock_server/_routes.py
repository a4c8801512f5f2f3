"""The URL table of the Twilio-facing API, and nothing else.

Every Intelligence v2 operation in Twilio's OpenAPI file (tests/specs/twilio_intelligence_v2.json) is one `Route`:
its method and path template, its operationId, the route family that limits and latencies are configured by, the
restricted-key permission it needs, and the account method that performs it.


method  path (TSid = TranscriptSid, SvcSid = ServiceSid, OpSid = OperatorSid)  operationId  permission
family 'services':
    POST   /v2/Services                                      CreateService                  services/create
    GET    /v2/Services                                      ListService                    services/list
    GET    /v2/Services/{Sid}                                FetchService                   services/read
    POST   /v2/Services/{Sid}                                UpdateService                  services/update
    DELETE /v2/Services/{Sid}                                DeleteService                  services/delete
    GET    /v2/Services/{SvcSid}/Operators                   FetchOperatorAttachments       operator-attachment/list
    POST   /v2/Services/{SvcSid}/Operators/{OpSid}           CreateOperatorAttachment       operator-attachment/create
    DELETE /v2/Services/{SvcSid}/Operators/{OpSid}           DeleteOperatorAttachment       operator-attachment/delete
family 'transcripts':
    POST   /v2/Transcripts                                   CreateTranscript               transcripts/create
    GET    /v2/Transcripts                                   ListTranscript                 transcripts/list
    GET    /v2/Transcripts/{Sid}                             FetchTranscript                transcripts/read
    DELETE /v2/Transcripts/{Sid}                             DeleteTranscript               transcripts/delete
family 'sentences':
    GET    /v2/Transcripts/{TSid}/Sentences                  ListSentence                   transcript-sentences/read
    GET    /v2/Transcripts/{TSid}/Sentences/Encrypted        FetchEncryptedSentences        transcript-sentences/read
family 'media':
    GET    /v2/Transcripts/{Sid}/Media                       FetchMedia                     transcript-media/read
family 'operator_results':
    GET    /v2/Transcripts/{TSid}/OperatorResults            ListOperatorResult             operator-results/read
    GET    /v2/Transcripts/{TSid}/OperatorResults/Encrypted  FetchEncryptedOperatorResults  operator-results/read
    GET    /v2/Transcripts/{TSid}/OperatorResults/{OpSid}    FetchOperatorResult            operator-results/read
family 'operators':
    GET    /v2/Operators                                     ListOperator                   operators/list
    GET    /v2/Operators/{Sid}                               FetchOperator                  operators/read
    GET    /v2/Operators/PreBuilt                            ListPrebuiltOperator           operator.prebuilt/list
    GET    /v2/Operators/PreBuilt/{Sid}                      FetchPrebuiltOperator          operator.prebuilt/read
    POST   /v2/Operators/Custom                              CreateCustomOperator           operator.custom/create
    GET    /v2/Operators/Custom                              ListCustomOperator             operator.custom/list
    GET    /v2/Operators/Custom/{Sid}                        FetchCustomOperator            operator.custom/read
    POST   /v2/Operators/Custom/{Sid}                        UpdateCustomOperator           operator.custom/update
    DELETE /v2/Operators/Custom/{Sid}                        DeleteCustomOperator           operator.custom/delete
    GET    /v2/OperatorTypes                                 ListOperatorType               operator-types/list
    GET    /v2/OperatorTypes/{Sid}                           FetchOperatorType              operator-types/read

Literal segments win over parameters at the same position, so ``/v2/Operators/PreBuilt`` and ``…/Custom`` are never
read as an operator SID, and ``…/Sentences/Encrypted`` and ``…/OperatorResults/Encrypted`` never as a SID either.
A restricted key also passes when it holds the resource's wildcard, e.g. ``/twilio/voice/intelligence.services/*``
grants all five service permissions (twilio-wire.md §5; the strings are a third-party enumeration, unconfirmed).

Lookup is a precomputed trie walk over the path's segments: a few dict lookups per request, no regular expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PERMISSION_PREFIX = "/twilio/voice/intelligence."

# (account, path parameters in template order, request parameters, If-Match header) -> Result
Call = Callable[[Any, tuple[str, ...], Any, "str | None"], Any]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: what it is called in the spec, how it is limited and authorised, and who performs it."""

    method: str
    template: str
    operation_id: str
    family: str
    permission: str
    call: Call = field(repr=False, compare=False)
    wildcard: str = ""

    def allowed(self, permissions: frozenset[str]) -> bool:
        """Whether a restricted key's permission set covers this operation (with or without the leading slash)."""
        perm, star = self.permission, self.wildcard
        return perm in permissions or star in permissions or perm[1:] in permissions or star[1:] in permissions


def _route(method: str, template: str, operation_id: str, family: str, permission: str, call: Call) -> Route:
    full = PERMISSION_PREFIX + permission
    return Route(method, template, operation_id, family, full, call, full.rsplit("/", 1)[0] + "/*")


ROUTES: tuple[Route, ...] = (
    _route("POST", "/v2/Services", "CreateService", "services", "services/create",
           lambda a, i, p, m: a.create_service(p)),
    _route("GET", "/v2/Services", "ListService", "services", "services/list",
           lambda a, i, p, m: a.list_services(p)),
    _route("GET", "/v2/Services/{Sid}", "FetchService", "services", "services/read",
           lambda a, i, p, m: a.fetch_service(i[0])),
    _route("POST", "/v2/Services/{Sid}", "UpdateService", "services", "services/update",
           lambda a, i, p, m: a.update_service(i[0], p, m)),
    _route("DELETE", "/v2/Services/{Sid}", "DeleteService", "services", "services/delete",
           lambda a, i, p, m: a.delete_service(i[0])),
    _route("GET", "/v2/Services/{ServiceSid}/Operators", "FetchOperatorAttachments", "services",
           "operator-attachment/list", lambda a, i, p, m: a.fetch_operator_attachments(i[0])),
    _route("POST", "/v2/Services/{ServiceSid}/Operators/{OperatorSid}", "CreateOperatorAttachment", "services",
           "operator-attachment/create", lambda a, i, p, m: a.create_operator_attachment(i[0], i[1])),
    _route("DELETE", "/v2/Services/{ServiceSid}/Operators/{OperatorSid}", "DeleteOperatorAttachment", "services",
           "operator-attachment/delete", lambda a, i, p, m: a.delete_operator_attachment(i[0], i[1])),
    _route("POST", "/v2/Transcripts", "CreateTranscript", "transcripts", "transcripts/create",
           lambda a, i, p, m: a.create_transcript(p)),
    _route("GET", "/v2/Transcripts", "ListTranscript", "transcripts", "transcripts/list",
           lambda a, i, p, m: a.list_transcripts(p)),
    _route("GET", "/v2/Transcripts/{Sid}", "FetchTranscript", "transcripts", "transcripts/read",
           lambda a, i, p, m: a.fetch_transcript(i[0])),
    _route("DELETE", "/v2/Transcripts/{Sid}", "DeleteTranscript", "transcripts", "transcripts/delete",
           lambda a, i, p, m: a.delete_transcript(i[0])),
    _route("GET", "/v2/Transcripts/{TranscriptSid}/Sentences", "ListSentence", "sentences",
           "transcript-sentences/read", lambda a, i, p, m: a.list_sentences(i[0], p)),
    _route("GET", "/v2/Transcripts/{TranscriptSid}/Sentences/Encrypted", "FetchEncryptedSentences", "sentences",
           "transcript-sentences/read", lambda a, i, p, m: a.fetch_encrypted_sentences(i[0], p)),
    _route("GET", "/v2/Transcripts/{Sid}/Media", "FetchMedia", "media", "transcript-media/read",
           lambda a, i, p, m: a.fetch_media(i[0], p)),
    _route("GET", "/v2/Transcripts/{TranscriptSid}/OperatorResults", "ListOperatorResult", "operator_results",
           "operator-results/read", lambda a, i, p, m: a.list_operator_results(i[0], p)),
    _route("GET", "/v2/Transcripts/{TranscriptSid}/OperatorResults/Encrypted", "FetchEncryptedOperatorResults",
           "operator_results", "operator-results/read",
           lambda a, i, p, m: a.fetch_encrypted_operator_results(i[0], p)),
    _route("GET", "/v2/Transcripts/{TranscriptSid}/OperatorResults/{OperatorSid}", "FetchOperatorResult",
           "operator_results", "operator-results/read", lambda a, i, p, m: a.fetch_operator_result(i[0], i[1], p)),
    _route("GET", "/v2/Operators", "ListOperator", "operators", "operators/list",
           lambda a, i, p, m: a.list_operators(p)),
    _route("GET", "/v2/Operators/{Sid}", "FetchOperator", "operators", "operators/read",
           lambda a, i, p, m: a.fetch_operator(i[0])),
    _route("GET", "/v2/Operators/PreBuilt", "ListPrebuiltOperator", "operators", "operator.prebuilt/list",
           lambda a, i, p, m: a.list_prebuilt_operators(p)),
    _route("GET", "/v2/Operators/PreBuilt/{Sid}", "FetchPrebuiltOperator", "operators", "operator.prebuilt/read",
           lambda a, i, p, m: a.fetch_prebuilt_operator(i[0])),
    _route("POST", "/v2/Operators/Custom", "CreateCustomOperator", "operators", "operator.custom/create",
           lambda a, i, p, m: a.create_custom_operator(p)),
    _route("GET", "/v2/Operators/Custom", "ListCustomOperator", "operators", "operator.custom/list",
           lambda a, i, p, m: a.list_custom_operators(p)),
    _route("GET", "/v2/Operators/Custom/{Sid}", "FetchCustomOperator", "operators", "operator.custom/read",
           lambda a, i, p, m: a.fetch_custom_operator(i[0])),
    _route("POST", "/v2/Operators/Custom/{Sid}", "UpdateCustomOperator", "operators", "operator.custom/update",
           lambda a, i, p, m: a.update_custom_operator(i[0], p, m)),
    _route("DELETE", "/v2/Operators/Custom/{Sid}", "DeleteCustomOperator", "operators", "operator.custom/delete",
           lambda a, i, p, m: a.delete_custom_operator(i[0])),
    _route("GET", "/v2/OperatorTypes", "ListOperatorType", "operators", "operator-types/list",
           lambda a, i, p, m: a.list_operator_types(p)),
    _route("GET", "/v2/OperatorTypes/{Sid}", "FetchOperatorType", "operators", "operator-types/read",
           lambda a, i, p, m: a.fetch_operator_type(i[0])),
)  # fmt: skip


class _Node:
    __slots__ = ("literal", "methods", "param")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.methods: dict[str, Route] = {}


class RouteTable:
    """Path → (routes by method, path parameters); literal segments take precedence over parameters."""

    def __init__(self, routes: Sequence[Route] = ROUTES) -> None:
        self._root = _Node()
        for route in routes:
            node = self._root
            for segment in route.template.split("/")[1:]:
                if segment.startswith("{"):
                    if node.param is None:
                        node.param = _Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(segment, _Node())
            if route.method in node.methods:
                raise ValueError(f"duplicate route {route.method} {route.template}")
            node.methods[route.method] = route

    def match(self, path: str) -> tuple[dict[str, Route] | None, tuple[str, ...]]:
        """The routes at `path` keyed by method (None for an unknown path) and the path parameters in order."""
        node: _Node | None = self._root
        params: list[str] = []
        for segment in path.split("/")[1:]:
            assert node is not None
            child = node.literal.get(segment)
            if child is None:
                child = node.param
                # An empty segment ("/v2/Transcripts/") is never a SID.
                if child is None or not segment:
                    return None, ()
                params.append(segment)
            node = child
        if node is None or not node.methods:
            return None, ()
        return node.methods, tuple(params)
