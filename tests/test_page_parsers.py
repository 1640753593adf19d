"""Big index pages are decoded by a helper process: the same files, the same errors, and no
helper at all is only slower."""

from __future__ import annotations

import contextlib
import json
import marshal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from packaging.tags import sys_tags
from packaging.utils import NormalizedName
from wheelfactory import WheelSpec

from envsync.helper_processes import HelperLost, HelperPool, Pending
from envsync.resolve import page_parsers
from envsync.resolve.page_parsers import PARSE_IN_HELPER_AT, PageJob, PageParsers, project_rows
from envsync.resolve.pages import JSON_TYPE

TAGS = tuple(sorted(str(tag) for tag in sys_tags()))


def entry(filename: str, **extra: object) -> dict[str, object]:
    return {"filename": filename, "url": f"https://files.example/{filename}", "hashes": {"sha256": "ab" * 32},
            "size": 10, **extra}


def numpy_like_page() -> bytes:
    """A page the size of a big project's: wheels for many Pythons and systems, sdists, yanked
    and metadata-hinted files, and files named for another project (which the page must not keep)."""
    files = []
    for minor in range(300):
        version = f"1.{minor}"
        files += [entry(f"big-{version}.tar.gz", **{"requires-python": ">=3.8"}),
                  entry(f"big-{version}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                        **{"core-metadata": {"sha256": "cd" * 32}}),
                  entry(f"big-{version}-cp39-cp39-win_amd64.whl"),
                  entry(f"big-{version}-py3-none-any.whl", yanked="broken" if minor % 7 == 0 else False),
                  entry(f"intruder-{version}-py3-none-any.whl")]
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "big", "files": files}).encode()


def job(content: bytes, tags: tuple[str, ...] | None = TAGS) -> PageJob:
    return PageJob("https://index.example/simple/big/", JSON_TYPE, content, tags, NormalizedName("big"),
                   "https://index.example/simple")


@pytest.fixture
def parsers() -> Iterator[PageParsers]:
    started = PageParsers(1)
    assert started.start(timeout=60), "the helper did not start"
    yield started
    started.close()


def only_a_helper_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_here(job: PageJob) -> list[tuple[object, ...]]:
        raise AssertionError("parsed in envsync's own process")

    monkeypatch.setattr(page_parsers, "project_rows", not_here)


