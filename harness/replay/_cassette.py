"""The cassette: what `--record` writes and `--replay` and `cintel conformance` read (JSON, `"version": 1`).

    {"version": 1, "cintel": "0.1.0", "command": "submit", "recorded_at": "2025-01-02T03:04:05Z",
     "base_url": "http://127.0.0.1:8080", "pseudonymised": false,
     "exchanges": [{"id": 1, "at_ms": 0.4, "ms": 3.1,
                    "request": {"method": "POST", "url": "http://127.0.0.1:8080/v2/Transcripts",
                                "headers": [["authorization", "<redacted>"], …],
                                "body": {"form": [["ServiceSid", "GA…"], ["Channel", "{…}"]]}},
                    "response": {"status": 201, "headers": [["content-type", "application/json"]],
                                 "body": {"json": {"sid": "GT…", …}}}}, …],
     "callbacks": [{"id": 1, "at_ms": 812.0, "after_exchanges": 14, "method": "POST", "target": "/callbacks",
                    "headers": [["content-type", "application/x-www-form-urlencoded"]], "body": "TranscriptSid=…"}]}

Made to be read and diffed by people: one exchange per request in the order they were sent, times in milliseconds
from the start of the recording, bodies as they mean something — parsed JSON, form pairs, text — and only media as
base64 (`{"base64": …, "size": n}`; a body over the recording's cap keeps its size and SHA-256 only:
`{"omitted": true, …}`). An exchange has a `response` or, when no answer came, an `error` (the httpx exception's
name and message), which replay raises again. Loading validates everything and names the file, the key path and
the value of the first thing wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness._errors import CintelError

VERSION: Literal[1] = 1
DEFAULT_MAX_BODY_BYTES = 32 * 2**20  # media beyond this is not kept (its size and hash are): re-record with more
# The httpx exceptions a recorded failure can name (replay raises the same one, so "was it sent?" keeps its meaning).
TRANSPORT_ERRORS = (
    "ConnectError", "ConnectTimeout", "PoolTimeout", "ReadError", "ReadTimeout", "RemoteProtocolError", "CloseError",
    "WriteError", "WriteTimeout", "LocalProtocolError", "ProtocolError", "ProxyError", "UnsupportedProtocol",
    "NetworkError", "TimeoutException", "TransportError",
)  # fmt: skip


class CassetteError(CintelError):
    """A cassette cannot be read or used: not JSON, another version, a malformed field (named), or a body that was
    not kept. The message names the file and what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Body(_Strict):
    """One body, in exactly one form: `json` (parsed), `form` (name/value pairs), `text`, `base64` (bytes, with
    `size`), or `omitted` (over the recording's cap: `size` and `sha256` only)."""

    json_value: Any = Field(default=None, alias="json")
    form: list[tuple[str, str]] | None = None
    text: str | None = None
    base64: str | None = None
    omitted: bool | None = None
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Body:
        given = [name for name in ("json_value", "form", "text", "base64", "omitted") if name in self.model_fields_set]
        if len(given) != 1:
            shown = ", ".join(n.replace("json_value", "json") for n in given) or "none"
            raise ValueError(f"a body has exactly one of json, form, text, base64, omitted (here: {shown})")
        return self

    @classmethod
    def of(cls, content: bytes, content_type: str | None, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Body | None:
        """The most readable faithful form of `content` (None when empty)."""
        if not content:
            return None
        kind = (content_type or "").split(";")[0].strip().lower()
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            if kind == "application/x-www-form-urlencoded":
                try:
                    return cls(form=parse_qsl(text, keep_blank_values=True, strict_parsing=True))
                except ValueError:
                    pass  # not a strict form after all: kept as text
            if kind == "application/json" or kind.endswith("+json"):
                try:
                    return cls(json=json.loads(text))
                except ValueError:
                    pass
            if kind.startswith("text/") or kind in ("", "application/xml") or kind.endswith(("+xml", "json")):
                return cls(text=text)
        if len(content) > max_bytes:
            return cls(omitted=True, size=len(content), sha256=hashlib.sha256(content).hexdigest())
        return cls(base64=base64.b64encode(content).decode("ascii"), size=len(content))

    def content(self) -> bytes:
        """The bytes to serve (JSON compact, a form encoded as Twilio's clients do)."""
        if "json_value" in self.model_fields_set:
            return json.dumps(self.json_value, ensure_ascii=False, separators=(",", ":")).encode()
        if self.form is not None:
            return urlencode(self.form).encode()
        if self.text is not None:
            return self.text.encode()
        if self.base64 is not None:
            return base64.b64decode(self.base64)
        raise CassetteError(
            f"this body ({self.size} bytes) was over the recording's cap and was not kept; record again with a "
            "larger max_body_bytes to replay it"
        )


Header = tuple[str, str]


class RecordedRequest(_Strict):
    method: str = Field(pattern=r"^[A-Z]{3,7}$")
    url: str = Field(pattern=r"^https?://")
    headers: list[Header] = Field(default_factory=list)
    body: Body | None = None


class RecordedResponse(_Strict):
    status: int = Field(ge=100, le=599)
    headers: list[Header] = Field(default_factory=list)
    body: Body | None = None
    partial: bool | None = None  # the client stopped reading (a ranged or cut-short download): this much was read


class RecordedError(_Strict):
    type: Literal[TRANSPORT_ERRORS]  # type: ignore[valid-type]  # a tuple of literals, spelled once above
    message: str = ""


class Exchange(_Strict):
    """One request and what came back: `response`, or `error` when no answer came."""

    id: int = Field(ge=1)
    at_ms: float = Field(ge=0)
    ms: float = Field(default=0.0, ge=0)
    request: RecordedRequest
    response: RecordedResponse | None = None
    error: RecordedError | None = None

    @model_validator(mode="after")
    def _answered(self) -> Exchange:
        if (self.response is None) == (self.error is None):
            raise ValueError("an exchange has exactly one of response and error")
        return self

    def describe(self) -> str:
        """`#3 GET /v2/Transcripts/GT…` — the request without host, query values or body."""
        path = self.request.url.split("://", 1)[-1].partition("/")[2].partition("?")[0]
        return f"#{self.id} {self.request.method} /{path}"


class Callback(_Strict):
    """A completion callback the webhook receiver accepted: its request as it arrived, X-Twilio-Signature dropped."""

    id: int = Field(ge=1)
    at_ms: float = Field(ge=0)
    after_exchanges: int = Field(ge=0)  # exchanges answered before it came: replay delivers it after as many
    method: Literal["GET", "POST"]
    target: str = Field(pattern=r"^/")  # path and query as the receiver saw them
    headers: list[Header] = Field(default_factory=list)
    body: str = ""


class Cassette(_Strict):
    version: Literal[1] = VERSION
    cintel: str = ""
    command: str | None = None
    recorded_at: str = ""
    base_url: str | None = None  # the Intelligence API the command talked to (replay's default --base-url)
    pseudonymised: bool = False
    exchanges: list[Exchange] = Field(default_factory=list)
    callbacks: list[Callback] = Field(default_factory=list)

    def to_json(self) -> str:
        """Indented JSON, one field per line and a header or form pair on one line: diffs read well."""
        document = {"version": VERSION, **self.model_dump(mode="json", by_alias=True, exclude_unset=True)}
        return _pretty(document, 0) + "\n"


def _pretty(value: Any, level: int) -> str:
    """JSON like `json.dumps(indent=1)`, except that a list of scalars that is short (a header or form pair, a list
    of SIDs) stays on one line."""
    if isinstance(value, dict) and value:
        pad = " " * (level + 1)
        items = ",\n".join(f"{pad}{json.dumps(key, ensure_ascii=False)}: {_pretty(item, level + 1)}"
                           for key, item in value.items())  # fmt: skip
        return "{\n" + items + "\n" + " " * level + "}"
    if isinstance(value, list) and value:
        flat = json.dumps(value, ensure_ascii=False)
        if not any(isinstance(item, dict | list) for item in value) and (len(value) <= 2 or len(flat) <= 100):
            return flat
        pad = " " * (level + 1)
        return "[\n" + ",\n".join(pad + _pretty(item, level + 1) for item in value) + "\n" + " " * level + "]"
    return json.dumps(value, ensure_ascii=False)


def parse_cassette(text: str, *, source: str = "cassette") -> Cassette:
    """A cassette from its JSON text; `CassetteError` naming `source`, the key path and the value when invalid."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CassetteError(f"{source}: not JSON ({error})") from None
    if not isinstance(document, dict):
        raise CassetteError(f"{source}: a cassette is a JSON object, not {type(document).__name__}")
    version = document.get("version")
    if version != VERSION:
        raise CassetteError(f"{source}: version {version!r} is not one this cintel reads (it reads {VERSION})")
    try:
        return Cassette.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        shown = json.dumps(first.get("input"), ensure_ascii=False, default=str)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        reason = first["msg"].removeprefix("Value error, ")
        raise CassetteError(f"{source}: {where} = {shown}: {reason}") from None


def load_cassette(path: str | os.PathLike[str]) -> Cassette:
    """Read and validate a cassette file (`CassetteError` naming the file, key path and value when invalid)."""
    location = Path(path)
    try:
        text = location.read_text(encoding="utf-8")
    except OSError as error:
        raise CassetteError(f"{location}: cannot read the cassette: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise CassetteError(f"{location}: not UTF-8 text (a cassette is JSON)") from None
    return parse_cassette(text, source=str(location))


def write_private(path: Path, text: str) -> None:
    """Write by atomic replace, 0600 (a cassette holds conversation text), never a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
