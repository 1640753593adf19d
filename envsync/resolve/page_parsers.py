"""Index pages decoded beside the resolver, in a helper process.

A cold resolve of a big tree reads some 40 MB of PEP 691 JSON: decoding it and picking out
the files the interpreter can use is a third of the run's CPU, and in envsync's own process
it takes turns at the interpreter lock with the resolver and the metadata reads. So a page
of PARSE_IN_HELPER_AT bytes or more is handed to a helper process (helper_processes.py),
which answers with the project's files as rows, the same rows the parsed-page cache keeps.
A big page waits for a busy helper (parsing it here as well measured slower: about 24 of
the large workload's 37 MB of big pages ended up here, on the core the resolver needs);
small pages, and big ones while the helper is still starting, are parsed here. The answer
is the same either way, and a page that is not a valid one fails with the same message.
"""

from __future__ import annotations

import dataclasses
import functools
import marshal
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from packaging.utils import NormalizedName

from envsync.helper_processes import HelperLost, HelperPool
from envsync.model import Artifact
from envsync.resolve.pages import belongs_to, page_rows, wheel_filter

PARSE_IN_HELPER_AT = 32 * 1024  # smaller pages cost less to parse than to send
# A page this big waits for a busy helper; a smaller one is parsed here meanwhile (a few ms, where
# waiting behind a big page took 100-300 ms in a cold resolve of the large workload).
WAIT_FOR_HELPER_AT = 256 * 1024


class PageJob(NamedTuple):
    """A fetched page, and which of its files the project's resolve needs."""

    page_url: str
    content_type: str
    content: bytes
    tags: tuple[str, ...] | None  # keep the wheels these tags support (None: what runs on this OS)
    name: NormalizedName  # the project: files named for another are dropped
    listed_on: str | None  # the index recorded on each file (its page's base, no credentials)


@functools.lru_cache(maxsize=8)
def _filter(tags: tuple[str, ...]) -> Callable[[str], bool]:
    return wheel_filter(tags)


_NAMES = [field.name for field in dataclasses.fields(Artifact)]
assert _NAMES[-1] == "index", "a row ends with the index the page is on"


def project_rows(job: PageJob) -> list[tuple[object, ...]]:
    """The page's files for `job.name`, each as the tuple of an Artifact's fields (index set):
    what `Artifact(*row)` makes again, and what the parsed-page cache keeps."""
    keep = None if job.tags is None else _filter(tuple(job.tags))
    listed_on = (job.listed_on,)
    ours: dict[str, bool] = {}  # whether a file name's project part is `job.name`: most files share one
    rows: list[tuple[object, ...]] = []
    for row in page_rows(job.page_url, job.content_type, job.content, keep):
        filename = row[0]
        if filename.endswith(".whl"):
            part = filename.split("-", 1)[0]
        elif filename.endswith(".tar.gz"):
            part = filename[:-7].rpartition("-")[0] + "-"
        else:
            part = "\0" + filename  # belongs_to parses it whole (no file name holds a NUL)
        belongs = ours.get(part)
        if belongs is None:
            belongs = ours[part] = belongs_to(filename, job.name)
        if belongs:
            rows.append(row + listed_on)
    return rows


# The helper's program, after helper_processes.PROTOCOL: envsync's own parser, on sys.path of the
# process that started it (argv[1], marshal'd), announcing itself once its imports are done.
_PROGRAM = """
sys.path[:] = marshal.loads(bytes.fromhex(sys.argv[1]))
from envsync.resolve.page_parsers import PageJob, project_rows
answer(("ready", None))
while True:
    job = next_job()  # the helper ends when its input does
    try:
        answer(("rows", marshal.dumps(project_rows(PageJob(*job)))))
    except ValueError as exc:
        answer(("invalid", str(exc)))
    except Exception as exc:
        answer(("failed", repr(exc)))
"""


def helper_count() -> int:
    """One helper per core beyond the one envsync's own process keeps busy, at most two."""
    return max(0, min(2, (os.cpu_count() or 1) - 1))


class PageParsers:
    """Parses pages into marshal'd rows, big ones in helpers started on first need."""

    def __init__(self, count: int | None = None) -> None:
        search_path = [str(Path(__file__).resolve().parents[2]), *sys.path]
        self._pool = HelperPool(_PROGRAM, helper_count() if count is None else count,
                                program_args=(marshal.dumps(search_path).hex(),), announces_ready=True)

    def rows(self, job: PageJob) -> bytes:
        """`project_rows(job)`, marshal'd; ValueError (with the parser's message) for an invalid page."""
        if len(job.content) >= PARSE_IN_HELPER_AT:
            self._pool.start()
            pending = self._pool.submit(tuple(job), wait=len(job.content) >= WAIT_FOR_HELPER_AT)
            if pending is not None:
                try:
                    kind, payload = pending.result()  # type: ignore[misc]
                except (HelperLost, TypeError, ValueError):
                    kind, payload = "failed", None
                if kind == "rows" and isinstance(payload, bytes):
                    return payload
                if kind == "invalid":
                    raise ValueError(str(payload))
                # anything else (a helper that died or failed unexpectedly): parse it here
        return marshal.dumps(project_rows(job))

    def start(self, timeout: float) -> bool:
        """Start the helpers and wait until they are ready (for tests): whether they are."""
        self._pool.start()
        return self._pool.wait_until_ready(timeout)

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The helper processes started (for tests that end one)."""
        return self._pool.processes()

    def close(self) -> None:
        self._pool.close()
