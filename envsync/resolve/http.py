"""HTTP for the index client: timeouts, retries with backoff, refusing https->http redirects,
bounded reads, and downloads hashed as they are written. No project or page knowledge here.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import math
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from envsync import __version__
from envsync.errors import ConfigError, HashMismatch, IndexUnavailable, InsecureRedirect
from envsync.model import Artifact
from envsync.resolve.connect import shared_lookup_transport, tls_context
from envsync.resolve.urls import redact

TIMEOUT_VARIABLE = "ENVSYNC_HTTP_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds without a byte from the server before a request is given up
# A server trickling a byte at a time never trips the timeout above. Pages and metadata (small)
# get a total deadline; downloads (a wheel may be gigabytes on a slow link) a minimum throughput.
DEADLINE_VARIABLE = "ENVSYNC_HTTP_DEADLINE"
DEFAULT_DEADLINE = 300.0  # seconds for a whole index page or metadata file, from its first byte
MIN_RATE_VARIABLE = "ENVSYNC_DOWNLOAD_MIN_RATE"
DEFAULT_MIN_RATE = 1024.0  # bytes per second a download must average over each window
WINDOW_VARIABLE = "ENVSYNC_DOWNLOAD_RATE_WINDOW"
DEFAULT_WINDOW = 60.0  # seconds
CONNECT_TIMEOUT = 5.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 3  # per request, so a dead index costs about one second, not minutes
FIRST_BACKOFF = 0.25  # seconds before the second attempt; tripled before each later one
BACKOFF_FACTOR = 3.0
RETRY_AFTER_CAP = 10.0  # a server may ask us to wait, but not to hang the run
CHUNK = 1 << 16
MAX_PAGE_BYTES = 128 << 20  # larger than any real project page; a bound for a hostile one
MAX_METADATA_BYTES = 16 << 20
# Errors worth another attempt: the server may answer next time. Anything else fails at once.
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def positive_setting(variable: str, default: float, unit: str) -> float:
    """The positive number an environment variable sets, else `default`; anything else is an error."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{variable}={raw!r} is not a positive number of {unit}",
                          f"set it to, for example, {default:g}, or unset it")
    return value


def http_timeout() -> httpx.Timeout:
    """Bounds on every phase of every request, so a silent server fails the run instead of hanging it.

    ENVSYNC_HTTP_TIMEOUT (seconds) replaces the read timeout: slow mirrors need more, tests less.
    """
    seconds = positive_setting(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT, "seconds")
    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT, seconds))


def within_deadline(response: httpx.Response, what: str) -> Iterator[bytes]:
    """The body's chunks, as they arrive, but not past ENVSYNC_HTTP_DEADLINE seconds in all: for
    pages and metadata, which are small, so a server trickling a byte at a time can't hold us."""
    seconds = positive_setting(DEADLINE_VARIABLE, DEFAULT_DEADLINE, "seconds")
    ends = time.monotonic() + seconds
    for chunk in response.iter_bytes():
        if time.monotonic() > ends:
            raise IndexUnavailable(f"{response.url.host} is sending {what} too slowly: not complete after "
                                   f"{seconds:g} s ({redact(str(response.url))})",
                                   f"the index is stuck or overloaded; try again, or raise {DEADLINE_VARIABLE} "
                                   "(seconds)")
        yield chunk


def at_least_min_rate(response: httpx.Response, what: str) -> Iterator[bytes]:
    """The body's chunks, as long as each window of ENVSYNC_DOWNLOAD_RATE_WINDOW seconds brings
    ENVSYNC_DOWNLOAD_MIN_RATE bytes a second: a big wheel on a slow link still finishes, a
    trickle does not go on for ever."""
    rate = positive_setting(MIN_RATE_VARIABLE, DEFAULT_MIN_RATE, "bytes a second")
    window = positive_setting(WINDOW_VARIABLE, DEFAULT_WINDOW, "seconds")
    started, received = time.monotonic(), 0
    for chunk in response.iter_bytes():
        received += len(chunk)
        elapsed = time.monotonic() - started
        if elapsed >= window:
            if received < rate * elapsed:
                raise IndexUnavailable(f"{response.url.host} is sending {what} too slowly: {received} bytes in "
                                       f"{elapsed:.0f} s, under {rate:g} bytes a second",
                                       f"try again later, or lower {MIN_RATE_VARIABLE} (bytes a second) or "
                                       f"raise {WINDOW_VARIABLE} (seconds)")
            started, received = time.monotonic(), 0
        yield chunk


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): 0.25, 0.75, 2.25, ..."""
    return FIRST_BACKOFF * BACKOFF_FACTOR ** (attempt - 1)


def retry_delay(attempt: int, retry_after: str | None, now: float | None = None) -> float:
    """The server's Retry-After (seconds or an HTTP date) when it gives one, capped; else our backoff."""
    if retry_after:
        value = retry_after.strip()
        seconds: float | None = None
        if value.isdigit():
            seconds = float(value)
        else:
            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
                when = email.utils.parsedate_to_datetime(value)
                seconds = when.timestamp() - (time.time() if now is None else now)
        if seconds is not None:
            return min(max(seconds, 0.0), RETRY_AFTER_CAP)
    return backoff(attempt)


