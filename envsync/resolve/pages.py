"""Parse index pages into Artifacts: PEP 503 HTML and PEP 691 JSON, as pure functions.

Hostile pages are expected: every field is type-checked, file names must be plain
names, and a remote page may not point at local files. Nothing here does I/O.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from packaging.utils import NormalizedName

from envsync.model import Artifact
from envsync.resolve.urls import strip_credentials

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def _link_parser() -> _Links:
    """A parser that collects the anchors of a PEP 503 page with their data-* attributes.

    Made on first use: html.parser is 3 ms to import, and only an HTML index page needs it.
    """
    import html.parser

    class LinkParser(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.links: list[dict[str, str | None]] = []
            self.base: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                self.links.append(dict(attrs))
            elif tag == "base" and self.base is None:
                self.base = dict(attrs).get("href")

    return LinkParser()


class _Links(Protocol):
    links: list[dict[str, str | None]]
    base: str | None

    def feed(self, data: str) -> None: ...

    def close(self) -> None: ...


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256(value: object) -> bool:
    """Whether `value` is a sha256 hex digest: 64 hex digits, nothing else."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def checked_sha256(value: str, what: str) -> str:
    """`value` as a lower-case sha256 digest, or a ValueError naming `what`.

    A hash from an index or a lock becomes a cache folder name, so anything but 64 hex
    digits (`../../x`, an empty string, another algorithm's digest) is refused where it
    is read, before it can reach a path.
    """
    if not is_sha256(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise ValueError(f"{what} is not 64 hex digits: {shown!r}")
    return value.lower()


def _metadata_hint(value: object, filename: str) -> tuple[bool, str | None]:
    """PEP 658/714: the core-metadata field is true, a dict of hashes, or a 'sha256=…' string."""
    what = f"the core-metadata sha256 of {filename!r}"
    if isinstance(value, dict):
        sha256 = value.get("sha256")
        if sha256 is not None and not isinstance(sha256, str):
            raise ValueError(f"{what} is {type(sha256).__name__}")
        return True, checked_sha256(sha256, what) if sha256 else None
    if isinstance(value, str):
        if value.startswith("sha256="):
            sha256 = value.removeprefix("sha256=")
            return True, checked_sha256(sha256, what) if sha256 else None
        return value.lower() == "true", None
    return bool(value), None


def _split_hash(url: str, filename: str) -> tuple[str, str | None]:
    base, _, fragment = url.partition("#")
    if fragment.startswith("sha256="):
        sha256 = fragment.removeprefix("sha256=")
        return base, checked_sha256(sha256, f"the sha256 of {filename!r}") if sha256 else None
    return base, None


def _url_filename(url: str) -> str:
    """The last path component of a file URL, unquoted: the name the file is stored under."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url.partition("#")[0]).path.rsplit("/", 1)[-1])


def safe_filename(filename: str) -> bool:
    """Whether `filename` can name a file in the cache: one plain path component, nothing hidden.

    The name comes from an index page or a lock, so it may try `../` or a leading dot.
    """
    return (bool(filename) and not filename.startswith(".")
            and "/" not in filename and "\\" not in filename and "\x00" not in filename)


def _file_url(page_url: str, href: str, allowed_schemes: frozenset[str]) -> str | None:
    """`href` made absolute against the page, without credentials; None if unusable or off-limits.

    A remote page may only point at http(s) files: a `file:` link would make envsync read
    (and install) a local file the index chose.
    """
    if href.startswith(("https://", "http://")) and not any(c in href.split("/", 3)[2] for c in "@[]"):
        return href  # absolute, plain host, no credentials: most files on most indexes, checked cheaply
    try:
        url = strip_credentials(urllib.parse.urljoin(page_url, href))
        scheme = urllib.parse.urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in allowed_schemes else None


def _allowed_schemes(page_url: str) -> frozenset[str]:
    if page_url.startswith("file:"):
        return frozenset({"file", "http", "https"})
    return frozenset({"http", "https"})


def parse_html(page_url: str, text: str) -> list[Artifact]:
    """Artifacts from a PEP 503 project page; links that can't be used are skipped, as pip does."""
    parser = _link_parser()
    parser.feed(text)
    parser.close()
    base = page_url
    if parser.base:
        base = _file_url(page_url, parser.base, _allowed_schemes(page_url)) or page_url
    artifacts = []
    for link in parser.links:
        href = link.get("href")
        url = _file_url(base, href, _allowed_schemes(page_url)) if href else None
        if url is None:
            continue
        filename = _url_filename(url)
        if not safe_filename(filename):
            continue
        url, sha256 = _split_hash(url, filename)
        core = link.get("data-core-metadata") or link.get("data-dist-info-metadata")
        has_metadata, metadata_sha = _metadata_hint(core, filename) if core is not None else (False, None)
        artifacts.append(Artifact(
            filename=filename, url=url, sha256=sha256,
            requires_python=link.get("data-requires-python") or None,
            yanked="data-yanked" in link,
            yank_reason=link.get("data-yanked") or None,
            has_metadata_file=has_metadata, metadata_sha256=metadata_sha,
        ))
    return artifacts


def _field(entry: dict[str, Any], key: str, types: type | tuple[type, ...], default: Any = None) -> Any:
    """entry[key] when absent, null or of one of `types` (a bool is no int); else ValueError naming it."""
    value = entry.get(key)
    if value is None:
        return default
    allowed = types if isinstance(types, tuple) else (types,)
    if isinstance(value, allowed) and (bool in allowed or not isinstance(value, bool)):
        return value
    raise ValueError(f"{key!r} of {entry.get('filename')!r} is {type(value).__name__}")


def parse_json(page_url: str, document: object, keep: Callable[[str], bool] | None = None) -> list[Artifact]:
    """Artifacts from a PEP 691 project document; with `keep`, only the files whose names it keeps.

    Every field is type-checked, because a broken or hostile index must end in a clear
    IndexUnavailable (the caller turns ValueError into one), never in an AttributeError later.
    """
    return [Artifact(*row) for row in json_rows(page_url, document, keep)]


# An Artifact's fields but the last (`index`, set by whoever knows which index listed the page).
Row = tuple[str, str, "str | None", "int | None", "str | None", bool, "str | None", bool, "str | None"]


def json_rows(page_url: str, document: object, keep: Callable[[str], bool] | None = None) -> list[Row]:
    """`parse_json`'s files as tuples of an Artifact's fields but `index`: what a helper process sends
    back (page_parsers.py). A big tree has some 100,000 entries, so the common entry is checked in
    one go here (an absolute https URL on a plain host with no fragment, string fields, a sha256, no
    metadata hint); anything else goes through `_json_artifact`, whose checks and messages are the
    reference."""
    keep = keep or runs_on_this_os
    if not isinstance(document, dict):
        raise ValueError(f"the document is a {type(document).__name__}, not an object")
    files = document.get("files", [])
    if not isinstance(files, list):
        raise ValueError(f"'files' is {type(files).__name__}, not a list")
    rows: list[Row] = []
    schemes = _allowed_schemes(page_url)
    plain_sha256 = _SHA256.fullmatch
    for entry in files:
        if type(entry) is dict:
            get = entry.get
            filename = get("filename")
            if type(filename) is str:
                if not keep(filename):
                    continue  # most files of a big project are for other systems: skip them before parsing
                url, hashes, size = get("url"), get("hashes"), get("size")
                requires, yanked, uploaded = get("requires-python"), get("yanked", False), get("upload-time")
                if (type(url) is str and type(hashes) is dict
                        and (size is None or (type(size) is int and size >= 0))
                        and (requires is None or type(requires) is str) and (uploaded is None or type(uploaded) is str)
                        and (yanked is None or type(yanked) is bool or type(yanked) is str)
                        and not get("core-metadata") and not get("dist-info-metadata")
                        and url.startswith("https://") and "#" not in url and safe_filename(filename)):
                    sha256 = hashes.get("sha256")
                    host = url[8:url.find("/", 8)]
                    if (type(sha256) is str and plain_sha256(sha256) is not None
                            and "@" not in host and "[" not in host and "]" not in host):
                        rows.append((filename, url, sha256.lower(), size, requires or None, bool(yanked),
                                     yanked if type(yanked) is str and yanked else None, False, None))
                        continue
        artifact = _json_artifact(page_url, entry, schemes)
        if artifact is not None:
            rows.append(_row_of(artifact))
    return rows


def _row_of(artifact: Artifact) -> Row:
    return (artifact.filename, artifact.url, artifact.sha256, artifact.size, artifact.requires_python,
            artifact.yanked, artifact.yank_reason, artifact.has_metadata_file, artifact.metadata_sha256)


def _os_platform_prefixes() -> tuple[str, ...]:
    """Wheel platform tags any interpreter on this machine could accept, by prefix."""
    import sys

    if sys.platform.startswith("linux"):
        return ("any", "linux", "manylinux", "musllinux")
    if sys.platform == "darwin":
        return ("any", "macosx")
    if sys.platform.startswith("win"):
        return ("any", "win")
    return ()  # an unusual system: keep everything, the resolver decides


_THIS_OS = _os_platform_prefixes()


def runs_on_this_os(filename: object) -> bool:
    """False only for a wheel built solely for another operating system (a cheap, safe pre-filter)."""
    if not _THIS_OS or not isinstance(filename, str) or not filename.endswith(".whl"):
        return True
    platforms = filename[filename.rfind("-") + 1:-4].lower()
    if "." not in platforms:  # one platform tag: most wheels
        return platforms.startswith(_THIS_OS)
    return any(platform.startswith(_THIS_OS) for platform in platforms.split("."))


def wheel_filter(tags: Iterable[str]) -> Callable[[str], bool]:
    """Which files of a page to keep when resolving for interpreters with these tags: every sdist,
    and the wheels one of them supports. Most files of a big project are wheels for other Pythons
    and platforms; parsing only the rest makes reading a page several times cheaper."""
    from envsync.resolve.tags import UNSUPPORTED, WheelRanker

    wanted = sorted(tags)
    rank = WheelRanker(wanted).rank
    # Locking for other platforms (their tags are served too) needs their wheels.
    this_os_only = all(runs_on_this_os(f"x-0-{tag}.whl") for tag in wanted)

    kept: dict[str, bool] = {}  # by a wheel's tag triple: a big project's thousands of wheels share a few

    def keep(filename: str) -> bool:
        if not filename.endswith(".whl"):
            return True
        if filename.count("-") not in (4, 5):
            return False  # not a wheel's name: no tags to support
        last = filename.rfind("-")
        triple = filename[filename.rfind("-", 0, filename.rfind("-", 0, last)) + 1:-4]
        answer = kept.get(triple)
        if answer is None:
            answer = kept[triple] = (not this_os_only or runs_on_this_os(filename)) and rank(filename) != UNSUPPORTED
        return answer

    return keep


def parse_page(page_url: str, content_type: str, content: bytes,
               keep: Callable[[str], bool] | None = None) -> list[Artifact]:
    """The files of a fetched page, PEP 691 JSON or PEP 503 HTML; with `keep`, only those it keeps
    (without, a JSON page keeps what runs on this OS). ValueError for a page that is not one."""
    return [Artifact(*row) for row in page_rows(page_url, content_type, content, keep)]


def page_rows(page_url: str, content_type: str, content: bytes,
              keep: Callable[[str], bool] | None = None) -> list[Row]:
    """`parse_page`'s files as rows (see `json_rows`)."""
    import json

    if content_type == JSON_TYPE:
        try:
            document = json.loads(content)
        except RecursionError:  # a hostile page of `[[[[...`: not a page, and no crash
            raise ValueError("its JSON is nested too deeply") from None
        return json_rows(page_url, document, keep)
    parsed = parse_html(page_url, content.decode("utf-8", errors="replace"))
    return [_row_of(a) for a in parsed if keep is None or keep(a.filename)]


def _json_artifact(page_url: str, entry: object, schemes: frozenset[str]) -> Artifact | None:
    """One PEP 691 file entry; None for a file envsync must not use (unsafe name or URL)."""
    if not isinstance(entry, dict):
        raise ValueError(f"a file entry is {type(entry).__name__}, not an object")
    filename = _field(entry, "filename", str)
    href = _field(entry, "url", str)
    if filename is None or href is None:
        raise ValueError("a file entry has no 'filename' or 'url'")
    hashes = _field(entry, "hashes", dict, {})
    sha256 = hashes.get("sha256")
    if sha256 is not None and not isinstance(sha256, str):
        raise ValueError(f"'hashes' of {filename!r} has a sha256 that is {type(sha256).__name__}")
    url = _file_url(page_url, href, schemes)
    if url is None or not safe_filename(filename):
        return None
    if sha256:
        sha256 = checked_sha256(sha256, f"the sha256 of {filename!r}")
    url, fragment_hash = _split_hash(url, filename)
    size = _field(entry, "size", int)
    if size is not None and size < 0:
        raise ValueError(f"'size' of {filename!r} is negative")
    has_metadata, metadata_sha = _metadata_hint(
        entry.get("core-metadata", entry.get("dist-info-metadata", False)), filename)
    yanked = _field(entry, "yanked", (bool, str), False)
    _field(entry, "upload-time", str)  # checked as the fast path checks it, though envsync keeps no upload time
    return Artifact(
        filename=filename, url=url, sha256=sha256 or fragment_hash, size=size,
        requires_python=_field(entry, "requires-python", str) or None,
        yanked=bool(yanked), yank_reason=yanked if isinstance(yanked, str) and yanked else None,
        has_metadata_file=has_metadata, metadata_sha256=metadata_sha,
    )


def project_of(filename: str) -> NormalizedName | None:
    """The normalised project name a distribution file belongs to, or None if unparseable."""
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


_SEPARATORS = re.compile(r"[-_.]+")


def belongs_to(filename: str, name: NormalizedName) -> bool:
    """Whether a file listed under project `name` really is one of its files.

    A wheel's name part is read straight from the file name (cheap: big projects list
    thousands of wheels); anything unusual goes through packaging's full parse.
    """
    if filename.endswith(".whl") and _SEPARATORS.sub("-", filename.split("-", 1)[0]).lower() == name:
        return True
    if filename.endswith(".tar.gz") and _SEPARATORS.sub("-", filename[:-7].rpartition("-")[0]).lower() == name:
        return True  # the usual sdist, `name-version.tar.gz`, without packaging's full parse
    return project_of(filename) == name


def file_path(url: str) -> Path:
    import urllib.request  # here: it brings http.client, email and ssl, which a warm apply never needs

    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
