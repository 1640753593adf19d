"""An HTTP/1.1 transport for httpx built on the standard library's http.client.

Why: a cold resolve makes some 350 small requests (index pages, range reads of wheels) from
16 threads that share one interpreter lock, and the run is bound by that lock. Through httpx's
default stack (httpcore and h11, pure Python) a small request costs about 0.9 ms of CPU, and
each checkout from the pool polls every idle connection; http.client parses the status line
and reads bodies in C, about 0.4 ms a request. httpx's client stays on top: redirects, the
https->http refusal hook, credentials, timeouts and content decoding are unchanged.

Connections are kept per origin, newest first, and a kept one is checked for a close by the
server (one poll of that socket) before it is used again; a request on a kept connection that
the server closed meanwhile is sent once more on a new one (only GETs are made, and nothing of
the answer had arrived). Host names are looked up through connect.HostAddresses (once per run)
and at most MAX_SETUPS connections are opened at once, as before.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx

from envsync.resolve.connect import HostAddresses

CHUNK = 1 << 16
Origin = tuple[str, str, int]  # scheme, host, port


class _Connection:
    """One kept-alive connection to an origin, and when it was last given back."""

    def __init__(self, client: http.client.HTTPConnection) -> None:
        self.client = client
        self.idle_since = 0.0

    def server_closed(self) -> bool:
        """Whether the server has closed this idle connection (or sent something unasked: bytes
        waiting in the socket, or decrypted and held by TLS)."""
        sock = self.client.sock
        if sock is None:
            return True
        try:
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return True
            if hasattr(select, "poll"):  # no limit on descriptor numbers, as select() has (1024)
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.client.close()


class LeanTransport(httpx.BaseTransport):
    """GETs over http.client connections kept per origin (see the module's docstring)."""

    def __init__(self, ssl_context: ssl.SSLContext, addresses: HostAddresses, setups: threading.BoundedSemaphore,
                 *, keep_per_origin: int = 16, keepalive_expiry: float = 5.0) -> None:
        self._ssl_context = ssl_context
        self._addresses = addresses
        self._setups = setups
        self._keep_per_origin = keep_per_origin
        self._expiry = keepalive_expiry
        self._lock = threading.Lock()
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.",
                                            request=request)
        # raw_host: the name as httpx encodes it (IDNA 2008) and sends it in Host, not Python's IDNA 2003
        origin = (url.scheme, url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = request.read() if request.method not in ("GET", "HEAD") else b""
        for _ in range(2):
            try:
                connection, reused = self._checkout(origin, timeouts)
            except OSError as exc:  # the name, TCP or TLS (a certificate error is an OSError too)
                raise _connect_error(exc, request) from exc
            try:
                response = self._send(connection, request, url.raw_path.decode("ascii"), body, timeouts)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                connection.close()
                if reused:
                    continue  # the server closed a kept connection before answering: a new one
                raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise _mapped(exc, request) from exc
            except ValueError as exc:  # a header value http.client refuses to send (a line break in it)
                connection.close()
                raise httpx.LocalProtocolError(str(exc), request=request) from exc
            except BaseException:
                connection.close()
                raise
            headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.getheaders()]
            framing = _framing_error(response)
            if framing:
                response.close()
                connection.close()
                raise httpx.RemoteProtocolError(framing, request=request)
            reason = (response.reason or "").encode("latin-1", "replace")
            version = b"HTTP/1.0" if response.version == 10 else b"HTTP/1.1"
            return httpx.Response(response.status, headers=headers,
                                  stream=_Body(self, origin, connection, response, request),
                                  extensions={"http_version": version, "reason_phrase": reason})
        raise httpx.RemoteProtocolError("the server closed the connection twice before answering", request=request)

    @staticmethod
    def _send(connection: _Connection, request: httpx.Request, target: str, body: bytes,
              timeouts: dict[str, float | None]) -> http.client.HTTPResponse:
        client = connection.client
        assert client.sock is not None
        client.sock.settimeout(timeouts.get("read"))
        client.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers.raw:
            client.putheader(name, value)
        client.endheaders(body or None)
        return client.getresponse()

    def _checkout(self, origin: Origin, timeouts: dict[str, float | None]) -> tuple[_Connection, bool]:
        now = time.monotonic()
        stale: list[_Connection] = []
        found = None
        with self._lock:
            kept = self._idle.get(origin)
            while kept:
                candidate = kept.pop()
                if now - candidate.idle_since > self._expiry:
                    stale.append(candidate)
                    continue
                found = candidate
                break
        for connection in stale:
            connection.close()
        if found is not None and not found.server_closed():
            return found, True
        if found is not None:
            found.close()
        return self._connect(origin, timeouts), False

    def _connect(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        scheme, host, port = origin
        connect_timeout = timeouts.get("connect")
        try:
            addresses = self._addresses.of(host, port)
        except OSError as exc:  # socket.gaierror: the name does not resolve (now)
            raise OSError(f"{host}: {exc}") from exc
        failure: OSError = OSError(f"{host}: no address to connect to")
        with self._setups:
            for address in addresses:
                try:
                    sock = socket.create_connection((address, port), timeout=connect_timeout)
                    break
                except OSError as exc:
                    failure = exc
            else:
                raise failure
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._ssl_context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        # The plain class for https too: the socket is wrapped above, and HTTPSConnection would load
        # the CA bundle again for each connection (30 ms). auto_open off: http.client never connects
        # on its own (a closed connection is never used again here).
        client = http.client.HTTPConnection(host, port)
        client.sock = sock
        client.auto_open = 0
        client.response_class = _FinalResponse
        return _Connection(client)

    def give_back(self, origin: Origin, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            if not self._closed:
                kept = self._idle.setdefault(origin, [])
                if len(kept) < self._keep_per_origin:
                    kept.append(connection)
                    return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            kept, self._idle = self._idle, {}
        for connections in kept.values():
            for connection in connections:
                connection.close()


class _Body(httpx.SyncByteStream):
    """A response's body as it arrives; the connection goes back to be kept once it is read in full."""

    def __init__(self, transport: LeanTransport, origin: Origin, connection: _Connection,
                 response: http.client.HTTPResponse, request: httpx.Request) -> None:
        self._transport, self._origin, self._connection = transport, origin, connection
        self._response, self._request = response, request
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            # http.client gives a 204 or 304 no body (length 0) but still reads one if it claims to be chunked
            while self._response.length != 0:
                chunk = self._response.read1(CHUNK)  # what has arrived: a trickle must show as it comes
                if not chunk:
                    break
                yield chunk
            if self._response.length:  # http.client ends a body cut short quietly: say so
                raise http.client.IncompleteRead(b"", self._response.length)
        except (OSError, http.client.HTTPException) as exc:
            self._finish(reusable=False)
            raise _mapped(exc, self._request) from exc
        except BaseException:
            self._finish(reusable=False)
            raise
        self._finish(reusable=not self._response.will_close)

    def close(self) -> None:
        self._finish(reusable=False)

    def _finish(self, reusable: bool) -> None:
        """Give the connection back when the body was read to its end (`reusable`), else close it:
        the rest of an unread body would be taken for the next response."""
        if self._done:
            return
        self._done = True
        self._response.close()  # http.client sends nothing more on a connection until its response is closed
        if reusable:
            self._transport.give_back(self._origin, self._connection)
        else:
            self._connection.close()


def _connect_error(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    """httpx's exception for a connection that could not be set up (name, TCP or TLS)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, socket.timeout | TimeoutError):
        return httpx.ConnectTimeout(text, request=request)
    return httpx.ConnectError(text, request=request)


def _mapped(exc: OSError | http.client.HTTPException, request: httpx.Request) -> httpx.TransportError:
    """httpx's exception for a failure on an open connection, as httpcore's would have been."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, socket.timeout | TimeoutError):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(text, request=request)
    return httpx.ReadError(text, request=request)


class _FinalResponse(http.client.HTTPResponse):
    """http.client's response, passing over every informational (1xx) answer before the final one, as
    httpcore does: http.client skips only `100 Continue`, and would take a `103 Early Hints` for the
    answer (its headers as a body of none), leaving the real answer to be read as the next request's."""

    def _read_status(self) -> tuple[str, int, str]:
        version, status, reason = super()._read_status()  # type: ignore[misc]
        while 100 < status < 200 and status != 101:
            http.client.parse_headers(self.fp)  # the informational answer's headers, dropped
            version, status, reason = super()._read_status()  # type: ignore[misc]
        return version, status, reason


def _framing_error(response: http.client.HTTPResponse) -> str:
    """Why the response's length can't be trusted as http.client would read it, or "": a
    Transfer-Encoding other than chunked (http.client would hand over its framing as the body),
    or Content-Length headers that disagree (it would take the first)."""
    encodings = response.headers.get_all("transfer-encoding") or []
    if encodings and (len(encodings) > 1 or not response.chunked):  # chunked: exactly that, said once
        return f"unsupported Transfer-Encoding: {', '.join(encodings)}"
    lengths = {value.strip() for value in response.headers.get_all("content-length") or []}
    if len(lengths) > 1:
        return f"conflicting Content-Length headers: {', '.join(sorted(lengths))}"
    return ""
