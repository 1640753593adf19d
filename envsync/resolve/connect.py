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

import socket
import threading
import time
import urllib.request
from collections.abc import Callable

import httpx

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


def proxy_configured() -> bool:
    """Whether the environment names a proxy httpx would use for http or https."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


def shared_lookup_transport(limits: httpx.Limits) -> httpx.BaseTransport | None:
    """An HTTP/1.1 transport whose connections share this run's lookups, or None when a proxy is
    configured (then httpx's default transport, which knows the proxy, is the one to use)."""
    if proxy_configured():
        return None
    from envsync.resolve.lean_transport import LeanTransport

    ssl_context = httpx.create_ssl_context(verify=True, trust_env=True)  # loading the CA bundle: ~25 ms
    return LeanTransport(ssl_context, _ADDRESSES, _SETUPS, keep_per_origin=limits.max_keepalive_connections or 16,
                         keepalive_expiry=limits.keepalive_expiry or 5.0)
