"""The mock's domain model: accounts, services, transcripts, operators — state and logic, no HTTP.

Every operation takes `Params` (and path arguments) and returns a `Result` or raises `ApiError`; the HTTP layer
only parses requests and encodes answers. Nothing here imports aiohttp.
"""

from mock_server._model._account import Account
from mock_server._model._content import ScriptedConversation, SentenceRecord, SentenceSource
from mock_server._model._params import CallbackEvent, Params, Result
from mock_server._model._registry import ApiKey, Principal, Registry, wav_for

__all__ = [
    "Account",
    "ApiKey",
    "CallbackEvent",
    "Params",
    "Principal",
    "Registry",
    "Result",
    "ScriptedConversation",
    "SentenceRecord",
    "SentenceSource",
    "wav_for",
]
