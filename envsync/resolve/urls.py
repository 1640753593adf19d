"""URL helpers that need no HTTP client: credentials out of URLs, and origins to compare.

Apart from index.py so that lock files, stamps and messages can use them without
importing httpx.
"""

from __future__ import annotations

import urllib.parse

DEFAULT_PORTS = {"http": 80, "https": 443}


def redact(url: str) -> str:
    """The URL without user:password, safe to print or store."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))


def strip_credentials(url: str) -> str:
    """The URL with no userinfo at all: what is requested, stored and shown.

    Credentials travel only in an Authorization header chosen per origin (`_auth_for`), so
    they can't follow a file link to another host or end up in a lock file or the cache.
    """
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


Origin = tuple[str, str, int | None]


def origin(url: str) -> Origin | None:
    """(scheme, host, port) with default ports filled in, as browsers compare origins; None if unparseable."""
    try:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
