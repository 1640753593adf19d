"""Credentials for private indexes: from the URL, ENVSYNC_INDEX_<NAME>_USERNAME/_PASSWORD, or netrc.

They are sent only to their own index's origin, and blanked from every message.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable

from envsync.resolve.urls import Origin, origin


def credentials_by_origin(bases: list[str]) -> dict[Origin | None, tuple[str, str]]:
    """user, password of each configured index that has them, by the index's origin.

    Looked for in this order: in the URL itself, in ENVSYNC_INDEX_<NAME>_USERNAME and
    _PASSWORD (NAME is the index's host name, upper-cased, every other character an
    underscore: pypi.corp.example -> PYPI_CORP_EXAMPLE), then in ~/.netrc (or $NETRC).
    They are only ever sent to that index's own origin."""
    found: dict[Origin | None, tuple[str, str]] = {}
    for base in bases:
        parts = urllib.parse.urlsplit(base)
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            found[origin(base)] = (user, urllib.parse.unquote(parts.password or ""))
        elif parts.scheme in ("http", "https") and parts.hostname:
            credentials = _from_environment(parts.hostname) or _from_netrc(parts.hostname)
            if credentials is not None:
                found[origin(base)] = credentials
    return found


def index_variable_name(host: str) -> str:
    """The NAME in ENVSYNC_INDEX_<NAME>_USERNAME for an index on `host`."""
    return "".join(char if char.isalnum() else "_" for char in host.upper())


def _from_environment(host: str) -> tuple[str, str] | None:
    prefix = f"ENVSYNC_INDEX_{index_variable_name(host)}_"
    user, password = os.environ.get(prefix + "USERNAME"), os.environ.get(prefix + "PASSWORD")
    if user is None and password is None:
        return None
    return user or "", password or ""


def _from_netrc(host: str) -> tuple[str, str] | None:
    """The login and password ~/.netrc (or the file $NETRC names) has for `host`; an unreadable
    or malformed file counts as none, as curl and pip treat it."""
    import netrc

    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    if not os.path.isfile(path):
        return None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if entry is None:
        return None
    login, _, password = entry
    return login or "", password or ""


def secrets(credentials: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """What to blank in messages: each password, or the user name when it is the token (no password)."""
    found = {password or user for user, password in credentials}
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))


