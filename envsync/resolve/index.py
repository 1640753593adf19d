"""Read package indexes: PEP 691 JSON, PEP 503 HTML, PEP 658 metadata, file:// and find-links.

Three stages, as the index is read: collect a project's files (I/O), turn each
link into an Artifact (pure parsing), and let the resolver choose. Every network
call goes through one injected httpx.Client with timeouts and bounded retries;
every error names the index with its credentials removed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
from packaging.utils import NormalizedName

from envsync.errors import HashMismatch, IndexUnavailable
from envsync.files.cache import cache_subdir, write_atomic
from envsync.model import UNSAFE_BEST_MATCH, Artifact, IndexSettings
from envsync.resolve import pagecache
from envsync.resolve.credentials import credentials_by_origin, secrets
from envsync.resolve.http import (
    ATTEMPTS,
    CHUNK,
    MAX_METADATA_BYTES,
    MAX_PAGE_BYTES,
    RETRY_STATUSES,
    TIMEOUT_VARIABLE,
    TRANSIENT,
    Body,
    at_least_min_rate,
    backoff,
    make_client,
    read_limited,
    retry_delay,
    store,
)
from envsync.resolve.page_parsers import PageJob, PageParsers
from envsync.resolve.pages import (
    ARCHIVE_SUFFIXES,
    JSON_TYPE,
    belongs_to,
    file_path,
    is_sha256,
    parse_html,
    parse_json,
    project_of,
    safe_filename,
)
from envsync.resolve.urls import origin, redact, strip_credentials

T = TypeVar("T")

# Which files of a page are kept (the tags of the interpreters served; None: what runs on this OS),
# and a digest naming that choice in the parsed-page cache.
Filter = tuple[tuple[str, ...] | None, str]
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"



class _Retry(Exception):
    """One attempt failed in a way the next may not: wait `wait` seconds, or give up with `error`."""

    def __init__(self, error: IndexUnavailable, wait: float) -> None:
        super().__init__(error.message)
        self.error, self.wait = error, wait


class IndexClient:
    """Answers "which files does project X have" and fetches metadata and files.

    Thread-safe: the resolver asks for pages from several threads through `prefetch`.
    """

    def __init__(self, settings: IndexSettings, client: httpx.Client | None = None, *,
                 revalidate: bool = False) -> None:
        self.settings = settings
        self.revalidate = revalidate  # ask the index even about pages the HTTP cache holds as fresh
        self._client = client
        self._pages: dict[NormalizedName, Future[list[Artifact]]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="envsync-index")
        self._metadata: dict[str, Future[bytes]] = {}
        self._find_links: dict[NormalizedName, list[Artifact]] | None = None
        self._listed: set[NormalizedName] = set()  # projects some index has a page for, files or not
        self._tags: frozenset[str] = frozenset()  # of the interpreters resolved for (see `serve`)
        # Which files pages keep, and a digest naming that choice in the parsed-page cache: one
        # value, read once per page, so a page is never stored under another filter's name.
        self._keep: Filter = (None, "")
        self._page_parsers: PageParsers | None = None  # started on the first page to parse
        self._auth = credentials_by_origin(self._bases())
        self._secrets = secrets(self._auth.values())
        self.sleep: Callable[[float], None] = time.sleep  # the wait between attempts; tests record it

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = make_client()
            return self._client

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        if self._page_parsers is not None:
            self._page_parsers.close()

    def describe(self) -> str:
        """The configured sources, credentials removed, for error messages."""
        sources = [redact(u) for u in self.settings.search_order()]
        sources += [f"find-links {folder}" for folder in self.settings.find_links]
        return ", ".join(sources) or "no index (index-url is empty)"

    def add_credentials(self, urls: Iterable[str]) -> None:
        """Credentials for the hosts of direct references (`name @ https://user:token@host/x.whl`):
        from the URL, else ENVSYNC_INDEX_<HOST>_* or netrc, sent to that URL's own origin only. An
        origin that already has credentials (a configured index's) keeps them."""
        found = credentials_by_origin([url for url in urls if url.startswith(("http:", "https:"))])
        with self._lock:
            for key, value in found.items():
                self._auth.setdefault(key, value)
            self._secrets = secrets(self._auth.values())

    def _bases(self) -> list[str]:
        return [u for u in (self.settings.index_url, *self.settings.extra_index_urls) if u]

    # -- project pages ---------------------------------------------------------------

    def serve(self, tags: Iterable[str]) -> None:
        """Resolving for an interpreter with these tags: index pages may leave out wheels it can't use.

        Most files of a big project are wheels for other Pythons and platforms; parsing only
        the ones some served interpreter supports (and every sdist) makes reading pages
        several times cheaper. A new interpreter widens the filter and forgets pages read so far.
        """
        with self._lock:
            wanted = self._tags | frozenset(tags)
            if wanted == self._tags:
                return
            self._tags = wanted
            self._keep = (tuple(sorted(wanted)), hashlib.sha256("\n".join(sorted(wanted)).encode()).hexdigest())
            self._pages = {}

    def prefetch(self, names: list[NormalizedName]) -> None:
        """Start fetching these projects' pages in the background."""
        for name in names:
            self._future(name)

    def artifacts(self, name: NormalizedName) -> list[Artifact]:
        """The files of `name` that the index settings allow (see `_collect`), in the order found."""
        return self._future(name).result()

    def every_file(self, name: NormalizedName) -> list[Artifact]:
        """Every file of `name`, with no interpreter's filter: only a failure's explanation needs
        the wheels that no interpreter resolved for can use ("wheels only for cp27-...")."""
        return self._collect(name, (None, ""))

    def lists(self, name: NormalizedName) -> bool:
        """Whether an index has a page for `name` (asked after `artifacts`): a project whose files are
        all for other systems has an empty list of artifacts but is not missing."""
        return name in self._listed or bool(self.artifacts(name))

    def _future(self, name: NormalizedName) -> Future[list[Artifact]]:
        with self._lock:
            future = self._pages.get(name)
            if future is None:
                future = self._pool.submit(self._collect, name)
                self._pages[name] = future
            return future

    def _collect(self, name: NormalizedName, keep: Filter | None = None) -> list[Artifact]:
        """The project's files, from the indexes the settings allow for `name`, then find-links.

        A package pinned with index-for comes from its index only. Otherwise the indexes
        are asked in priority order (extras first, index-url last) and, under
        "first-index", the first that has the project ends the search: a later index,
        such as a public one, never adds versions of a name an earlier one owns. A file
        an index lists under `name` but named for another project is dropped.
        """
        pinned = dict(self.settings.index_for).get(name)
        if pinned is not None:
            base = self.settings.index_at(pinned)
            return (self._files_on(base, name, keep) or []) if base else []
        found: list[Artifact] = []
        for base in self.settings.search_order():
            files = self._files_on(base, name, keep)
            if files is None:
                continue
            self._listed.add(name)
            found += files
            if self.settings.strategy != UNSAFE_BEST_MATCH:
                break
        found += self._find_links_index().get(name, [])
        return found

    def _files_on(self, base: str, name: NormalizedName, keep: Filter | None = None) -> list[Artifact] | None:
        """`name`'s files on the index at `base`; None when the index does not have the project."""
        page_url = f"{base.rstrip('/')}/{name}/"
        if page_url.startswith("file:"):
            page = self._file_page(base, page_url, name)
            return None if page is None else [a for a in page if belongs_to(a.filename, name)]
        fetched = self._cached_request(page_url, name)
        if fetched is None:
            return None
        key = strip_credentials(page_url)
        tags, keep_key = self._keep if keep is None else keep
        digest = pagecache.content_digest(fetched.url, fetched.content_type, fetched.content, keep_key)
        parsed = pagecache.load_parsed(key, digest)
        if parsed is not None:
            return parsed
        job = PageJob(fetched.url, fetched.content_type, fetched.content, tags, name, strip_credentials(base))
        try:
            rows = self._parsers().rows(job)
        except ValueError as exc:  # json and UnicodeDecodeError are ValueErrors too
            raise self._bad_page(base, name, exc) from None
        pagecache.store_parsed(key, digest, rows)
        return pagecache.artifacts_from_rows(rows)

    def _parsers(self) -> PageParsers:
        with self._lock:
            if self._page_parsers is None:
                self._page_parsers = PageParsers()
            return self._page_parsers

    def _cached_request(self, page_url: str, name: NormalizedName) -> Body | None:
        """The page from the HTTP cache while fresh; else fetched, or revalidated (304) when cached."""
        key = strip_credentials(page_url)
        cached = pagecache.load(key)
        if cached is not None and not self.revalidate and cached.is_fresh():
            return Body(cached.url, cached.content_type, cached.content)

        def consume(response: httpx.Response) -> Body:
            headers = response.headers
            keep = pagecache.storable(headers)
            if response.status_code == 304 and cached is not None:
                if keep:
                    pagecache.store(key, cached.revalidated(headers))
                else:
                    pagecache.discard(key)
                return Body(cached.url, cached.content_type, cached.content)
            body = read_limited(response, MAX_PAGE_BYTES, f"the page of {name}")
            lifetime = pagecache.freshness(headers)
            etag, modified = headers.get("etag"), headers.get("last-modified")
            if keep and (etag or modified or lifetime > 0):
                pagecache.store(key, pagecache.CachedPage(
                    body.url, body.content_type, body.content, etag, modified, time.time(), lifetime))
            elif cached is not None:
                pagecache.discard(key)
            return body

        validators = cached.validators() if cached is not None else {}
        return self._request(page_url, accept=ACCEPT, missing_ok=True, consume=consume, headers=validators)

    def _file_page(self, base: str, page_url: str, name: NormalizedName) -> list[Artifact] | None:
        if not file_path(base).is_dir():
            raise IndexUnavailable(f"index {redact(base)} is not an existing folder",
                                   "set index-url to an http(s) URL, or to a folder laid out as a PEP 503 index")
        folder = file_path(page_url)
        try:
            for candidate, parse in (("index.json", None), ("index.html", parse_html)):
                path = folder / candidate
                if path.is_file():
                    text = path.read_text(encoding="utf-8")
                    url = path.as_uri()
                    return parse_json(url, json.loads(text)) if parse is None else parse(url, text)
        except ValueError as exc:
            raise self._bad_page(base, name, exc) from None
        except OSError as exc:
            raise IndexUnavailable(f"index {redact(base)}: cannot read the page of {name}: {exc}") from None
        if folder.is_dir():
            return [self._local_artifact(p) for p in sorted(folder.iterdir()) if p.name.endswith(ARCHIVE_SUFFIXES)]
        return None

    def _bad_page(self, base: str, name: NormalizedName, exc: Exception) -> IndexUnavailable:
        return IndexUnavailable(
            f"index {redact(base)} sent an invalid page for {name}: {self._scrub(str(exc))}",
            "the index is broken or is not a PEP 503/691 simple index; check index-url",
        )

    def _find_links_index(self) -> dict[NormalizedName, list[Artifact]]:
        with self._lock:
            if self._find_links is None:
                grouped: dict[NormalizedName, list[Artifact]] = {}
                for folder in self.settings.find_links:
                    path = Path(folder)
                    if not path.is_dir():
                        raise IndexUnavailable(f"find-links folder {folder} does not exist",
                                               "create it or remove it from [settings] find-links")
                    for file in sorted(path.iterdir()):
                        project = project_of(file.name) if file.name.endswith(ARCHIVE_SUFFIXES) else None
                        if project:
                            grouped.setdefault(project, []).append(self._local_artifact(file))
                self._find_links = grouped
            return self._find_links

    @staticmethod
    def _local_artifact(path: Path) -> Artifact:
        """A local file: its hash is computed when it is used, not at listing time."""
        return Artifact(filename=path.name, url=path.as_uri(), sha256=None, size=path.stat().st_size)

    # -- HTTP ---------------------------------------------------------------------------

    def _request(self, url: str, *, consume: Callable[[httpx.Response], T], accept: str | None = None,
                 missing_ok: bool = False, headers: dict[str, str] | None = None) -> T | None:
        """GET `url` and hand the open response to `consume`, retrying what may pass.

        Connection errors, timeouts, cut bodies, 429 and 5xx are retried (ATTEMPTS in all,
        with backoff or the server's Retry-After); 404 and other 4xx never are. With
        `missing_ok`, 404/410 give None. Errors name the index without credentials.
        """
        url = strip_credentials(url)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._attempt(url, attempt, consume, accept, missing_ok, headers or {})
            except _Retry as retry:
                if attempt == ATTEMPTS:
                    raise IndexUnavailable(f"{retry.error.message} (gave up after {ATTEMPTS} attempts)",
                                           retry.error.hint) from None
                self.sleep(retry.wait)
        raise AssertionError("unreachable")

    def _attempt(self, url: str, attempt: int, consume: Callable[[httpx.Response], T], accept: str | None,
                 missing_ok: bool, extra_headers: dict[str, str]) -> T | None:
        headers = {**extra_headers, **({"Accept": accept} if accept else {})}
        try:
            with self.client.stream("GET", url, headers=headers, auth=self._auth_for(url)) as response:
                status = response.status_code
                if missing_ok and status in (404, 410):
                    return None
                if status < 400:
                    return consume(response)
                error = IndexUnavailable(f"index {self._name_for(url)} answered HTTP {status} for {url}",
                                         "check the index URL and its credentials")
                if status in RETRY_STATUSES:
                    raise _Retry(error, retry_delay(attempt, response.headers.get("retry-after")))
                raise error
        except TRANSIENT as exc:
            raise _Retry(self._network_error(url, exc), backoff(attempt)) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._network_error(url, exc) from None

    def _network_error(self, url: str, exc: Exception) -> IndexUnavailable:
        """A failure below HTTP, in words: which index, what happened, what to try."""
        where = f"index {self._name_for(url)}"
        detail = self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return IndexUnavailable(f"{where} is unreachable: {detail}",
                                    "check the URL and your network, or set ENVSYNC_INDEX_URL to a mirror")
        if isinstance(exc, httpx.TimeoutException):
            return IndexUnavailable(f"{where} did not answer in time for {url}: {detail}",
                                    f"the index is slow or stuck; try again, or raise {TIMEOUT_VARIABLE} (seconds)")
        if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            return IndexUnavailable(f"{where} broke the connection while sending {url}: {detail}",
                                    "the download was cut short; try again")
        return IndexUnavailable(f"{where}: cannot fetch {url}: {detail}", "check the index URL")

    def _name_for(self, url: str) -> str:
        """The configured index on the same origin as `url` (redacted), else `url`'s own origin."""
        target = origin(url)
        for base in self._bases():
            if origin(base) == target:
                return redact(base)
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def _auth_for(self, url: str) -> httpx.BasicAuth | None:
        """The credentials of the configured index on `url`'s origin: never any other host's."""
        found = self._auth.get(origin(url))
        return httpx.BasicAuth(*found) if found else None

    def _scrub(self, text: str) -> str:
        """`text` with every configured credential blanked, for messages built from foreign errors."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- metadata and files ---------------------------------------------------------------

    def prefetch_metadata(self, artifact: Artifact) -> None:
        """Start fetching a wheel's metadata in the background; `metadata` picks it up."""
        self._metadata_future(artifact)

    def metadata(self, artifact: Artifact) -> bytes:
        """The core metadata of a wheel (see `_fetch_metadata`), fetched once per file."""
        return self._metadata_future(artifact).result()

    def _metadata_future(self, artifact: Artifact) -> Future[bytes]:
        with self._lock:
            future = self._metadata.get(artifact.url)
            if future is None:
                future = self._pool.submit(self._fetch_metadata, artifact)
                self._metadata[artifact.url] = future
            return future

    def _fetch_metadata(self, artifact: Artifact) -> bytes:
        """From the persistent cache, else the PEP 658 file, else the wheel itself."""
        _check_hash(artifact)
        cache_key = artifact.sha256 or hashlib.sha256(strip_credentials(artifact.url).encode()).hexdigest()
        cached = cache_subdir("metadata") / f"{cache_key}.METADATA"
        if artifact.sha256 and cached.is_file():
            return cached.read_bytes()
        data = None
        if artifact.has_metadata_file:
            data = self._read_metadata_file(artifact.url + ".metadata")
            expected = artifact.metadata_sha256
            if data is not None and expected and hashlib.sha256(data).hexdigest() != expected:
                raise HashMismatch(f"metadata of {artifact.filename} does not match its sha256 on the index",
                                   "the index may be corrupt or tampered with; try again later")
            if data is not None and artifact.sha256:
                from envsync.resolve.served_metadata import remember_served

                remember_served(artifact.sha256, self._name_for(artifact.url), expected)
        if data is None:
            data = self._metadata_from_wheel(artifact)
        if artifact.sha256:
            write_atomic(cached, data)
        return data

    def _read_metadata_file(self, url: str) -> bytes | None:
        if url.startswith("file:"):
            path = file_path(url)
            return path.read_bytes() if path.is_file() else None
        return self._request(url, missing_ok=True,
                             consume=lambda r: read_limited(r, MAX_METADATA_BYTES, "a metadata file").content)

    def _metadata_from_wheel(self, artifact: Artifact) -> bytes:
        import zipfile

        if not artifact.url.startswith("file:"):
            data = self._metadata_by_ranges(artifact)
            if data is not None:
                return data
        from envsync.errors import UnsafeWheel
        from envsync.resolve.lazywheel import metadata_member

        path = self.download(artifact)
        try:
            with zipfile.ZipFile(path) as archive:
                data = metadata_member(archive)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError) as exc:
            raise UnsafeWheel(f"{artifact.filename} is not a readable wheel: {exc}",
                              "the wheel is broken or hostile; report it to its authors") from None
        if data is None:
            raise UnsafeWheel(f"{artifact.filename} has no .dist-info/METADATA",
                              "the wheel is broken; report it to its authors")
        return data

    def _metadata_by_ranges(self, artifact: Artifact) -> bytes | None:
        """METADATA from a few range requests (see lazywheel); None if the server can't, or it fails."""
        import zipfile

        from envsync.resolve.lazywheel import NoRanges, remote_metadata

        def fetch(start: int, end: int) -> tuple[bytes, int]:
            return self._ranged(artifact.url, f"bytes={start}-{end - 1}")

        def fetch_tail(length: int) -> tuple[bytes, int]:
            return self._ranged(artifact.url, f"bytes=-{length}")

        try:
            return remote_metadata(fetch_tail, fetch)
        except (NoRanges, zipfile.BadZipFile, EOFError, ValueError, KeyError, NotImplementedError):
            return None  # a whole download will do, and validates the wheel properly

    def _ranged(self, url: str, byte_range: str) -> tuple[bytes, int]:
        """One range request: the bytes and the file's total size (from Content-Range)."""
        def consume(response: httpx.Response) -> tuple[bytes, int]:
            if response.status_code != 206:
                from envsync.resolve.lazywheel import NoRanges

                raise NoRanges(f"HTTP {response.status_code} to a range request")
            total = response.headers.get("content-range", "").rpartition("/")[2]
            body = read_limited(response, MAX_METADATA_BYTES, "a range of a wheel").content
            return body, int(total)

        result = self._request(url, consume=consume, headers={"Range": byte_range})
        assert result is not None
        return result

    def download(self, artifact: Artifact) -> Path:
        """The file, fetched once into the download cache and checked against its size and sha256.

        It streams into a temp file in the cache folder while being hashed, and is renamed
        into place only when complete and matching: a cut or forged download never lands in
        the cache, and a wheel is never held in memory whole.
        """
        if not safe_filename(artifact.filename):
            raise IndexUnavailable(f"refused to download a file named {artifact.filename!r}",
                                   "the index or lock names a file outside the download folder")
        _check_hash(artifact)
        if artifact.url.startswith("file:") and artifact.sha256 is None:
            return file_path(artifact.url)
        folder = cache_subdir("downloads")
        if artifact.sha256:
            target = folder / artifact.sha256 / artifact.filename
            if target.is_file():
                return target
        if artifact.url.startswith("file:"):
            return self._copy_local(artifact, folder)
        stored = self._request(artifact.url, consume=lambda r: store(at_least_min_rate(r, artifact.filename),
                                                                    artifact, folder,
                                                                    f"index {self._name_for(artifact.url)}"))
        assert stored is not None  # missing_ok is off: a 404 raised
        return stored

    def _copy_local(self, artifact: Artifact, folder: Path) -> Path:
        path = file_path(artifact.url)
        try:
            with open(path, "rb") as handle:
                return store(iter(lambda: handle.read(CHUNK), b""), artifact, folder, str(path.parent))
        except FileNotFoundError:
            raise IndexUnavailable(f"{artifact.filename} is listed but missing at {artifact.url}") from None


def _check_hash(artifact: Artifact) -> None:
    """Refuse an artifact whose hashes could not name a cache folder.

    Pages and locks are checked where they are parsed; this is the last line before a
    hash becomes part of a path, for an Artifact built anywhere else.
    """
    for value in (artifact.sha256, artifact.metadata_sha256):
        if value is not None and not is_sha256(value):
            raise IndexUnavailable(f"refused {artifact.filename}: its sha256 {value[:80]!r} is not 64 hex digits",
                                   "the index or lock is broken or hostile; nothing was fetched")


