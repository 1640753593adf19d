"""The index client's connections (resolve/lean_transport.py): kept alive and used again, a
connection the server closed meanwhile replaced without an error, bodies read however the
server sends them, and a body cut short never taken for a whole one.

Real sockets: the local index, and for what it never sends (chunked bodies, gzip, a cut body,
`Connection: close`) a small server of the test's own.
"""

from __future__ import annotations

import gzip
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.resolve import connect, lean_transport
from envsync.resolve.http import make_client


def test_requests_one_after_another_share_one_connection(index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    with make_client() as client:
        pages = [client.get(f"{index.url}/lib/").text for _ in range(10)]
    assert all("lib-1.0-py3-none-any.whl" in page for page in pages)
    assert index.connections_opened == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_without_an_error(index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    with make_client() as client:
        assert client.get(f"{index.url}/lib/").status_code == 200
        index.hang_up()  # as a server does with a keep-alive connection idle for too long
        assert client.get(f"{index.url}/lib/").status_code == 200
    assert index.connections_opened == 2


def test_a_close_noticed_only_when_sending_is_retried_on_a_new_connection(index: LocalIndex,
                                                                           monkeypatch: pytest.MonkeyPatch):
    index.add(WheelSpec("lib", "1.0"))
    # The server may close between the check of an idle connection and the request on it.
    monkeypatch.setattr(lean_transport._Connection, "server_closed", lambda self: False)
    with make_client() as client:
        assert client.get(f"{index.url}/lib/").status_code == 200
        index.hang_up()
        assert "lib-1.0" in client.get(f"{index.url}/lib/").text
    assert index.connections_opened == 2


def test_a_body_left_unread_never_reaches_the_next_response(index: LocalIndex):
    index.add(WheelSpec("big", "1.0", files={"big/data.bin": random.Random(0).randbytes(300_000)}))
    index.add(WheelSpec("lib", "1.0"))
    wheel = index.file_url("big-1.0-py3-none-any.whl")
    with make_client() as client:
        with client.stream("GET", wheel) as response:
            assert response.status_code == 200  # closed without reading the body
        page = client.get(f"{index.url}/lib/")
    assert page.status_code == 200 and "lib-1.0" in page.text
    assert index.connections_opened == 2, "a connection with unread bytes is closed, not kept"


def test_a_connection_idle_past_its_expiry_is_not_used_again(index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    transport = lean_transport.LeanTransport(httpx.create_ssl_context(), connect.HostAddresses(),
                                             threading.BoundedSemaphore(1), keepalive_expiry=0.0)
    with httpx.Client(transport=transport) as client:
        for _ in range(3):
            assert client.get(f"{index.url}/lib/").status_code == 200
    assert index.connections_opened == 3


class _OddServer(ThreadingHTTPServer):
    """Answers the way the local index never does; counts the connections it accepts."""

    daemon_threads = True
    opened = 0


class _OddHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _OddServer

    def setup(self) -> None:
        super().setup()
        self.server.opened += 1

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/gzip":
            body = gzip.compress(b"unpacked by httpx")
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"done")
            self.close_connection = True
        elif self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only part of it")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif self.path == "/cut-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"10\r\nonly part")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif self.path.startswith("/early-hints/"):
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            body = f"page of {self.path}".encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif self.path == "/not-modified-chunked":
            self.wfile.write(b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")
        elif self.path == "/gzip-chunked":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")
        elif self.path == "/two-lengths":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 8\r\n\r\nabcdefgh")
        else:
            self.send_error(404)


@pytest.fixture
def odd_server() -> Iterator[_OddServer]:
    server = _OddServer(("127.0.0.1", 0), _OddHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _base(server: _OddServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_chunked_and_gzip_bodies_arrive_whole_and_the_connection_is_kept(odd_server: _OddServer):
    with make_client() as client:
        assert client.get(f"{_base(odd_server)}/chunked").content == b"hello chunked world"
        assert client.get(f"{_base(odd_server)}/gzip").text == "unpacked by httpx"
        assert client.get(f"{_base(odd_server)}/chunked").content == b"hello chunked world"
    assert odd_server.opened == 1


def test_a_connection_the_server_says_it_closes_is_not_kept(odd_server: _OddServer):
    with make_client() as client:
        assert client.get(f"{_base(odd_server)}/close").content == b"done"
        assert client.get(f"{_base(odd_server)}/close").content == b"done"
    assert odd_server.opened == 2


@pytest.mark.parametrize("path", ["/cut", "/cut-chunked"])
def test_a_body_cut_short_is_an_error_not_a_shorter_body(odd_server: _OddServer, path: str):
    with make_client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{_base(odd_server)}{path}")


def test_a_port_nobody_listens_on_is_a_connect_error(odd_server: _OddServer):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with make_client() as client, pytest.raises(httpx.ConnectError):
            client.get(f"http://127.0.0.1:{port}/simple/")


def test_an_informational_answer_is_passed_over_not_taken_for_the_page(odd_server: _OddServer):
    """A 103 Early Hints before the 200: http.client alone would answer the 103 and leave the 200
    to be read as the next request's answer."""
    with make_client() as client:
        for name in ("first", "second", "third"):
            response = client.get(f"{_base(odd_server)}/early-hints/{name}/")
            assert (response.status_code, response.text) == (200, f"page of /early-hints/{name}/")
    assert odd_server.opened == 1


def test_a_not_modified_answer_that_claims_a_chunked_body_has_none(odd_server: _OddServer,
                                                                   monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENVSYNC_HTTP_TIMEOUT", "5")
    with make_client() as client:
        response = client.get(f"{_base(odd_server)}/not-modified-chunked")
        assert (response.status_code, response.content) == (304, b"")
        assert client.get(f"{_base(odd_server)}/chunked").content == b"hello chunked world"


@pytest.mark.parametrize("path", ["/gzip-chunked", "/two-lengths"])
def test_a_body_whose_length_is_in_doubt_is_an_error(odd_server: _OddServer, path: str):
    with make_client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{_base(odd_server)}{path}")


def test_a_host_name_is_looked_up_as_httpx_sends_it(odd_server: _OddServer, monkeypatch: pytest.MonkeyPatch):
    """IDNA 2008 (httpx, the Host header) and Python's IDNA 2003 spell some names differently."""
    asked: list[str] = []

    def lookup(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(connect, "_ADDRESSES", connect.HostAddresses(lookup))
    with make_client() as client:
        assert client.get(f"http://faß.example:{odd_server.server_address[1]}/chunked").status_code == 200
    assert asked == ["xn--fa-hia.example"]
