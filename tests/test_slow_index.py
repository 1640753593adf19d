"""A trickling index (a slow-loris server on 127.0.0.1, one byte a second) can't hold envsync:
pages and metadata have a total deadline, downloads a minimum throughput. The limits are set
small through their environment variables so the tests are quick; nothing here times envsync."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import run_envsync, write_config

from envsync.errors import IndexUnavailable
from envsync.model import Artifact, IndexSettings
from envsync.resolve.index import IndexClient


class _Trickle(BaseHTTPRequestHandler):
    """Answers at once with headers, then sends the body one byte a second."""

    body = b""
    content_type = "application/octet-stream"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            for position in range(len(self.body)):
                self.wfile.write(self.body[position:position + 1])
                self.wfile.flush()
                if self.server.stopping.wait(1.0):  # type: ignore[attr-defined]
                    return
        except OSError:
            return  # envsync gave up and closed the connection, as it should

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def slow_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stopping.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _serve(server: ThreadingHTTPServer, body: bytes, content_type: str) -> str:
    _Trickle.body, _Trickle.content_type = body, content_type
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_trickling_index_page_fails_the_plan_naming_the_host(tmp_path: Path, slow_server):
    page = json.dumps({"meta": {"api-version": "1.0"}, "name": "lib", "files": []}).encode() + b" " * 100
    url = _serve(slow_server, page, "application/vnd.pypi.simple.v1+json")
    project = write_config(tmp_path / "p", f'[settings]\nindex-url = "{url}/simple"\n'
                                           '[envs.dev]\ndependencies = ["lib"]\n').parent
    result = run_envsync("plan", cwd=project, env={"ENVSYNC_HTTP_DEADLINE": "2"}, timeout=100)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "127.0.0.1" in result.stderr and "too slowly" in result.stderr, result.stderr
    assert "ENVSYNC_HTTP_DEADLINE" in result.stderr and "internal error" not in result.stderr


def test_a_trickling_download_fails_under_the_minimum_throughput(slow_server, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENVSYNC_DOWNLOAD_MIN_RATE", "100")
    monkeypatch.setenv("ENVSYNC_DOWNLOAD_RATE_WINDOW", "2")
    url = _serve(slow_server, b"x" * 1000, "application/octet-stream")
    client = IndexClient(IndexSettings(index_url=f"{url}/simple"))
    artifact = Artifact("lib-1.0-py3-none-any.whl", f"{url}/files/lib-1.0-py3-none-any.whl", None, size=1000)
    try:
        with pytest.raises(IndexUnavailable, match=r"127\.0\.0\.1 is sending lib-1\.0-py3-none-any\.whl too slowly"):
            client.download(artifact)
    finally:
        client.close()


def test_a_slow_but_steady_download_is_not_cut(slow_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """One byte a second meets a minimum of one byte a second: it finishes, however long it takes."""
    monkeypatch.setenv("ENVSYNC_DOWNLOAD_MIN_RATE", "0.5")
    monkeypatch.setenv("ENVSYNC_DOWNLOAD_RATE_WINDOW", "1")
    url = _serve(slow_server, b"abc", "application/octet-stream")
    client = IndexClient(IndexSettings(index_url=f"{url}/simple"))
    try:
        path = client.download(Artifact("lib-1.0.tar.gz", f"{url}/files/lib-1.0.tar.gz", None, size=3))
    finally:
        client.close()
    assert path.read_bytes() == b"abc"


def test_the_limits_must_be_positive_numbers(tmp_path: Path):
    project = write_config(tmp_path / "p", '[envs.dev]\ndependencies = ["lib"]\n').parent
    result = run_envsync("plan", cwd=project, env={"ENVSYNC_HTTP_DEADLINE": "soon"})
    assert result.returncode == 1 and "ENVSYNC_HTTP_DEADLINE='soon'" in result.stderr, result.stderr

