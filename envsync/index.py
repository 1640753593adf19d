"""Read package indexes: PEP 691 JSON, PEP 503 HTML, PEP 658 metadata, file:// and find-links.

Three stages, as the index is read: collect a project's files (I/O), turn each
link into an Artifact (pure parsing), and let the resolver choose. Every network
call goes through one injected httpx.Client with timeouts and bounded retries;
every error names the index with its credentials removed.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
from packaging.utils import NormalizedName

from .cache import cache_subdir, write_atomic
from .errors import HashMismatch, IndexUnavailable
from .model import Artifact, IndexSettings

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 3
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def redact(url: str) -> str:
    """The URL without user:password, safe to print or store."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))


def make_client() -> httpx.Client:
    """The shared HTTP client: bounded timeouts, connection reuse across threads."""
    from . import __version__

    return httpx.Client(
        timeout=httpx.Timeout(30.0, connect=5.0),
        follow_redirects=True,
        headers={"User-Agent": f"envsync/{__version__}"},
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
    )


class _LinkParser(html.parser.HTMLParser):
    """Collect the anchors of a PEP 503 page with their data-* attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")


def _metadata_hint(value: object) -> tuple[bool, str | None]:
    """PEP 658/714: the core-metadata field is true, a dict of hashes, or a 'sha256=…' string."""
    if isinstance(value, dict):
        return True, value.get("sha256")
    if isinstance(value, str):
        if value.startswith("sha256="):
            return True, value.removeprefix("sha256=")
        return value.lower() == "true", None
    return bool(value), None


def _split_hash(url: str) -> tuple[str, str | None]:
    base, _, fragment = url.partition("#")
    if fragment.startswith("sha256="):
        return base, fragment.removeprefix("sha256=")
    return base, None


def parse_html(page_url: str, text: str) -> list[Artifact]:
    """Artifacts from a PEP 503 project page."""
    parser = _LinkParser()
    parser.feed(text)
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    artifacts = []
    for link in parser.links:
        href = link.get("href")
        if not href:
            continue
        url, sha256 = _split_hash(urllib.parse.urljoin(base, href))
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        core = link.get("data-core-metadata") or link.get("data-dist-info-metadata")
        has_metadata, metadata_sha = _metadata_hint(core) if core is not None else (False, None)
        artifacts.append(Artifact(
            filename=filename, url=url, sha256=sha256,
            requires_python=link.get("data-requires-python") or None,
            yanked="data-yanked" in link,
            has_metadata_file=has_metadata, metadata_sha256=metadata_sha,
        ))
    return artifacts


def parse_json(page_url: str, document: dict) -> list[Artifact]:
    """Artifacts from a PEP 691 project document."""
    artifacts = []
    for entry in document.get("files", []):
        url = urllib.parse.urljoin(page_url, entry["url"])
        url, fragment_hash = _split_hash(url)
        core = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        has_metadata, metadata_sha = _metadata_hint(core)
        yanked = entry.get("yanked", False)
        artifacts.append(Artifact(
            filename=entry["filename"], url=url,
            sha256=entry.get("hashes", {}).get("sha256") or fragment_hash,
            size=entry.get("size"),
            requires_python=entry.get("requires-python") or None,
            yanked=bool(yanked),
            has_metadata_file=has_metadata, metadata_sha256=metadata_sha,
            upload_time=entry.get("upload-time"),
        ))
    return artifacts


def project_of(filename: str) -> NormalizedName | None:
    """The normalised project name a distribution file belongs to, or None if unparseable."""
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _file_path(url: str) -> Path:
    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))


class IndexClient:
    """Answers "which files does project X have" and fetches metadata and files.

    Thread-safe: the resolver asks for pages from several threads through `prefetch`.
    """

    def __init__(self, settings: IndexSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._pages: dict[NormalizedName, Future[list[Artifact]]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="envsync-index")
        self._metadata: dict[str, Future[bytes]] = {}
        self._find_links: dict[NormalizedName, list[Artifact]] | None = None

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

    def describe(self) -> str:
        """The configured sources, credentials removed, for error messages."""
        sources = [redact(u) for u in (self.settings.index_url, *self.settings.extra_index_urls) if u]
        sources += [f"find-links {folder}" for folder in self.settings.find_links]
        return ", ".join(sources) or "no index (index-url is empty)"

    # -- project pages ---------------------------------------------------------------

    def prefetch(self, names: list[NormalizedName]) -> None:
        """Start fetching these projects' pages in the background."""
        for name in names:
            self._future(name)

    def artifacts(self, name: NormalizedName) -> list[Artifact]:
        """Every file of `name` on every index and find-links folder, in the order found."""
        return self._future(name).result()

    def _future(self, name: NormalizedName) -> Future[list[Artifact]]:
        with self._lock:
            future = self._pages.get(name)
            if future is None:
                future = self._pool.submit(self._collect, name)
                self._pages[name] = future
            return future

    def _collect(self, name: NormalizedName) -> list[Artifact]:
        found: list[Artifact] = []
        for base in (self.settings.index_url, *self.settings.extra_index_urls):
            if base:
                found += [a for a in self._project_page(base, name) if project_of(a.filename) == name]
        found += self._find_links_index().get(name, [])
        return found

    def _project_page(self, base: str, name: NormalizedName) -> list[Artifact]:
        page_url = f"{base.rstrip('/')}/{name}/"
        if page_url.startswith("file:"):
            return self._file_page(page_url)
        response = self._get(page_url, base, headers={"Accept": ACCEPT}, missing_ok=True)
        if response is None:
            return []
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type == JSON_TYPE:
            try:
                return parse_json(str(response.url), response.json())
            except (ValueError, KeyError, TypeError) as exc:
                raise IndexUnavailable(f"index {redact(base)} sent an invalid JSON page for {name}: {exc}") from None
        return parse_html(str(response.url), response.text)

    def _file_page(self, page_url: str) -> list[Artifact]:
        folder = _file_path(page_url)
        for candidate, parse in (("index.json", None), ("index.html", parse_html)):
            path = folder / candidate
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                url = path.as_uri()
                return parse_json(url, json.loads(text)) if parse is None else parse(url, text)
        if folder.is_dir():
            return [self._local_artifact(p) for p in sorted(folder.iterdir()) if p.name.endswith(ARCHIVE_SUFFIXES)]
        return []

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

    def _get(self, url: str, base: str, *, headers: dict[str, str] | None = None,
             missing_ok: bool = False) -> httpx.Response | None:
        """GET with retries on connection errors, 429 and 5xx; None for 404 when missing_ok."""
        delay = 0.25
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self.client.get(url, headers=headers)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS:
                    raise IndexUnavailable(
                        f"index {redact(base)} is unreachable: {type(exc).__name__}: {exc}",
                        "check the URL and your network, or set ENVSYNC_INDEX_URL to a mirror",
                    ) from None
            else:
                if response.status_code in (404, 410) and missing_ok:
                    return None
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES or attempt == ATTEMPTS:
                    raise IndexUnavailable(
                        f"index {redact(base)} answered HTTP {response.status_code} for {redact(url)}",
                        "check the index URL and its credentials",
                    )
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = min(float(retry_after), 10.0)
            time.sleep(delay)
            delay *= 3
        raise AssertionError("unreachable")

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
        cache_key = artifact.sha256 or hashlib.sha256(artifact.url.encode()).hexdigest()
        cached = cache_subdir("metadata") / f"{cache_key}.METADATA"
        if artifact.sha256 and cached.is_file():
            return cached.read_bytes()
        data = None
        if artifact.has_metadata_file:
            data = self._read_url(artifact.url + ".metadata")
            expected = artifact.metadata_sha256
            if data is not None and expected and hashlib.sha256(data).hexdigest() != expected:
                raise HashMismatch(f"metadata of {artifact.filename} does not match its sha256 on the index",
                                   "the index may be corrupt or tampered with; try again later")
        if data is None:
            data = self._metadata_from_wheel(artifact)
        if artifact.sha256:
            write_atomic(cached, data)
        return data

    def _read_url(self, url: str) -> bytes | None:
        if url.startswith("file:"):
            path = _file_path(url)
            return path.read_bytes() if path.is_file() else None
        response = self._get(url, self._base_for(url), missing_ok=True)
        return None if response is None else response.content

    def _base_for(self, url: str) -> str:
        for base in (self.settings.index_url, *self.settings.extra_index_urls):
            if base and urllib.parse.urlsplit(base).netloc == urllib.parse.urlsplit(url).netloc:
                return base
        return url

    def _metadata_from_wheel(self, artifact: Artifact) -> bytes:
        import zipfile

        path = self.download(artifact)
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                parts = info.filename.split("/")
                if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                    return archive.read(info)
        from .errors import UnsafeWheel

        raise UnsafeWheel(f"{artifact.filename} has no .dist-info/METADATA", "the wheel is broken; report it to its authors")

    def download(self, artifact: Artifact) -> Path:
        """The file, fetched once into the download cache and checked against its sha256."""
        if artifact.url.startswith("file:") and artifact.sha256 is None:
            return _file_path(artifact.url)
        folder = cache_subdir("downloads")
        if artifact.sha256:
            target = folder / artifact.sha256 / artifact.filename
            if target.is_file():
                return target
        data = self._read_url(artifact.url) if artifact.url.startswith("file:") else self._fetch_file(artifact)
        if data is None:
            raise IndexUnavailable(f"{artifact.filename} is listed but missing at {redact(artifact.url)}")
        digest = hashlib.sha256(data).hexdigest()
        if artifact.sha256 and digest != artifact.sha256:
            raise HashMismatch(
                f"{artifact.filename}: sha256 {digest} does not match the expected {artifact.sha256}",
                "the file on the index changed or was tampered with; nothing was installed from it",
            )
        target = folder / digest / artifact.filename
        write_atomic(target, data)
        return target

    def _fetch_file(self, artifact: Artifact) -> bytes:
        response = self._get(artifact.url, self._base_for(artifact.url))
        assert response is not None
        data = response.content
        if artifact.size is not None and len(data) != artifact.size:
            raise IndexUnavailable(f"{artifact.filename}: got {len(data)} bytes, the index promised {artifact.size}",
                                   "the download was cut short; try again")
        return data