def refuse_downgrade(response: httpx.Response) -> None:
    """Response hook, called by httpx for every hop: an https URL may not redirect to plain http.

    Following it would send the page request (and its Authorization) in clear, and let
    anyone on the path swap the files listed; pip and uv refuse it too.
    """
    if not response.has_redirect_location:
        return
    source = response.request.url
    target = source.join(response.headers["location"])
    if source.scheme == "https" and target.scheme != "https":
        raise InsecureRedirect(
            f"refused a redirect from {redact(str(source))} to {redact(str(target))}: "
            "an https index must not send envsync to plain http",
            "fix the index URL, or the server's redirect",
        )


def make_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The shared HTTP client: bounded timeouts, no https->http redirects, connection reuse across threads.

    HTTP/1.1 only: httpx's HTTP/2 connection is not safe to share between threads (its header
    compression state is changed by two at once: a cold lock failed with "deque mutated during
    iteration" in 1 run of 19), and envsync's fetch and look-ahead threads share the client.

    `transport` is for tests of the HTTP layer (httpx.MockTransport); by default, the network,
    each host looked up once per run (resolve/connect.py) unless a proxy is configured.
    The slow-server limits are checked here too, so a bad value is reported before any request.
    """
    positive_setting(DEADLINE_VARIABLE, DEFAULT_DEADLINE, "seconds")
    positive_setting(MIN_RATE_VARIABLE, DEFAULT_MIN_RATE, "bytes a second")
    positive_setting(WINDOW_VARIABLE, DEFAULT_WINDOW, "seconds")
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    context = tls_context()
    return httpx.Client(
        transport=transport if transport is not None else shared_lookup_transport(limits, context),
        verify=context,  # for the proxy's transport, when one is configured
        timeout=http_timeout(),
        follow_redirects=True,
        max_redirects=10,
        event_hooks={"response": [refuse_downgrade]},
        headers={"User-Agent": f"envsync/{__version__}"},
        limits=limits,
    )


@dataclass(frozen=True)
class Body:
    """A response read in full: where it ended up after redirects, its media type and bytes."""

    url: str
    content_type: str
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def read_limited(response: httpx.Response, limit: int, what: str) -> Body:
    """Read the whole body, but no more than `limit` bytes: an endless page must not fill memory."""
    chunks, size = [], 0
    for chunk in within_deadline(response, what):
        chunks.append(chunk)  # joined once at the end: a big page would otherwise be copied many times
        size += len(chunk)
        if size > limit:
            raise IndexUnavailable(f"{what} at {response.url} is larger than {limit >> 20} MB",
                                   "the index is broken or hostile")
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    return Body(str(response.url), content_type, b"".join(chunks))


def store(chunks: Iterable[bytes], artifact: Artifact, folder: Path, source: str) -> Path:
    """Write `chunks` to a temp file in `folder` while hashing, then rename it to <sha256>/<filename>.

    Nothing is left behind when the bytes run short or long, or their sha256 differs from
    what the index or lock promised: the temp file is removed and nothing is renamed.
    """
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=folder)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if artifact.size is not None and size > artifact.size:
                    break  # more than promised: stop reading now, report below
                digest.update(chunk)
                out.write(chunk)
        sha256 = digest.hexdigest()
        check_download(artifact, size, sha256, source)
        target = folder / sha256 / artifact.filename
        target.parent.mkdir(exist_ok=True)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is meant to be shared
        os.replace(tmp, target)
        return target
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_download(artifact: Artifact, size: int, sha256: str, source: str) -> None:
    if artifact.size is not None and size != artifact.size:
        got = f"more than {artifact.size}" if size > artifact.size else str(size)
        raise IndexUnavailable(
            f"{artifact.filename} from {source}: got {got} bytes, the index promised {artifact.size}",
            "the download was cut short or the file changed; try again. Nothing was installed from it",
        )
    if artifact.sha256 and sha256 != artifact.sha256:
        raise HashMismatch(
            f"{artifact.filename}: sha256 {sha256} does not match the expected {artifact.sha256}",
            "the file on the index changed, was cut short or was tampered with; nothing was installed from it",
        )
