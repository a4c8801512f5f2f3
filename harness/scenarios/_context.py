"""One scenario run's surroundings: the API it talks to (`Api`), its working folder, its media rendered and hosted,
its Video rooms, services and the mock's control plane — what every step uses (`RunContext`).

Against the mock, media is hosted on the mock's media host (signed URLs with the item's `ttl_s`) or on a plain file
server this run starts on loopback (`host = "public"`: no signature), rooms are recorded by the mock's control plane
and `recording` media are stored as Recordings of the scenario's account. Against Twilio only what the user hosts can
be fetched: `--upload s3://…` (pre-signed) or `--media-base-url` with `--media-dir`; what needs the mock (a room it
records, a recording store, an expiring URL) is skipped, with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness._client import IntelligenceClient
from harness.scenarios._audio import Voices, render_media
from harness.scenarios._load import LoadedScenario
from harness.scenarios._tape import Tape

__all__ = ["CINTEL", "Api", "RunContext", "Skip", "StepFailed"]

CINTEL = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]
SUFFIXES = {"wav": ".wav", "flac": ".flac", "mp3": ".mp3"}
MOCK_ONLY = "only the mock can do this"


class Skip(Exception):
    """Something the scenario states that this target cannot do; the message says why."""


class StepFailed(Exception):
    """A step that could not do what it says (a room the mock refused, a media host that failed)."""


@dataclass(frozen=True)
class Api:
    """Where a scenario's requests go: the Intelligence API, its credentials (as `cintel` reads them from the
    environment) and, on the mock, its control plane."""

    target: str  # "mock" or "twilio"
    env: Mapping[str, str] = field(repr=False)  # TWILIO_* and CINTEL_* for the cintel processes
    account_sid: str
    control_url: str | None = None  # the mock's `/__mock__`, None off the mock

    @property
    def on_mock(self) -> bool:
        return self.control_url is not None

    @property
    def base_url(self) -> str | None:
        return self.env.get("CINTEL_BASE_URL")

    def client(self) -> IntelligenceClient:
        env = self.env
        if env.get("TWILIO_API_KEY"):
            return IntelligenceClient(env["TWILIO_ACCOUNT_SID"], api_key=env["TWILIO_API_KEY"],
                                      api_secret=env.get("TWILIO_API_SECRET"), base_url=self.base_url)  # fmt: skip
        return IntelligenceClient(env["TWILIO_ACCOUNT_SID"], env.get("TWILIO_AUTH_TOKEN"), base_url=self.base_url)


@dataclass
class Hosting:
    """Against Twilio: where the user hosts media (`--upload s3://BUCKET/PREFIX`, or `--media-base-url` serving
    `--media-dir`)."""

    upload: str | None = None
    media_base_url: str | None = None
    media_dir: Path | None = None

    @property
    def configured(self) -> bool:
        return self.upload is not None or (self.media_base_url is not None and self.media_dir is not None)

    def submit_args(self) -> list[str]:
        if self.upload is not None:
            return ["--upload", self.upload]
        if self.media_base_url is not None and self.media_dir is not None:
            return ["--media-base-url", self.media_base_url, "--media-dir", str(self.media_dir)]
        return []


class RunContext:
    """The state one scenario run builds up and its steps share."""

    def __init__(self, loaded: LoadedScenario, api: Api, work: Path, voices: Voices | None, hosting: Hosting) -> None:
        self.loaded = loaded
        self.scenario = loaded.scenario
        self.api = api
        self.work = work
        self.voices = voices
        self.hosting = hosting
        self.files: dict[str, Path] = {}  # media name → its file (rendered, next to the scenario, or merged)
        self.rooms: dict[str, str] = {}  # room name → RM… (mock only)
        self.room_skips: dict[str, str] = {}
        self.services: dict[str, str] = {}  # service name → GA…
        self.started = 0.0  # the event loop's clock when the steps began
        self.control = httpx.AsyncClient(base_url=api.control_url, timeout=60.0) if api.control_url else None
        self._recordings: dict[str, str] = {}
        self._urls: dict[tuple[str, str, int | None], str | Skip] = {}  # (media, host, ttl_s) → URL, made once
        self._public: tuple[Any, str] | None = None  # (aiohttp runner, base URL) of the loopback file server
        self._prefix = secrets.token_hex(4)  # hosted names never meet another run's on the same mock
        self.tape: Tape | None = None  # recording this run (--record) or replaying one (--target replay)
        self.report_dir: Path | None = None  # submit steps write their load report under it (--report)

    @property
    def replaying(self) -> bool:
        return self.tape is not None and self.tape.replay

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.started

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a `cintel` process: this one's, without any Twilio or cintel setting, plus the run's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "CINTEL_"))}
        env.update(self.api.env)
        env.update(extra or {})
        return env

    async def aclose(self) -> None:
        if self.control is not None:
            await self.control.aclose()
        if self._public is not None:
            await self._public[0].cleanup()

    # --- media and rooms, before the first step -----------------------------------------------------------------

    async def prepare(self) -> None:
        media_dir = self.work / "media"
        media_dir.mkdir(parents=True, exist_ok=True)
        for name, spec in self.scenario.media.items():
            if spec.file is not None:
                source = self.loaded.directory / spec.file
                self.files[name] = Path(shutil.copy(source, media_dir / f"{name}{source.suffix}"))
                continue
            if self.voices is None and spec.segments:
                raise StepFailed("generated speech needs the packaged voices (run through cintel or the pytest plugin)")
            data = await asyncio.to_thread(render_media, spec, self.voices)
            path = media_dir / f"{name}{SUFFIXES[spec.format]}"
            path.write_bytes(data)
            self.files[name] = path
        await self._host_early()
        for name in self.scenario.rooms:
            if self.replaying:
                assert self.tape is not None
                self.rooms[name] = self.tape.room(name)
                continue
            if not self.api.on_mock:
                self.room_skips[name] = f"room {name!r} is recorded by the mock's Video: {MOCK_ONLY}"
                continue
            self.rooms[name] = await self._make_room(name)
            if self.tape is not None:
                self.tape.room(name, self.rooms[name])

    async def _make_room(self, name: str) -> str:
        assert self.control is not None
        participants: list[dict[str, Any]] = []
        for p in self.scenario.rooms[name].participants:
            body: dict[str, Any] = {"identity": p.identity, "joined_s": p.joined_s, "left_s": p.left_s}
            if p.media is not None:
                hosted = await self._put_mock_media(p.media, None)
                body["media"] = hosted["name"]
            else:
                body["segments"] = [s.model_dump(exclude_none=True) for s in p.segments or []]
            participants.append(body)
        answer = await self.control.post(
            "/rooms", json={"account_sid": self.api.account_sid, "unique_name": name, "participants": participants}
        )
        if answer.status_code != 201:
            raise StepFailed(f"rooms.{name}: the mock refused the room: HTTP {answer.status_code} {answer.text[:300]}")
        return str(answer.json()["room_sid"])

    # --- hosting --------------------------------------------------------------------------------------------------

    async def _host_early(self) -> None:
        """Host every declared media the steps name before the first step, so a signed URL's lifetime counts from
        the scenario's start (a `wait` step then lets a short one expire before the create)."""
        from harness.scenarios._model import CreateStep, SubmitStep

        for step in self.scenario.steps:
            if isinstance(step, SubmitStep):
                wanted = [(i.media, i.host, i.ttl_s) for i in step.items or [] if i.media is not None]
            elif isinstance(step, CreateStep) and step.media is not None:
                wanted = [(step.media, "signed", None)]
            else:
                continue
            for name, host, ttl_s in wanted:
                if name in self.files and (name, host, ttl_s) not in self._urls:
                    try:
                        self._urls[name, host, ttl_s] = await self._make_url(name, host, ttl_s)
                    except Skip as skip:
                        self._urls[name, host, ttl_s] = skip

    async def media_url(self, name: str, host: str = "signed", ttl_s: int | None = None) -> str:
        """A URL Intelligence can fetch the media `name` at (`Skip` when this target cannot host it); media made
        by a merge step is hosted when first asked for."""
        url = self._urls.get((name, host, ttl_s))
        if url is None:
            url = self._urls[name, host, ttl_s] = await self._make_url(name, host, ttl_s)
        if isinstance(url, Skip):
            raise url
        return url

    async def _make_url(self, name: str, host: str, ttl_s: int | None) -> str:
        if self.api.on_mock:
            if host == "public":
                return await self._public_url(name)
            return str((await self._put_mock_media(name, ttl_s))["url"])
        if ttl_s is not None:
            raise Skip(f"a signed URL that expires after {ttl_s} s is made by the mock's media host: {MOCK_ONLY}")
        return await self._user_hosted(name)

    async def _put_mock_media(self, name: str, ttl_s: int | None) -> dict[str, Any]:
        assert self.control is not None
        path = self.files[name]
        hosted_name = f"{self._prefix}-{path.name}"
        params = {"ttl_s": ttl_s} if ttl_s is not None else None
        answer = await self.control.put(f"/media/{hosted_name}", params=params, content=path.read_bytes())
        if answer.status_code != 201:
            raise StepFailed(f"media {name!r}: the mock's media host refused it: HTTP {answer.status_code}")
        return dict(answer.json())

    async def _public_url(self, name: str) -> str:
        """The media on a plain file server on loopback: a public URL, no signature, no expiry."""
        from aiohttp import web

        public = self.work / "public"
        if self._public is None:
            public.mkdir(exist_ok=True)
            app = web.Application()
            app.router.add_static("/", public)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self._public = (runner, f"http://{host}:{port}")
        path = self.files[name]
        shutil.copy(path, public / path.name)
        return f"{self._public[1]}/{path.name}"

    async def _user_hosted(self, name: str) -> str:
        hosting = self.hosting
        path = self.files[name]
        if hosting.upload is not None:
            from harness._hosting import S3Host, parse_s3_url

            host = S3Host(*parse_s3_url(hosting.upload), ttl_s=21_600)
            try:
                hosted = await host.put(path, f"scenarios/{self.loaded.name}/{path.name}")
                return await host.url(hosted.location, path, path.name)
            finally:
                await host.aclose()
        if hosting.media_base_url is None or hosting.media_dir is None:
            raise Skip("media must be hosted where Twilio can fetch it: give --upload s3://BUCKET/PREFIX, or "
                       "--media-base-url URL with --media-dir DIR")  # fmt: skip
        shutil.copy(path, hosting.media_dir / path.name)
        return f"{hosting.media_base_url.rstrip('/')}/{path.name}"

    async def recording_sid(self, name: str) -> str:
        """A Recording SID whose audio is the media `name`, in the mock's recordings store (`Skip` elsewhere)."""
        if not self.api.on_mock:
            raise Skip(f"a Recording made from a scenario's media is stored by the mock: {MOCK_ONLY}")
        assert self.control is not None
        if name not in self._recordings:
            sid = "RE" + secrets.token_hex(16)
            path = f"/accounts/{self.api.account_sid}/recordings/{sid}"
            answer = await self.control.put(path, content=self.files[name].read_bytes())
            if answer.status_code not in (200, 201, 204):
                raise StepFailed(f"media {name!r}: the mock refused it as a Recording: HTTP {answer.status_code}")
            self._recordings[name] = sid
        return self._recordings[name]

    def room_sid(self, name: str) -> str:
        if name in self.room_skips:
            raise Skip(self.room_skips[name])
        return self.rooms[name]

    async def service_sid(self, name: str | None) -> str:
        """The SID of the service `name` (None: the only one, made now if no step made one)."""
        if name is None and len(self.services) == 1:
            return next(iter(self.services.values()))
        if name is None and not self.services:
            given = self.api.env.get("CINTEL_SERVICE_SID") if not self.api.on_mock else None
            if given:  # against Twilio: the user's own service rather than a new one per run
                self.services["default"] = given
            else:
                self.services["default"] = await self.make_service("default", f"scenario-{self.loaded.name}")
            return self.services["default"]
        assert name is not None, "the loader requires a service name when there are several"
        return self.services[name]

    async def make_service(self, name: str, unique_name: str, *, auto_redaction: bool = False) -> str:
        """A new service's SID (on replay: the one the recorded run made)."""
        if self.tape is not None and self.tape.replay:
            return self.tape.service(name)
        async with self.api.client() as client:
            service = await client.create_service(f"{unique_name}-{self._prefix}"[:100], auto_redaction=auto_redaction)
        if self.tape is not None:
            self.tape.service(name, service.sid)
        return service.sid