def test_a_big_page_decoded_by_a_helper_gives_the_files_parsing_here_gives(
    parsers: PageParsers, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = numpy_like_page()
    assert len(page) >= PARSE_IN_HELPER_AT
    here = project_rows(job(page))
    only_a_helper_parses(monkeypatch)
    assert marshal.loads(parsers.rows(job(page))) == here
    names = {row[0] for row in here}
    assert "big-1.5.tar.gz" in names and not any(name.startswith("intruder") for name in names)
    assert not any("win_amd64" in name for name in names)  # another system's wheels are left out
    assert {row[-1] for row in here} == {"https://index.example/simple"}
    every = marshal.loads(parsers.rows(job(page, tags=None)))  # no interpreter's filter: this OS's files
    assert any("cp39-cp39-manylinux" in row[0] or "cp311" in row[0] for row in every)


def test_the_quick_reading_of_common_entries_gives_what_the_full_checks_give() -> None:
    """Most entries take the quick path (json_rows); every entry of the numpy-like page, read one at a
    time through the full checks, must come out the same, a yank's reason included."""
    from envsync.resolve.pages import _json_artifact, _row_of

    page = numpy_like_page()
    rows = project_rows(job(page))
    kept = {row[0] for row in rows}
    by_full_checks = [_row_of(a) + ("https://index.example/simple",)
                      for e in json.loads(page)["files"] if e["filename"] in kept
                      for a in [_json_artifact("https://index.example/simple/big/", e, frozenset({"https"}))]
                      if a is not None]
    assert rows == by_full_checks
    assert {row[6] for row in rows if row[0] == "big-1.7-py3-none-any.whl"} == {"broken"}
    assert {row[7] for row in rows if "cp311" in row[0]} == {True}  # metadata-hinted: the full checks read it


def test_an_invalid_big_page_fails_in_a_helper_with_the_parsers_own_message(
    parsers: PageParsers, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = json.dumps({"files": [{"filename": "big-1.0.tar.gz", "url": 7, "pad": "x" * PARSE_IN_HELPER_AT}]}).encode()
    with pytest.raises(ValueError) as here:
        project_rows(job(page))
    only_a_helper_parses(monkeypatch)
    with pytest.raises(ValueError) as there:
        parsers.rows(job(page))
    assert str(there.value) == str(here.value) == "'url' of 'big-1.0.tar.gz' is int"
    with pytest.raises(ValueError, match="Expecting value"):
        parsers.rows(job(b"not json" + b" " * PARSE_IN_HELPER_AT))
    deep = b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # a hostile page: no crash on either side
    with pytest.raises(ValueError, match="nested too deeply"):
        parsers.rows(job(deep))


def test_a_helper_that_died_only_means_parsing_here(parsers: PageParsers) -> None:
    for process in parsers.processes():
        process.kill()
        process.wait()
    page = numpy_like_page()
    assert marshal.loads(parsers.rows(job(page))) == project_rows(job(page))
    assert marshal.loads(parsers.rows(job(page))) == project_rows(job(page))  # no helper is left


def test_a_lock_reads_a_big_page_and_its_parsed_files_are_kept(tmp_path: Path, index: LocalIndex) -> None:
    index.add(WheelSpec("lib", "1.0"))
    junk = tmp_path / "junk"
    junk.mkdir()
    for n in range(400):  # wheels for another system make the page big, as PyPI's are
        wheel = junk / f"lib-0.{n}-cp27-cp27m-win32.whl"
        wheel.write_bytes(b"not a wheel")
        index.add_file("lib", wheel)
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    assert len(index.project_page("lib", as_json=True)) >= PARSE_IN_HELPER_AT
    first = run_envsync("lock", cwd=project)
    assert first.returncode == 0, first.stderr
    assert 'name = "lib"\nversion = "1.0"' in (project / "pylock.e.toml").read_text()
    again = run_envsync("lock", "--upgrade", cwd=project)  # the same bytes: the files kept are used
    assert again.returncode == 0, again.stderr
    assert 'name = "lib"\nversion = "1.0"' in (project / "pylock.e.toml").read_text()


ECHO = "while (job := next_job()) is not None:\n    answer(job)\n"


@pytest.fixture
def echo() -> Iterator[HelperPool]:
    """One helper that answers each job with the job itself."""
    pool = HelperPool(ECHO, 1)
    pool.start()
    yield pool
    pool.close()


def waiting_submits(pool: HelperPool, count: int) -> tuple[list[threading.Thread], list[Pending | None]]:
    """`count` threads each submitting a job that may wait, left long enough to find the helper busy."""
    waited: list[Pending | None] = []
    waiters = [threading.Thread(target=lambda: waited.append(pool.submit("waited", wait=True))) for _ in range(count)]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.2)  # without waiting, each would have had None by now
    return waiters, waited


def test_a_job_that_may_wait_waits_for_the_busy_helper_and_one_that_may_not_is_done_here(echo: HelperPool) -> None:
    first = echo.submit("first")
    assert first is not None
    assert echo.submit("now") is None  # the only helper is busy: do it yourself
    waiters, waited = waiting_submits(echo, 1)
    assert first.result() == "first"
    waiters[0].join(timeout=30)
    assert waited and waited[0] is not None and waited[0].result() == "waited"


def test_a_job_never_waits_for_a_helper_still_starting() -> None:
    slow_start = "import time\ntime.sleep(30)\nanswer('ready')\n" + ECHO
    pool = HelperPool(slow_start, 1, announces_ready=True)
    pool.start()
    try:
        assert pool.submit("job", wait=True) is None  # not ready: done here at once, not queued
    finally:
        for process in pool.processes():
            process.kill()
        pool.close()


def test_every_job_waiting_for_a_helper_that_dies_is_done_here(echo: HelperPool) -> None:
    busy = echo.submit("first")
    assert busy is not None
    waiters, waited = waiting_submits(echo, 3)
    for process in echo.processes():
        process.kill()
        process.wait()
    with contextlib.suppress(HelperLost):
        busy.result()  # its answer may have been written before it was killed
    for waiter in waiters:
        waiter.join(timeout=30)
    assert waited == [None, None, None]  # none is left waiting


def test_a_helper_answers_and_ends_as_soon_as_its_input_closes() -> None:
    pool = HelperPool("while True:\n    answer(next_job())\n", 1)
    pool.start()
    pending = pool.submit(("ping", 1))
    assert pending is not None and pending.result() == ("ping", 1)
    (process,) = pool.processes()
    pool.close()  # closes its pipe, and would kill it after 5 s
    assert process.returncode == 0
