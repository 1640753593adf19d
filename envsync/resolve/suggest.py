"""Did you mean: the names closest to one no index knows.

Close names come first from what is at hand (the env's installed packages, the
config's requirements); only when those offer nothing is the index's own list of
projects asked for (PEP 691 JSON or PEP 503 HTML at the index root), and that list is
cached for a day. This runs only once a package was not found: never on the no-op path.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import time
from collections.abc import Iterable

from packaging.utils import canonicalize_name

from envsync.files.cache import cache_subdir, write_atomic
from envsync.resolve.urls import strip_credentials

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import httpx

PROJECT_LIST_MAX_AGE = 24 * 3600
_ANCHOR = re.compile(r"<a\b[^>]*>([^<]+)</a>", re.IGNORECASE)


def close_names(name: str, known: Iterable[str], limit: int = 3, preferred: Iterable[str] = ()) -> list[str]:
    """The names of `known` closest to `name` (compared normalised), best first.

    Closest means fewest edits, a swap of two neighbouring letters counting as one (so
    `reqeusts` is one edit from `requests` and two from `reqwests`); among names as close,
    those in `preferred` (the env's, the config's, a lock's) come first.
    """
    by_normal: dict[str, str] = {canonicalize_name(k): k for k in known}
    wanted = canonicalize_name(name)
    by_normal.pop(wanted, None)
    favoured = {canonicalize_name(p) for p in preferred}
    # difflib's cheap filters narrow a long list (an index's 600k names) to a few to rank exactly.
    pool = difflib.get_close_matches(wanted, list(by_normal), n=25, cutoff=0.7)
    most = 1 if len(wanted) <= 4 else 2 if len(wanted) <= 10 else 3
    ranked = sorted((edits, normal not in favoured, -difflib.SequenceMatcher(None, wanted, normal).ratio(), normal)
                    for normal in pool if (edits := edit_distance(wanted, normal)) <= most)
    return [by_normal[normal] for *_, normal in ranked[:limit]]


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): insertions, deletions,
    substitutions and swaps of two neighbouring characters, each one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def project_names(index_url: str, client: httpx.Client) -> list[str]:
    """Every project the index at `index_url` lists at its root, cached; [] when it serves no list."""
    key = hashlib.sha256(strip_credentials(index_url).encode()).hexdigest()[:32]
    cached = cache_subdir("project-lists") / f"{key}.json"
    try:
        stored = json.loads(cached.read_text(encoding="utf-8"))
        if time.time() - stored["at"] < PROJECT_LIST_MAX_AGE:
            return list(stored["names"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    names = _fetch(index_url, client)
    if names:
        write_atomic(cached, json.dumps({"at": time.time(), "names": names}).encode())
    return names


def _fetch(index_url: str, client: httpx.Client) -> list[str]:
    try:
        response = client.get(index_url.rstrip("/") + "/", headers={
            "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"}, follow_redirects=True)
        if response.status_code != 200:
            return []
        if response.headers.get("content-type", "").startswith("application/vnd.pypi.simple.v1+json"):
            return [p["name"] for p in response.json().get("projects", []) if isinstance(p, dict)
                    and isinstance(p.get("name"), str)]
        return [match.strip() for match in _ANCHOR.findall(response.text)]
    except Exception:  # noqa: BLE001 — a suggestion that can't be made is simply not made
        return []


def suggest(name: str, known: Iterable[str], index_urls: Iterable[str], client: httpx.Client) -> list[str]:
    """Close names for `name`: from `known` (the env's, the config's, a lock's) and, unless one of
    those is a single edit away, the indexes' project lists; as close, a known name comes first."""
    known = list(known)
    local = close_names(name, known)
    if local and edit_distance(canonicalize_name(name), canonicalize_name(local[0])) <= 1:
        return local
    listed: list[str] = []
    for url in index_urls:
        if url.startswith(("http://", "https://")):
            listed = project_names(url, client)
            if listed:
                break
    return close_names(name, [*known, *listed], preferred=known)
