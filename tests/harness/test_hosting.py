"""The three hosts for merged audio, each against a real server on loopback: S3 (moto's server: upload once, sign
again without uploading), the mock's media host (signed by the mock; a new run must upload again), and a directory
the user serves (checked by a ranged GET before each create: a wrong URL is definitive, a server that does not answer
now is not). What is journaled (`location`) never holds a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import boto3
import httpx
import pytest

from harness._hosting import DirectoryHost, HostingError, HostUnusable, MockHost, S3Host, merged_name, parse_s3_url
from mock_server import MockConfig, RunningMock, serve

BUCKET = "merged-calls"
FLAC = b"fLaC" + bytes(range(256)) * 40
NAME = f"{'b' * 32}/{merged_name('call/1')}"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> str:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_url}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    return moto_url


@pytest.fixture
def merged(tmp_path: Path) -> Path:
    path = tmp_path / NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(FLAC)
    return path


def test_merged_names_are_safe_and_distinct_for_keys_that_look_alike() -> None:
    names = {merged_name(k) for k in ("x/1", "x_1", "x?1", "X_1", "..", "é" * 64)}
    assert len(names) == 6
    for name in names:
        assert name.endswith(".flac")
        assert all(c.isascii() and (c.isalnum() or c in "_-.") for c in name), name


async def test_s3_uploads_once_and_signs_again_from_the_location_alone(aws: str, merged: Path) -> None:
    host = S3Host(BUCKET, "calls/2026", ttl_s=3600)
    await host.check()
    hosted = await host.put(merged, NAME)
    assert hosted.location == f"s3://{BUCKET}/calls/2026/{NAME}"
    assert hosted.url is None  # signed when a create needs it
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket=BUCKET, Key=f"calls/2026/{NAME}")
    assert head["ContentType"] == "audio/flac"
    resumed = S3Host(BUCKET, "calls/2026", ttl_s=3600)  # a new run: only the journaled location
    url = await resumed.url(hosted.location, merged, NAME)
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=3600" in url
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == FLAC
    assert s3.head_object(Bucket=BUCKET, Key=f"calls/2026/{NAME}")["LastModified"] == head["LastModified"]


async def test_s3_problems_found_before_the_run_name_the_bucket(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HostingError, match="no such bucket") as missing:
        await S3Host("no-such-bucket-here", "", ttl_s=3600).check()
    assert not missing.value.transient
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(HostingError, match="no AWS credentials"):
        await S3Host(BUCKET, "", ttl_s=3600).check()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("s3://b-1/a/b/", ("b-1", "a/b")), ("s3://bucket", ("bucket", "")), ("https://bucket/x", None),
     ("s3://Bad_Bucket/x", None), ("s3://bucket/x?versionId=1", None)],
)  # fmt: skip
def test_upload_urls_are_parsed_or_refused(text: str, expected: tuple[str, str] | None) -> None:
    if expected is None:
        with pytest.raises(HostingError, match="--upload"):
            parse_s3_url(text)
    else:
        assert parse_s3_url(text) == expected


@pytest.mark.parametrize("ttl", [0, 59, 604_801])
def test_a_url_lifetime_beyond_what_sigv4_allows_is_refused(ttl: int) -> None:
    with pytest.raises(HostingError, match="7 days"):
        S3Host(BUCKET, "", ttl_s=ttl)


@pytest.fixture
async def mock() -> AsyncIterator[RunningMock]:
    async with serve(MockConfig.from_json({"media": {"fetch": False}}), port=0) as running:
        yield running


async def test_the_mock_host_keeps_its_signature_in_memory_and_a_new_run_uploads_again(
    mock: RunningMock, merged: Path
) -> None:
    host = MockHost(mock.base_url, ttl_s=3600)
    await host.check()
    hosted = await host.put(merged, NAME)
    assert hosted.location == f"{mock.base_url}/__mock__/media/{NAME.replace('/', '-')}"
    assert hosted.url is not None
    assert "Signature=" in hosted.url
    assert await host.url(hosted.location, merged, NAME) == hosted.url  # still fresh: no second upload
    assert host.uploads == 1
    resumed = MockHost(mock.base_url, ttl_s=3600)
    gone = f"http://127.0.0.1:9/__mock__/media/{NAME.replace('/', '-')}"  # journaled against an earlier mock
    url = await resumed.url(gone, merged, NAME)
    assert url.startswith(f"{mock.base_url}/__mock__/media/")
    assert resumed.uploads == 1  # the mock signs only what it is sent
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == FLAC
    await host.aclose()
    await resumed.aclose()


async def test_the_mock_host_refuses_a_server_that_is_not_a_mock() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, text="nope"))
    with pytest.raises(HostingError, match="not a cintel mock"):
        await MockHost("http://127.0.0.1:9", ttl_s=3600, transport=transport).check()


async def test_a_served_directory_is_used_once_a_ranged_get_shows_the_file(served_dir: tuple[str, Path]) -> None:
    base, root = served_dir
    path = root / NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(FLAC)
    host = DirectoryHost(base, root)
    await host.check()
    hosted = await host.put(path, NAME)
    assert hosted.location == f"{base}/{NAME}"
    assert hosted.url is None  # no URL without the check: a first run's create waits for `url` too
    assert await host.url(hosted.location, path, NAME) == hosted.location
    moved = "https://old-server.example/calls/" + NAME  # journaled by an earlier run served elsewhere
    assert await host.url(moved, path, NAME) == hosted.location  # this run's base URL is the one used
    await host.aclose()


async def test_a_wrong_base_url_is_definitive_and_names_the_url_and_the_directory(served_dir: tuple[str, Path]) -> None:
    base, root = served_dir
    path = root / NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(FLAC)
    wrong = DirectoryHost(base + "/elsewhere", root)
    with pytest.raises(HostUnusable) as caught:
        await wrong.url((await wrong.put(path, NAME)).location, path, NAME)
    assert not caught.value.transient
    assert str(caught.value) == (f"{base}/elsewhere/{NAME}: HTTP 404, though {path.name} is in {root}: that "
                                 f"directory is not served at {base}/elsewhere")  # fmt: skip
    await wrong.aclose()
    host = DirectoryHost(base, root)
    (root / "index.flac").write_bytes(b"<html>an index page, served for any path</html>")
    with pytest.raises(HostUnusable, match=r"not the merged file call_1-\w+\.flac \(its first bytes differ\)"):
        await host.url(f"{base}/index.flac", path, "index.flac")
    await host.aclose()


async def test_the_served_file_must_be_the_whole_merged_file(served_dir: tuple[str, Path], tmp_path: Path) -> None:
    """The same first bytes are not enough: a file cut short (a copy still being synced) is refused by its size."""
    base, root = served_dir
    path = tmp_path / "merged.flac"
    path.write_bytes(FLAC)
    (root / "b").mkdir()
    (root / "b" / "x.flac").write_bytes(FLAC[:5000])
    host = DirectoryHost(base, root)
    with pytest.raises(HostUnusable, match="5000 bytes, not 10244"):
        await host.url(f"{base}/b/x.flac", path, "b/x.flac")
    await host.aclose()


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [(lambda: httpx.Response(200, content=FLAC), True),  # a server that ignores Range: the whole file
     (lambda: httpx.Response(200, content=FLAC + b"more"), False),
     (lambda: httpx.Response(206, content=FLAC[:4096], headers={"Content-Range": "bytes 0-4095/*"}), True)],
)  # fmt: skip
async def test_a_plain_200_or_a_206_of_unknown_size_is_checked_by_what_it_says(
    merged: Path, answer: Callable[[], httpx.Response], accepted: bool
) -> None:
    host = DirectoryHost("https://files.example/calls", merged.parents[1],
                         transport=httpx.MockTransport(lambda request: answer()))  # fmt: skip
    if accepted:
        assert await host.url("", merged, NAME) == f"https://files.example/calls/{NAME}"
    else:
        with pytest.raises(HostUnusable, match="10248 bytes, not 10244"):
            await host.url("", merged, NAME)
    await host.aclose()


async def test_a_server_that_refuses_the_file_says_it_must_be_readable_by_anyone(merged: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(403, text="Forbidden"))
    host = DirectoryHost("https://files.example/calls", merged.parents[1], transport=transport)
    with pytest.raises(HostUnusable, match=r"HTTP 403: the server refuses call_1-\w+\.flac .* chmod it"):
        await host.url("", merged, NAME)
    await host.aclose()


@pytest.mark.parametrize("answer", [503, 429, 408, "refused"])
async def test_a_server_that_does_not_answer_now_is_worth_trying_again(merged: Path, answer: int | str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if answer == "refused":
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(int(answer))

    host = DirectoryHost("https://files.example/calls", merged.parents[1], transport=httpx.MockTransport(handle))
    with pytest.raises(HostingError) as caught:
        await host.url("", merged, NAME)
    assert caught.value.transient
    assert not isinstance(caught.value, HostUnusable)
    assert f"https://files.example/calls/{NAME}" in str(caught.value)
    await host.aclose()


@pytest.mark.parametrize(
    "base", ["ftp://files.example/calls", "https://user:Zs3cr3t@files.example/calls", "https://f.example/c?token=1"]
)
def test_a_served_base_url_with_credentials_or_a_query_is_refused(tmp_path: Path, base: str) -> None:
    with pytest.raises(HostingError) as caught:
        DirectoryHost(base, tmp_path)
    assert "Zs3cr3t" not in str(caught.value)


async def test_a_served_directory_that_does_not_exist_is_found_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(HostingError, match="no such directory"):
        await DirectoryHost("https://files.example/calls", tmp_path / "missing").check()
