"""Record and replay: cassettes of HTTP exchanges, a recording transport, a respx replayer, conformance diffs.

    from harness.replay import Recorder, load_cassette, respx_router

    recorder = Recorder()                                   # record: wrap the transport a client sends through
    client = IntelligenceClient(sid, token, transport=recorder.wrap(AiohttpTransport()))
    ...
    recorder.save("run.cassette.json")                      # secrets scrubbed; JSON, "version": 1

    router = respx_router(load_cassette("run.cassette.json"))  # replay: no network at all
    client = IntelligenceClient(sid, token, transport=router.transport())
    ...
    router.assert_all_used()

`cintel submit|merge --record FILE / --replay FILE` use the same pieces; `cintel conformance CASSETTE` sends a
cassette's requests to a mock and reports where its answers differ (`check_conformance`; README: Record and
replay).
"""

from harness.replay._cassette import (
    Body,
    Callback,
    Cassette,
    CassetteError,
    Exchange,
    RecordedError,
    RecordedRequest,
    RecordedResponse,
    load_cassette,
    parse_cassette,
)
from harness.replay._conformance import ConformanceReport, Difference, check_conformance
from harness.replay._recorder import Recorder, RecordingTransport
from harness.replay._replayer import CassetteRouter, ReplayError, ReplayMiss, ReplayUnused, respx_router
from harness.replay._scrub import Scrubber
from harness.replay._shape import ShapeDifference, shape_differences

__all__ = [
    "Body",
    "Callback",
    "Cassette",
    "CassetteError",
    "CassetteRouter",
    "ConformanceReport",
    "Difference",
    "Exchange",
    "RecordedError",
    "RecordedRequest",
    "RecordedResponse",
    "Recorder",
    "RecordingTransport",
    "ReplayError",
    "ReplayMiss",
    "ReplayUnused",
    "Scrubber",
    "ShapeDifference",
    "check_conformance",
    "load_cassette",
    "parse_cassette",
    "respx_router",
    "shape_differences",
]
