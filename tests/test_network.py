"""Network faults against a real HTTP index: timeouts, retries, truncation, refusals.

Each test drives envsync's IndexClient (or the CLI) against LocalIndex on 127.0.0.1 with
one of its failure toggles, and checks both the outcome and what the server saw: how
many requests, so "retried exactly N times" and "never retried" are facts, not hopes.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import client_for, run_envsync, write_config
from localindex import LocalIndex
from packaging.utils import canonicalize_name
from wheelfactory import WheelSpec

from envsync.errors import ConfigError, HashMismatch, IndexUnavailable
from envsync.files.cache import cache_dir
from envsync.model import Artifact, IndexSettings
from envsync.resolve.http import ATTEMPTS, DEFAULT_TIMEOUT, RETRY_AFTER_CAP, backoff, make_client, retry_delay
from envsync.resolve.index import IndexClient

LIB = canonicalize_name("lib")




def downloads_left() -> list[Path]:
    """Every file in the download cache, temp files included."""
    folder = cache_dir() / "downloads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def artifact_of(client: IndexClient, name: str = "lib") -> Artifact:
    (artifact,) = client.artifacts(canonicalize_name(name))
    return artifact


# -- timeouts ------------------------------------------------------------------------------


def test_every_request_phase_has_a_timeout(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ENVSYNC_HTTP_TIMEOUT", raising=False)
    with make_client() as client:
        timeout = client.timeout
    assert timeout.read == DEFAULT_TIMEOUT == 30
    assert None not in (timeout.connect, timeout.write, timeout.pool)
    assert timeout.connect <= 5


def test_read_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENVSYNC_HTTP_TIMEOUT", "0.5")
    with make_client() as client:
        assert client.timeout.read == 0.5 and client.timeout.connect == 0.5


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan", "inf"])
def test_a_bad_timeout_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("ENVSYNC_HTTP_TIMEOUT", value)
    with pytest.raises(ConfigError, match="ENVSYNC_HTTP_TIMEOUT"):
        make_client()


def test_a_hanging_index_fails_within_bounded_time(index: LocalIndex, clients, monkeypatch):
    index.add(WheelSpec("lib", "1.0"))
    monkeypatch.setenv("ENVSYNC_HTTP_TIMEOUT", "0.3")
    index.delay = 3.0
    client = client_for(clients, index.url)
    waits: list[float] = []
    client.sleep = waits.append
    with pytest.raises(IndexUnavailable) as caught:
        client.artifacts(LIB)
    assert "did not answer in time" in str(caught.value) and index.url in str(caught.value)
    # Bounded by construction: ATTEMPTS timed-out requests and the backoff between them.
    assert len(index.requests) == ATTEMPTS
    assert waits == [backoff(n) for n in range(1, ATTEMPTS)]


def test_a_hanging_index_ends_the_cli_with_a_message(index: LocalIndex, tmp_path: Path):
    index.add(WheelSpec("lib", "1.0"))
    index.delay = 3.0
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    result = run_envsync("plan", cwd=project, env={"ENVSYNC_HTTP_TIMEOUT": "0.3"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "did not answer in time" in result.stderr
    assert index.url in result.stderr


def test_connection_refused_is_a_quick_error(clients):
    url = LocalIndex.unreachable_url()
    client = client_for(clients, url)
    waits: list[float] = []
    client.sleep = waits.append
    with pytest.raises(IndexUnavailable, match="is unreachable") as caught:
        client.artifacts(LIB)
    assert url in str(caught.value) and f"after {ATTEMPTS} attempts" in str(caught.value)
    assert waits == [backoff(n) for n in range(1, ATTEMPTS)]  # only the backoff between attempts


# -- retries ------------------------------------------------------------------------------


def test_503_then_200_succeeds(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    index.fail_with, index.fail_count = 503, ATTEMPTS - 1
    assert artifact_of(client_for(clients, index.url)).filename == "lib-1.0-py3-none-any.whl"
    assert index.requests == ["/simple/lib/"] * ATTEMPTS


def test_503_forever_fails_after_exactly_n_attempts(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    index.fail_with = 503
    client = client_for(clients, index.url)
    waits: list[float] = []
    client.sleep = waits.append
    with pytest.raises(IndexUnavailable) as caught:
        client.artifacts(LIB)
    message = str(caught.value)
    assert "HTTP 503" in message and f"index {index.url}" in message
    assert index.requests == ["/simple/lib/"] * ATTEMPTS
    assert waits == [backoff(n) for n in range(1, ATTEMPTS)]
    assert waits == sorted(waits) and waits[0] < waits[-1]  # exponential, not constant


@pytest.mark.parametrize("status", [404, 403, 401])
def test_client_errors_are_never_retried(index: LocalIndex, clients, status: int):
    """404 on a page means "no such project"; on a file, and for any other 4xx, a clear error."""
    index.add(WheelSpec("lib", "1.0"))
    client = client_for(clients, index.url)
    artifact = artifact_of(client)
    index.clear_requests()
    index.fail_with = status
    with pytest.raises(IndexUnavailable, match=f"HTTP {status}"):
        client.download(artifact)
    assert index.requests == ["/files/lib-1.0-py3-none-any.whl"]


def test_a_missing_project_page_is_asked_for_once(index: LocalIndex, clients):
    assert client_for(clients, index.url).artifacts(canonicalize_name("nothere")) == []
    assert index.requests == ["/simple/nothere/"]


def test_429_honours_retry_after(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    index.fail_with, index.fail_count, index.retry_after = 429, 1, "1"
    client = client_for(clients, index.url)
    waits: list[float] = []
    client.sleep = waits.append
    artifact_of(client)
    assert waits == [1.0]


def test_a_huge_retry_after_is_capped(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    index.fail_with, index.fail_count, index.retry_after = 503, 1, "86400"
    client = client_for(clients, index.url)
    waits: list[float] = []
    client.sleep = waits.append
    artifact_of(client)
    assert waits == [RETRY_AFTER_CAP]


def test_retry_delay_reads_seconds_and_dates():
    now = 1_700_000_000.0
    assert retry_delay(1, "2", now) == 2.0
    assert retry_delay(1, "Tue, 14 Nov 2023 22:13:23 GMT", now) == pytest.approx(3.0)
    assert retry_delay(1, "Mon, 01 Jan 2001 00:00:00 GMT", now) == 0.0  # in the past: go now
    assert retry_delay(2, "whenever", now) == backoff(2)
    assert retry_delay(3, None, now) == backoff(3)


def test_errors_name_the_index_without_credentials(index: LocalIndex, clients):
    index.fail_with = 503
    url = index.url.replace("http://", "http://alice:s3cret-token@")
    with pytest.raises(IndexUnavailable) as caught:
        client_for(clients, url).artifacts(LIB)
    message = str(caught.value)
    assert f"127.0.0.1:{index.port}" in message and "HTTP 503" in message
    assert "s3cret-token" not in message and "alice" not in message


# -- downloads -----------------------------------------------------------------------------


def test_a_body_cut_short_is_retried_then_reported_and_never_cached(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0", files={"lib/__init__.py": "x = 1\n" * 5000}))
    client = client_for(clients, index.url)
    artifact = artifact_of(client)
    index.clear_requests()
    index.truncate = "cut"
    with pytest.raises(IndexUnavailable) as caught:
        client.download(artifact)
    assert "lib-1.0-py3-none-any.whl" in str(caught.value) and index.url in str(caught.value)
    assert index.requests == ["/files/lib-1.0-py3-none-any.whl"] * ATTEMPTS
    assert downloads_left() == []
    index.truncate = None  # the server recovers: nothing poisoned the cache
    path = client.download(artifact)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == artifact.sha256


def test_a_short_body_with_a_matching_length_is_caught_by_size(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    client = client_for(clients, index.url)
    artifact = artifact_of(client)
    assert artifact.size is not None  # the JSON API says how big the file is
    index.truncate = "short"
    with pytest.raises(IndexUnavailable, match=f"got {artifact.size // 2} bytes, the index promised {artifact.size}"):
        client.download(artifact)
    assert downloads_left() == []


def test_a_short_body_without_a_listed_size_is_caught_by_hash(html_index: LocalIndex, clients):
    html_index.add(WheelSpec("lib", "1.0"))
    client = client_for(clients, html_index.url)
    artifact = artifact_of(client)
    assert artifact.size is None and artifact.sha256
    html_index.truncate = "short"
    with pytest.raises(HashMismatch, match="does not match"):
        client.download(artifact)
    assert downloads_left() == []


def test_a_truncated_download_fails_apply_and_leaves_no_package(index: LocalIndex, tmp_path: Path):
    index.add(WheelSpec("lib", "1.0"))
    index.truncate = "cut"
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "lib-1.0-py3-none-any.whl" in result.stderr
    assert downloads_left() == []
    assert not list((project / ".envs").glob("e/lib/python*/site-packages/lib"))


class _StreamingHandler(http.server.BaseHTTPRequestHandler):
    """Serves BIG_SIZE bytes of a repeating block, written as it goes: no whole file on either side."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(BIG_SIZE))
        self.end_headers()
        for _ in range(BIG_SIZE // len(BLOCK)):
            self.wfile.write(BLOCK)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


BLOCK = bytes(range(256)) * 256  # 64 KiB
BIG_SIZE = 48 * len(BLOCK) * 16  # 48 MiB


@pytest.fixture
def streaming_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StreamingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_downloads_stream_to_disk_instead_of_memory(streaming_server: str, clients):
    digest = hashlib.sha256()
    for _ in range(BIG_SIZE // len(BLOCK)):
        digest.update(BLOCK)
    artifact = Artifact(filename="big-1.0-py3-none-any.whl", url=f"{streaming_server}/files/big-1.0-py3-none-any.whl",
                        sha256=digest.hexdigest(), size=BIG_SIZE)
    client = client_for(clients, f"{streaming_server}/simple")
    tracemalloc.start()
    try:
        path = client.download(artifact)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size == BIG_SIZE and path.parent.name == artifact.sha256
    assert peak < BIG_SIZE // 8, f"peak {peak} bytes while downloading {BIG_SIZE}"
    assert [p.name for p in downloads_left()] == [artifact.filename]  # no temp file left behind


def test_a_file_index_download_is_verified_the_same_way(index: LocalIndex, tmp_path: Path, clients):
    index.add(WheelSpec("lib", "1.0"))
    url = index.write_file_index(tmp_path / "static")
    client = client_for(clients, url)
    artifact = artifact_of(client)
    (tmp_path / "static" / "files" / artifact.filename).write_bytes(b"not the wheel")
    with pytest.raises(HashMismatch):
        client.download(artifact)
    assert downloads_left() == []


def test_transport_errors_that_cannot_pass_are_not_retried(clients):
    """A URL httpx can't even send (an unsupported scheme) fails at once, as IndexUnavailable."""
    client = client_for(clients, "ftp://127.0.0.1/simple")
    waits: list[float] = []
    client.sleep = waits.append
    with pytest.raises(IndexUnavailable, match="ftp://127.0.0.1"):
        client.artifacts(LIB)
    assert waits == []


def test_a_redirect_loop_is_a_clear_error(clients):
    def always_redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": str(request.url)})

    client = IndexClient(IndexSettings(index_url="http://loop.test/simple"),
                         client=httpx.Client(transport=httpx.MockTransport(always_redirect), follow_redirects=True))
    clients.append(client)
    with pytest.raises(IndexUnavailable, match="TooManyRedirects"):
        client.artifacts(LIB)
