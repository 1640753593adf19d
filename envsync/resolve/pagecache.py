"""A persistent HTTP cache for index project pages: fresh within max-age, else revalidated.

Project pages are what a warm resolve spends its time on. An index says how long a
page stays fresh (Cache-Control: max-age) and how to revalidate it (ETag,
Last-Modified); we keep the body and those headers, so a warm resolve asks nothing
while pages are fresh and gets a 304 instead of the whole page once they are not.
Keyed by the URL without credentials; written atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, replace

from ..cache import cache_subdir, write_atomic

MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)
NO_STORE = re.compile(r"(?:^|,)\s*(no-store|private)\b", re.IGNORECASE)


@dataclass(frozen=True)
class CachedPage:
    url: str  # where the page ended up after redirects
    content_type: str
    content: bytes
    etag: str | None
    last_modified: str | None
    fetched_at: float
    max_age: float  # seconds the page stays fresh after fetched_at; 0 = always revalidate

    def is_fresh(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.fetched_at < self.max_age

    def validators(self) -> dict[str, str]:
        """The headers that ask the server "has it changed since?"."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def revalidated(self, cache_control: str | None) -> CachedPage:
        """The same page, confirmed unchanged by a 304 just now (whose headers update the stored ones)."""
        kept = self.max_age if cache_control is None else max_age(cache_control)
        return replace(self, fetched_at=time.time(), max_age=kept)


def max_age(cache_control: str | None) -> float:
    match = MAX_AGE.search(cache_control or "")
    return float(match.group(1)) if match else 0.0


def storable(cache_control: str | None) -> bool:
    return not NO_STORE.search(cache_control or "")


def _paths(key_url: str) -> tuple:
    key = hashlib.sha256(key_url.encode()).hexdigest()
    folder = cache_subdir("pages")
    return folder / f"{key}.json", folder / f"{key}.body"


def load(key_url: str) -> CachedPage | None:
    """The cached page for `key_url`, or None (also when the entry is torn or unreadable)."""
    meta_path, body_path = _paths(key_url)
    try:
        meta = json.loads(meta_path.read_bytes())
        content = body_path.read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(content).hexdigest() != meta.get("sha256"):
        return None  # the body and its headers are from different writes: don't trust either
    try:
        return CachedPage(meta["url"], meta["content_type"], content, meta.get("etag"), meta.get("last_modified"),
                          float(meta["fetched_at"]), float(meta["max_age"]))
    except (KeyError, TypeError, ValueError):
        return None


def store(key_url: str, page: CachedPage) -> None:
    meta_path, body_path = _paths(key_url)
    write_atomic(body_path, page.content)
    meta = {"url": page.url, "content_type": page.content_type, "etag": page.etag,
            "last_modified": page.last_modified, "fetched_at": page.fetched_at, "max_age": page.max_age,
            "sha256": hashlib.sha256(page.content).hexdigest()}
    write_atomic(meta_path, json.dumps(meta).encode())
