"""Opening connections to the index: each host's name looked up once per run, and only a few
connections set up at a time.

Why: a cold lock opens 20-odd connections in the first second, and with httpx's default every
one asks DNS for the same name at the same moment. Some resolvers (this project's CI machines,
corporate DNS) drop part of such a burst, and the C library retries a dropped query only after
5 s, so a cold lock took 2 s in one run and 7 or 12 s in the next. uv looks each name up once.
Here the first connection to a host looks it up while the others wait for its answer, and the
answer is kept for a few minutes (a run; `envsync watch` runs for hours and asks again).

Used only when no proxy is configured: through a proxy, the proxy looks names up, and httpx's
own transport (which honours the proxy variables) is kept.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable

import httpx

from envsync.errors import ConfigError

MAX_SETUPS = 8  # TCP connections being opened at once, over every host
KEEP_SECONDS = 300.0  # how long an answer is reused: hosts behind a CDN move now and then
Lookup = Callable[[str, int], list[str]]


def system_lookup(host: str, port: int) -> list[str]:
    """The addresses the C library gives for `host`, in its order of preference, without repeats."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


class HostAddresses:
    """Each (host, port)'s addresses, looked up by one thread while the others wait for it.

    A failed lookup is not kept: every waiting thread then tries for itself, so a transient
    DNS error is retried by the HTTP layer's own retries as before.
    """

    def __init__(self, lookup: Lookup = system_lookup, keep: float = KEEP_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._keep = keep
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[tuple[str, int], tuple[float, list[str]]] = {}  # -> (when looked up, addresses)
        self._pending: dict[tuple[str, int], threading.Event] = {}

    def of(self, host: str, port: int) -> list[str]:
        key = (host, port)
        with self._lock:
            fresh = self._fresh(key)
            if fresh is not None:
                return fresh
            answer = self._pending.get(key)
            leading = answer is None
            if answer is None:
                answer = self._pending[key] = threading.Event()
        if not leading:
            answer.wait()
            with self._lock:
                fresh = self._fresh(key)
            return fresh if fresh is not None else self._lookup(host, port)
        try:
            addresses = self._lookup(host, port)
            with self._lock:
                self._known[key] = (self._clock(), addresses)
            return addresses
        finally:
            with self._lock:
                del self._pending[key]
            answer.set()

    def _fresh(self, key: tuple[str, int]) -> list[str] | None:
        """The kept answer for `key` if it is recent enough; the caller holds the lock."""
        kept = self._known.get(key)
        if kept is None or self._clock() - kept[0] > self._keep:
            return None
        return kept[1]


_ADDRESSES = HostAddresses()  # one per process: a run
_SETUPS = threading.BoundedSemaphore(MAX_SETUPS)


class _TlsAhead:
    """The first client's TLS context, made in a thread before it is asked for (see `prepare_tls`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._made: ssl.SSLContext | None = None
        self._taken = False  # a client took a context: later ones (watch mode, hours on) make their own

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._taken:
                return  # one ahead per run: the first client is the one a cold run waits for
            cafile, capath = _ca_location()  # read here: the thread then runs little Python, mostly OpenSSL
            # Not a daemon: a process that ends while OpenSSL is still loading the bundle in this
            # thread crashes in OpenSSL's exit handlers (seen as a SIGSEGV after a lock that never
            # asked the network); ending waits for it instead, 30 ms at most.
            self._thread = threading.Thread(target=self._make, args=(cafile, capath), name="envsync-tls-ahead")
            self._thread.start()

    def _make(self, cafile: str | None, capath: str | None) -> None:
        with contextlib.suppress(OSError, ValueError):  # `take` makes one again, and reports what fails
            self._made = ssl.create_default_context(cafile=cafile, capath=capath)

    def take(self) -> ssl.SSLContext:
        """The context made ahead (waiting for it if it is being made), else a new one."""
        with self._lock:
            thread, self._taken = self._thread, True
        if thread is not None:
            thread.join()
        made, self._made = self._made, None
        return made if made is not None else new_tls_context()


_TLS_AHEAD = _TlsAhead()


def prepare_tls() -> None:
    """Start making the next client's TLS context in a thread.

    Loading the CA bundle takes about 30 ms, nearly all of it in OpenSSL with the interpreter lock
    released, so a caller that knows the index will be asked soon (a lock about to be resolved)
    overlaps it with reading the old locks instead of making the first request wait for it.
    A context prepared and never taken costs that thread only."""
    _TLS_AHEAD.start()


def tls_context() -> ssl.SSLContext:
    """The TLS context for a new client: the one `prepare_tls` made, else one made now."""
    return _TLS_AHEAD.take()


def new_tls_context() -> ssl.SSLContext:
    """A context that verifies servers against the CA certificates httpx would use; a file that
    can't be read is named, with what to do, rather than failing the first request."""
    cafile, capath = _ca_location()
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        if capath is not None:
            raise ConfigError(f"the CA certificates in SSL_CERT_DIR={capath} can't be read: {reason}",
                              "point SSL_CERT_DIR at a folder of certificates, or unset it") from None
        if os.environ.get("SSL_CERT_FILE"):
            raise ConfigError(f"the CA certificates in SSL_CERT_FILE={cafile} can't be read: {reason}",
                              "point SSL_CERT_FILE at a PEM file of certificates, or unset it") from None
        raise ConfigError(f"certifi's CA certificates ({cafile}) can't be read: {reason}",
                          "reinstall certifi, or set SSL_CERT_FILE to a PEM file of certificates") from None


def _ca_location() -> tuple[str | None, str | None]:
    """The CA file or folder to read, chosen as httpx.create_ssl_context(trust_env=True) chooses:
    SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's bundle."""
    if os.environ.get("SSL_CERT_FILE"):
        return os.environ["SSL_CERT_FILE"], None
    if os.environ.get("SSL_CERT_DIR"):
        return None, os.environ["SSL_CERT_DIR"]
    import certifi

    return certifi.where(), None


def proxy_configured() -> bool:
    """Whether the environment names a proxy httpx would use for http or https."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


def shared_lookup_transport(limits: httpx.Limits, context: ssl.SSLContext) -> httpx.BaseTransport | None:
    """An HTTP/1.1 transport whose connections share this run's lookups, or None when a proxy is
    configured (then httpx's default transport, which knows the proxy, is the one to use)."""
    if proxy_configured():
        return None
    from envsync.resolve.lean_transport import LeanTransport

    return LeanTransport(context, _ADDRESSES, _SETUPS, keep_per_origin=limits.max_keepalive_connections or 16,
                         keepalive_expiry=limits.keepalive_expiry or 5.0)
