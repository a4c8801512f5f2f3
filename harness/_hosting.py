"""Hosting a merged file where Intelligence can fetch it, and the URL a create is sent with.

Intelligence fetches `media_url` once, without credentials, so the merged file must be at a public or pre-signed URL.
Three hosts; each journals a *location* that holds no secret, and makes the URL for a create from it:

- `S3Host` (`--upload s3://bucket/prefix`, boto3 from the `[s3]` extra): uploads the file to `prefix/<batch>/<name>`
  and pre-signs a GET (SigV4) when a create is about to be sent, so the URL need only outlive the wait for Twilio's
  download (`ttl_s`). The journal holds `s3://bucket/key`; a resume signs again, locally — no second upload. boto3
  finds credentials, region and endpoint as usual (`AWS_PROFILE`, `AWS_ENDPOINT_URL`, …); the bucket's own region
  is read once, so the signature is for the region that serves it.
- `DirectoryHost` (`--media-base-url URL` with `--media-dir DIR`): the file is written inside DIR, which the user
  serves at URL (the URL holds no secret and is journaled as is). Before every create — a first run's too — a ranged
  GET checks that the URL serves this very file (its first bytes and its size), so a wrong base URL is found before
  Intelligence is sent it, not as a failed transcript. A server that does not answer *now* (unreachable, 5xx, 429)
  leaves the row pending (`HostingError(transient=True)`); one that answers something definitive and wrong (a 404
  for a file just written, another file, an HTML page) is `HostUnusable`: every row would fail alike, so the run
  stops.
- `MockHost` (the default against a mock): `PUT {base}/__mock__/media/{name}?ttl_s=` stores the file on the mock,
  which answers a signed URL. The signature is the mock's secret-derived credential: it stays in memory, and the
  journal holds the URL without its query. A resume that still needs the URL uploads the same file again under the
  same name (the mock has no way to sign an existing object again).

Names are `<batch id>/<key>-<hash>.flac` (`merged_name`): one directory per batch, a file per CustomerKey.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from harness._errors import CintelError
from harness._redact import scrub_text

PROBE_BYTES = 4096  # a FLAC's header (its STREAMINFO holds the audio's MD5) and then some
CHUNK = 1 << 20
MOCK_CONTROL_TOKEN_ENV = "CINTEL_MOCK_CONTROL_TOKEN"  # noqa: S105 — the variable's name (the mock's), not a secret
S3_MULTIPART_THRESHOLD = 64 * 1024 * 1024
MAX_TTL_S = 604_800  # SigV4 pre-signed URLs live at most 7 days


class HostingError(CintelError):
    """The merged file could not be hosted or its URL made. `transient`: worth trying again later."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(scrub_text(message))
        self.transient = transient


class HostUnusable(HostingError):
    """The host answered, definitively, that it does not serve the merged files where we send Intelligence: no merge
    row can be sent through it, so the run stops (nothing is marked failed; fix the option, run again)."""

    hint = (
        "the rows to merge were not sent and stay pending (what was done is kept): fix --media-base-url (the URL "
        "at which --media-dir is served) or --media-dir, and run the same command again"
    )


@dataclass(frozen=True)
class Hosted:
    location: str  # journaled: no signature, no credentials
    url: str | None = None  # fetchable now (may carry a signature: kept in memory only)


class Host(Protocol):
    """Where merged files go: `check` before a run, `put` once per file, `url` before each create."""

    def describe(self) -> str: ...
    async def check(self) -> None: ...
    async def put(self, path: Path, name: str) -> Hosted: ...
    async def url(self, location: str, path: Path, name: str) -> str: ...
    async def aclose(self) -> None: ...


