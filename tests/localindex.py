"""A real package index on 127.0.0.1 for tests: PEP 503 HTML, PEP 691 JSON, PEP 658 metadata."""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import shutil
import socket
import threading
import time
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version
from wheelfactory import WheelSpec, make_wheel, read_metadata

Mode = Literal["json", "html"]
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html; charset=utf-8"
API_VERSION = "1.1"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version_of(filename: str) -> Version | None:
    """The version in a wheel or sdist file name, or None for a name that parses as neither."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _wheel_metadata(path: Path) -> bytes | None:
    """METADATA of a wheel, or None when the file is not a readable wheel (sdists, hostile zips)."""
    if not path.name.endswith(".whl"):
        return None
    try:
        return read_metadata(path)
    except (ValueError, zipfile.BadZipFile, OSError):
        return None


@dataclass(frozen=True)
class IndexFile:
    """One file as the index lists it."""

    filename: str
    path: Path
    sha256: str  # of the bytes served
    advertised_sha256: str  # what the index claims (differs with wrong_hash)
    size: int
    requires_python: str | None
    yanked: bool | str
    metadata: bytes | None  # served as <file>.metadata (PEP 658) when the index has metadata on
    upload_time: str | None
    version: Version | None
    metadata_hashed: bool = True  # False: core-metadata is advertised as `true`, without a hash

    @property
    def yank_reason(self) -> str | None:
        """None when not yanked, else the reason ("" when none given)."""
        if self.yanked is False:
            return None
        return "" if self.yanked is True else str(self.yanked)


def _html_page(title: str, links: list[str]) -> bytes:
    body = "\n".join(links)
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    ).encode()


def _html_link(file: IndexFile, href_prefix: str, metadata: bool) -> str:
    """A PEP 503 anchor with the PEP 592/658/714 data attributes that apply."""
    href = f"{href_prefix}{quote(file.filename)}#sha256={file.advertised_sha256}"
    attrs = [f'href="{html.escape(href)}"']
    if file.requires_python:
        attrs.append(f'data-requires-python="{html.escape(file.requires_python)}"')
    if file.yank_reason is not None:
        attrs.append(f'data-yanked="{html.escape(file.yank_reason)}"')
    if metadata and file.metadata is not None:
        digest = f"sha256={sha256_hex(file.metadata)}" if file.metadata_hashed else "true"
        attrs.append(f'data-core-metadata="{digest}"')
        attrs.append(f'data-dist-info-metadata="{digest}"')
    return f"<a {' '.join(attrs)}>{html.escape(file.filename)}</a><br>"


def _json_file(file: IndexFile, href_prefix: str, metadata: bool) -> dict[str, object]:
    """A PEP 691 (v1.1) file entry."""
    entry: dict[str, object] = {
        "filename": file.filename,
        "url": href_prefix + quote(file.filename),
        "hashes": {"sha256": file.advertised_sha256},
        "size": file.size,
        "yanked": file.yanked if isinstance(file.yanked, bool) else file.yank_reason,
    }
    if file.requires_python:
        entry["requires-python"] = file.requires_python
    if metadata and file.metadata is not None:
        digest: dict[str, str] | bool = {"sha256": sha256_hex(file.metadata)} if file.metadata_hashed else True
        entry["core-metadata"] = digest
        entry["dist-info-metadata"] = digest
    if file.upload_time:
        entry["upload-time"] = file.upload_time
    return entry


class LocalIndex:
    """A package index served from `root/files` over HTTP on 127.0.0.1, toggleable at runtime.

    `mode` ("json" negotiates PEP 691 vs PEP 503; "html" always answers HTML), `metadata`
    (PEP 658 files on/off), `fail_with` (answer every request with that status; with
    `fail_count` set, only the next N requests) and `delay` (seconds to wait before
    answering) may be changed while the server runs. So may the hostile toggles:
    `retry_after` (a Retry-After header on failures), `truncate` (file downloads send half
    their bytes: "cut" promises the full Content-Length and hangs up, "short" announces the
    short length), `files_base` (pages link files on another server, e.g. another
    LocalIndex's base_url) and `raw_pages` (project -> (body, content type) served as is).
    Pages carry `cache_control`, `age` and `vary` as set (304s too, but for Vary).
    """

    def __init__(self, root: Path, *, mode: Mode = "json", metadata: bool = True) -> None:
        self.root = root
        self.files_dir = root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.mode: Mode = mode
        self.metadata = metadata
        self.fail_with: int | None = None
        self.fail_count: int | None = None
        self.delay: float = 0.0
        self.retry_after: str | None = None
        self.truncate: Literal["cut", "short"] | None = None
        self.files_base: str | None = None
        self.raw_pages: dict[str, tuple[bytes, str]] = {}
        self.cache_control: str | None = None  # sent with every page (not files), e.g. "max-age=600"
        self.age: str | None = None  # an Age header with every page and 304, as a CDN adds
        self.vary = "Accept"  # the Vary header of every page
        self.ranges = False  # answer Range requests for files with 206, as PyPI's file host does
        self.auth: tuple[str, str] | None = None  # (user, password): every request needs them (basic auth)
        self._headers: list[tuple[str, dict[str, str]]] = []
        self._projects: dict[str, dict[str, IndexFile]] = {}
        self._lock = threading.Lock()
        self._requests: list[str] = []
        self._server: _IndexServer | None = None
        self._thread: threading.Thread | None = None

    # -- registering files -------------------------------------------------------------

    def add(
        self,
        spec: WheelSpec,
        *,
        yanked: bool | str = False,
        wrong_hash: bool = False,
        upload_time: str | None = None,
    ) -> Path:
        """Build `spec` into root/files and list it under its normalised project name."""
        wheel = make_wheel(self.files_dir, spec)
        return self.add_file(
            spec.name,
            wheel,
            yanked=yanked,
            wrong_hash=wrong_hash,
            requires_python=spec.requires_python,
            upload_time=upload_time,
        )

    def add_file(
        self,
        project: str,
        path: Path,
        *,
        yanked: bool | str = False,
        wrong_hash: bool = False,
        requires_python: str | None = None,
        metadata: bytes | None = None,
        upload_time: str | None = None,
        metadata_hashed: bool = True,
    ) -> Path:
        """List a prebuilt file (any wheel, sdist or junk) under `project`; copy it in if needed.

        `metadata` defaults to the wheel's own METADATA when it has one readable; another one
        makes the index lie about the file. `metadata_hashed=False` advertises it without a hash.
        """
        target = self.files_dir / path.name
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        data = target.read_bytes()
        digest = sha256_hex(data)
        entry = IndexFile(
            filename=target.name,
            path=target,
            sha256=digest,
            advertised_sha256=sha256_hex(data + b"lie") if wrong_hash else digest,
            size=len(data),
            requires_python=requires_python,
            yanked=True if yanked == "" else yanked,
            metadata=metadata if metadata is not None else _wheel_metadata(target),
            upload_time=upload_time,
            version=_version_of(target.name),
            metadata_hashed=metadata_hashed,
        )
        with self._lock:
            self._projects.setdefault(canonicalize_name(project), {})[entry.filename] = entry
        return target

    def projects(self) -> list[str]:
        """Normalised names of every listed project, sorted."""
        with self._lock:
            return sorted(self._projects)

    def files(self, project: str) -> list[IndexFile]:
        """The files listed for `project` (any spelling), sorted by file name."""
        with self._lock:
            found = self._projects.get(canonicalize_name(project), {})
            return [found[name] for name in sorted(found)]

    def find_file(self, filename: str) -> IndexFile | None:
        with self._lock:
            for files in self._projects.values():
                if filename in files:
                    return files[filename]
        return None

    # -- running ------------------------------------------------------------------------

    def start(self) -> LocalIndex:
        if self._server is not None:
            return self
        server = _IndexServer(("127.0.0.1", 0), _Handler)
        server.index = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="local-index", daemon=True
        )  # a short poll interval keeps stop() (and so every test teardown) quick
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LocalIndex:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalIndex is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The simple API root, without a trailing slash."""
        return f"{self.base_url}/simple"

    def file_url(self, filename: str) -> str:
        """Absolute URL of a served file (for direct references in tests)."""
        return f"{self.base_url}/files/{quote(filename)}"

    @staticmethod
    def unreachable_url() -> str:
        """A simple-API URL on 127.0.0.1 where nothing listens."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}/simple"

    # -- request log --------------------------------------------------------------------

    @property
    def requests(self) -> list[str]:
        """Every request path so far (unquoted, without query), in arrival order; a copy."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[tuple[str, dict[str, str]]]:
        """(path, headers with lower-case names) of every request so far, in arrival order; a copy."""
        with self._lock:
            return list(self._headers)

    @property
    def connections_opened(self) -> int:
        """How many connections clients have opened to this index so far."""
        return 0 if self._server is None else self._server.opened

    def hang_up(self) -> None:
        """Close every open connection from the server's side, as a server does with idle keep-alive
        connections; the index keeps serving new ones."""
        if self._server is not None:
            self._server.close_connections()

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._headers.clear()

    def _record(self, path: str, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._requests.append(path)
            self._headers.append((path, dict(headers or {})))

    def _take_failure(self) -> int | None:
        """The status to fail this request with, counting down `fail_count` if set."""
        with self._lock:
            status = self.fail_with
            if status is None:
                return None
            if self.fail_count is not None:
                self.fail_count -= 1
                if self.fail_count <= 0:
                    self.fail_with = self.fail_count = None
            return status

    # -- rendering ----------------------------------------------------------------------

    def root_page(self, as_json: bool) -> bytes:
        names = self.projects()
        if as_json:
            return _json_bytes({"meta": {"api-version": API_VERSION},
                                "projects": [{"name": name} for name in names]})
        return _html_page("Simple index", [f'<a href="{n}/">{n}</a><br>' for n in names])

    def project_page(self, project: str, as_json: bool, href_prefix: str | None = None) -> bytes:
        if href_prefix is None:
            href_prefix = f"{self.files_base}/files/" if self.files_base else "../../files/"
        files = self.files(project)
        if as_json:
            versions = sorted({f.version for f in files if f.version is not None})
            return _json_bytes({
                "meta": {"api-version": API_VERSION},
                "name": project,
                "versions": [str(v) for v in versions],
                "files": [_json_file(f, href_prefix, self.metadata) for f in files],
            })
        links = [_html_link(f, href_prefix, self.metadata) for f in files]
        return _html_page(f"Links for {project}", links)

    # -- static copies ------------------------------------------------------------------

    def write_file_index(self, dest: Path) -> str:
        """Write a static PEP 503 tree under `dest` and return its file:// URL (no trailing slash).

        `dest/<project>/index.html` links to `../files/<name>`; `.metadata` files are
        written beside the copies when `metadata` is on.
        """
        files_dir = dest / "files"
        files_dir.mkdir(parents=True, exist_ok=True)
        for project in self.projects():
            for file in self.files(project):
                shutil.copyfile(file.path, files_dir / file.filename)
                if self.metadata and file.metadata is not None:
                    (files_dir / f"{file.filename}.metadata").write_bytes(file.metadata)
            page = dest / project / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_bytes(self.project_page(project, as_json=False, href_prefix="../files/"))
        (dest / "index.html").write_bytes(self.root_page(as_json=False))
        return dest.resolve().as_uri()

    def write_find_links(self, dest: Path) -> Path:
        """Copy every listed file (wheels and sdists alike) flat into `dest`."""
        dest.mkdir(parents=True, exist_ok=True)
        for project in self.projects():
            for file in self.files(project):
                shutil.copyfile(file.path, dest / file.filename)
        return dest


def _json_bytes(document: dict[str, object]) -> bytes:
    return json.dumps(document, indent=1).encode()


def _wants_json(accept: str) -> bool:
    """Whether an Accept header asks for PEP 691 JSON (any q above zero)."""
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        if media.strip() not in (JSON_TYPE, "application/vnd.pypi.simple.latest+json"):
            continue
        q = params.replace(" ", "").partition("q=")[2]
        try:
            return not q or float(q) > 0
        except ValueError:
            return True
    return False


class _IndexServer(ThreadingHTTPServer):
    """Keeps track of live connections so that `stop` really hangs up on keep-alive clients."""

    daemon_threads = True
    index: LocalIndex

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self.opened = 0

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conn_lock:
            (self._connections.add if alive else self._connections.discard)(conn)
            self.opened += alive

    def close_connections(self) -> None:
        with self._conn_lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()


class _Handler(BaseHTTPRequestHandler):
    """Routes /simple/, /simple/<project>/, /files/<name> and /files/<name>.metadata."""

    protocol_version = "HTTP/1.1"
    server: _IndexServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib's name
        self._serve(send_body=False)

    @property
    def index(self) -> LocalIndex:
        return self.server.index

    def _serve(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.index._record(path, {name.lower(): value for name, value in self.headers.items()})
        if self.index.delay:
            time.sleep(self.index.delay)
        if self.index.auth is not None and not self._authorized(self.index.auth):
            self._send(401, b"credentials required\n", "text/plain", send_body,
                       {"WWW-Authenticate": 'Basic realm="localindex"'})
            return
        status = self.index._take_failure()
        if status is not None:
            extra = {"Retry-After": self.index.retry_after} if self.index.retry_after else {}
            self._send(status, b"failing on purpose\n", "text/plain", send_body, extra)
            return
        self._route(path, send_body)

    def _authorized(self, auth: tuple[str, str]) -> bool:
        import base64

        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return self.headers.get("Authorization") == expected

    def _route(self, path: str, send_body: bool) -> None:
        parts = path.split("/")
        if path in ("/simple", "/simple/"):
            self._route_root(path, send_body)
        elif len(parts) in (3, 4) and parts[1] == "simple" and parts[3:] in ([], [""]):
            self._route_project(parts[2], path, send_body)
        elif len(parts) == 3 and parts[1] == "files":
            self._route_file(parts[2], send_body)
        else:
            self._send(404, b"not found\n", "text/plain", send_body)

    def _route_root(self, path: str, send_body: bool) -> None:
        if not path.endswith("/"):
            self._redirect("/simple/")
            return
        as_json = self._as_json()
        self._send(200, self.index.root_page(as_json), self._content_type(as_json), send_body)

    def _route_project(self, name: str, path: str, send_body: bool) -> None:
        canonical = canonicalize_name(name)
        if name != canonical or not path.endswith("/"):
            self._redirect(f"/simple/{canonical}/")
            return
        if canonical in self.index.raw_pages:
            body, content_type = self.index.raw_pages[canonical]
            self._send(200, body, content_type, send_body)
            return
        if canonical not in self.index.projects():
            self._send(404, b"no such project\n", "text/plain", send_body)
            return
        as_json = self._as_json()
        page = self.index.project_page(canonical, as_json)
        self._send(200, page, self._content_type(as_json), send_body)

    def _route_file(self, name: str, send_body: bool) -> None:
        if name.endswith(".metadata"):
            file = self.index.find_file(name.removesuffix(".metadata"))
            if file is None or file.metadata is None or not self.index.metadata:
                self._send(404, b"no metadata\n", "text/plain", send_body)
            else:
                self._send(200, file.metadata, "application/octet-stream", send_body)
            return
        file = self.index.find_file(name)
        if file is None:
            self._send(404, b"no such file\n", "text/plain", send_body)
        elif self.index.truncate is not None:
            self._send_truncated(file.path.read_bytes(), send_body)
        elif self.index.ranges and self.headers.get("Range"):
            self._send_range(file.path.read_bytes(), self.headers["Range"], send_body)
        else:
            self._send(200, file.path.read_bytes(), "application/octet-stream", send_body)

    def _send_range(self, body: bytes, header: str, send_body: bool) -> None:
        """A single-range 206 answer (`bytes=a-b` or the suffix form `bytes=-n`), as file hosts give."""
        spec = header.removeprefix("bytes=")
        first, _, last = spec.partition("-")
        if first == "":
            start, end = max(0, len(body) - int(last)), len(body) - 1
        else:
            start, end = int(first), min(len(body) - 1, int(last) if last else len(body) - 1)
        part = body[start:end + 1]
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        self.end_headers()
        if send_body:
            self.wfile.write(part)

    def _send_truncated(self, body: bytes, send_body: bool) -> None:
        """Half the file: with the full Content-Length and a hang-up ("cut"), or a short one ("short")."""
        half = body[: len(body) // 2]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) if self.index.truncate == "cut" else len(half)))
        self.end_headers()
        if send_body:
            self.wfile.write(half)
            self.wfile.flush()
        if self.index.truncate == "cut":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _as_json(self) -> bool:
        return self.index.mode == "json" and _wants_json(self.headers.get("Accept", ""))

    @staticmethod
    def _content_type(as_json: bool) -> str:
        return JSON_TYPE if as_json else HTML_TYPE

    def _redirect(self, location: str) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str, send_body: bool,
              extra_headers: dict[str, str] | None = None) -> None:
        etag = f'"{sha256_hex(body)[:32]}"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self._send_cache_headers()
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        if status == 200:
            self.send_header("ETag", etag)
            if content_type != "application/octet-stream":
                self.send_header("Vary", self.server.index.vary)
                self._send_cache_headers()
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_cache_headers(self) -> None:
        if self.server.index.cache_control:
            self.send_header("Cache-Control", self.server.index.cache_control)
        if self.server.index.age is not None:
            self.send_header("Age", self.server.index.age)