def merged_name(customer_key: str) -> str:
    """A file name for a CustomerKey: its safe characters (for the eye) and 12 hex digits of its hash (so two keys
    never share a name). Only `[A-Za-z0-9_-]`, so it is a valid S3 key, mock media name and URL path segment."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", customer_key)[:80] or "item"
    return f"{safe}-{hashlib.sha256(customer_key.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}.flac"


def _check_ttl(ttl_s: int) -> int:
    if not 60 <= ttl_s <= MAX_TTL_S:
        raise HostingError(f"the URL lifetime must be 60 s to 7 days ({MAX_TTL_S} s), got {ttl_s}")
    return ttl_s


# --- S3 ------------------------------------------------------------------------------------------------------------


def parse_s3_url(text: str) -> tuple[str, str]:
    """`s3://bucket/prefix` → (bucket, prefix without slashes at its ends)."""
    parts = urlsplit(text)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise HostingError(f"--upload {text[:80]!r}: give s3://BUCKET/PREFIX (the prefix may be empty)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc):
        raise HostingError(f"--upload {text[:80]!r}: {parts.netloc!r} is not an S3 bucket name")
    return parts.netloc, parts.path.strip("/")


class S3Host:
    def __init__(self, bucket: str, prefix: str, *, ttl_s: int, client: Any = None) -> None:
        self.bucket, self.prefix, self.ttl_s = bucket, prefix, _check_ttl(ttl_s)
        self._client = client
        self._checked = False

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _boto(self, region: str | None = None) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise HostingError("--upload s3:// needs boto3: pip install 'cintel-harness[s3]'") from None
        config = Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"})
        # A session of its own: boto3's default session keeps the credentials it first found for the process.
        return boto3.session.Session().client("s3", region_name=region, config=config)

    def _s3(self) -> Any:
        if self._client is None:
            self._client = self._boto()
        return self._client

    async def check(self) -> None:
        """The bucket exists and these credentials may use it; then sign for the region that serves it."""

        def head() -> str | None:
            answer = self._s3().head_bucket(Bucket=self.bucket)
            region: str | None = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
            return region

        region = await self._call(head, "reach the bucket")
        if region and region != self._s3().meta.region_name and self._s3().meta.endpoint_url.endswith(".amazonaws.com"):
            self._client = self._boto(region)
        self._checked = True

    async def put(self, path: Path, name: str) -> Hosted:
        key = f"{self.prefix}/{name}".lstrip("/")

        def upload() -> None:
            from boto3.s3.transfer import TransferConfig

            config = TransferConfig(multipart_threshold=S3_MULTIPART_THRESHOLD)
            extra = {"ContentType": "audio/flac"}
            self._s3().upload_file(str(path), self.bucket, key, ExtraArgs=extra, Config=config)

        await self._call(upload, f"upload {path.name}")
        return Hosted(f"s3://{self.bucket}/{key}")

    async def url(self, location: str, path: Path, name: str) -> str:
        bucket, key = parse_s3_url(location)
        params = {"Bucket": bucket, "Key": key}
        signed: str = self._s3().generate_presigned_url("get_object", Params=params, ExpiresIn=self.ttl_s)
        return signed  # made locally from the credentials: no request, nothing stored

    async def _call(self, op: Any, what: str) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

        try:
            return await asyncio.to_thread(op)
        except (NoCredentialsError, PartialCredentialsError):
            raise HostingError(f"cannot {what} ({self.describe()}): no AWS credentials (AWS_PROFILE, "
                               "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an instance role)") from None  # fmt: skip
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            code = error.response.get("Error", {}).get("Code", "")
            hint = {403: "access denied: check the credentials' permissions on the bucket",
                    404: "no such bucket (check the name and the account)"}.get(status, str(code))  # fmt: skip
            raise HostingError(f"cannot {what} ({self.describe()}): HTTP {status} {hint}",
                               transient=status >= 500 or status in (0, 429)) from None  # fmt: skip
        except (BotoCoreError, OSError) as error:
            raise HostingError(f"cannot {what} ({self.describe()}): {error}", transient=True) from None

    async def aclose(self) -> None:
        self._client = None


# --- HTTP hosts (a served directory, the mock's media host) -------------------------------------------------------


class _HttpHost:
    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise HostingError(f"{base_url[:80]!r} is not an http or https URL")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise HostingError(f"{scrub_text(base_url)[:80]!r}: a base URL without a query, fragment or user:password "
                               "(Intelligence fetches media without credentials)")  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(transport=transport, headers=headers, timeout=httpx.Timeout(60.0, connect=10.0))

    async def aclose(self) -> None:
        await self._http.aclose()


class DirectoryHost(_HttpHost):
    """Files in `media_dir`, served by the user at `base_url`."""

    def __init__(self, base_url: str, media_dir: Path, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, transport=transport, headers={})
        self.media_dir = media_dir

    def describe(self) -> str:
        return f"{self.base_url} (serving {self.media_dir})"

    async def check(self) -> None:
        if not self.media_dir.is_dir():
            raise HostingError(f"--media-dir {self.media_dir}: no such directory (create it, and serve it at "
                               f"{self.base_url})")  # fmt: skip

    async def put(self, path: Path, name: str) -> Hosted:
        if path != self.media_dir / name:
            raise HostingError(f"{path} is not {name} inside the served directory {self.media_dir}")
        # The file is already where the server serves it; no URL yet: `url` checks that it is served before a create.
        return Hosted(f"{self.base_url}/{quote(name)}")

    async def url(self, location: str, path: Path, name: str) -> str:
        """The file's URL under the base URL given to this run (it may differ from the journaled location, if the
        user moved the server), once a ranged GET shows that it serves this file: its first bytes, and its size
        where the answer says it (Content-Range, else Content-Length). See the module docstring for the errors."""
        url = f"{self.base_url}/{quote(name)}"
        shown = urlsplit(url)._replace(query="", fragment="").geturl()
        expected, size = await asyncio.to_thread(_head_and_size, path, PROBE_BYTES)
        try:
            headers = {"Range": f"bytes=0-{len(expected) - 1}"}
            async with self._http.stream("GET", url, headers=headers, follow_redirects=True) as answer:
                status = answer.status_code
                got = await _first_bytes(answer, len(expected)) if status in (200, 206) else b""
                length = _whole_length(answer)
        except httpx.HTTPError as error:
            raise HostingError(f"{shown}: not reachable ({type(error).__name__}): is {self.media_dir} served at "
                               f"{self.base_url}?", transient=True) from None  # fmt: skip
        if status >= 500 or status in (408, 425, 429):  # the server is there but not ready: try again later
            raise HostingError(f"{shown}: HTTP {status} from the server of {self.media_dir}", transient=True)
        if status in (401, 403):  # served, but not to anyone: Intelligence fetches without credentials
            raise HostUnusable(f"{shown}: HTTP {status}: the server refuses {path.name} (it must serve it to anyone; "
                               f"merged files are readable by others only where {self.media_dir} is: chmod it, e.g. "
                               "755, if the web server runs as another user)")  # fmt: skip
        if status not in (200, 206):
            raise HostUnusable(f"{shown}: HTTP {status}, though {path.name} is in {self.media_dir}: that directory "
                               f"is not served at {self.base_url}")  # fmt: skip
        if got != expected or (length is not None and length != size):
            what = f"{length} bytes, not {size}" if got == expected else "its first bytes differ"
            raise HostUnusable(f"{shown}: HTTP {status}, but not the merged file {path.name} ({what}): "
                               f"{self.media_dir} is not served at {self.base_url}")  # fmt: skip
        return url


class MockHost(_HttpHost):
    """The mock's media host: `PUT /__mock__/media/{name}` answers a signed URL (kept in memory only)."""

    def __init__(self, base_url: str, *, ttl_s: int, token: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(base_url, transport=transport, headers=headers)
        self.ttl_s = _check_ttl(ttl_s)
        self._signed: dict[str, tuple[str, float]] = {}  # location -> (signed URL, when it expires)
        self.uploads = 0

    def describe(self) -> str:
        return f"the mock's media host at {self.base_url}"

    async def check(self) -> None:
        try:
            answer = await self._http.get(f"{self.base_url}/__mock__/")
        except httpx.HTTPError as error:
            raise HostingError(f"cannot reach {self.base_url}: {type(error).__name__}", transient=True) from None
        if answer.status_code == 401:
            raise HostingError(f"{self.base_url}: the mock's control plane needs its token ({MOCK_CONTROL_TOKEN_ENV})")
        if answer.status_code != 200:
            raise HostingError(f"{self.base_url} is not a cintel mock with a media host (GET /__mock__/ answered "
                               f"HTTP {answer.status_code}): pass --upload s3://… or --media-base-url")  # fmt: skip

    def _location(self, name: str) -> str:
        return f"{self.base_url}/__mock__/media/{name.replace('/', '-')}"

    async def put(self, path: Path, name: str) -> Hosted:
        location = self._location(name)
        try:
            answer = await self._http.put(location, params={"ttl_s": self.ttl_s}, content=_chunks(path))
        except httpx.HTTPError as error:
            raise HostingError(
                f"cannot upload {path.name} to the mock: {type(error).__name__}", transient=True
            ) from None
        except OSError as error:  # the merged file, read as it is sent
            raise HostingError(f"{path}: cannot read the merged file: {error.strerror or error}") from None
        if answer.status_code != 201:
            raise HostingError(f"the mock refused {path.name}: HTTP {answer.status_code} {answer.text[:200]}",
                               transient=answer.status_code >= 500)  # fmt: skip
        self.uploads += 1
        signed = str(answer.json()["url"])
        self._signed[location] = (signed, time.monotonic() + self.ttl_s)
        return Hosted(location, signed)

    async def url(self, location: str, path: Path, name: str) -> str:
        known = self._signed.get(self._location(name))  # this run's mock (the journaled one may be gone)
        if known is not None and known[1] - time.monotonic() > min(600.0, self.ttl_s / 2):
            return known[0]
        hosted = await self.put(path, name)
        assert hosted.url is not None
        return hosted.url


def _head_and_size(path: Path, limit: int) -> tuple[bytes, int]:
    try:
        with path.open("rb") as handle:
            return handle.read(limit), os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise HostingError(f"{path}: cannot read the merged file: {error.strerror or error}") from None


async def _first_bytes(answer: httpx.Response, limit: int) -> bytes:
    """Up to `limit` bytes of the body (a server that ignores Range sends the whole file: not all of it read)."""
    got = b""
    async for chunk in answer.aiter_bytes():
        got += chunk
        if len(got) >= limit:
            break
    return got[:limit]


def _whole_length(answer: httpx.Response) -> int | None:
    """The served file's size, where the answer says it: a 206's Content-Range total, a plain 200's Content-Length
    (not a compressed one's: that is the compressed size)."""
    if answer.status_code == 206:
        total = answer.headers.get("Content-Range", "").rpartition("/")[2].strip()
        return int(total) if total.isdigit() else None
    length = answer.headers.get("Content-Length", "")
    return int(length) if length.isdigit() and "Content-Encoding" not in answer.headers else None


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk
