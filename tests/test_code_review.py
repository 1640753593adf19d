"""Defects a code review found in shared machinery: a race in the session, look-ahead threads that
swallowed bugs, and caches whose format tag was bumped by hand."""

from __future__ import annotations

import dataclasses
import json
import marshal
import threading
import time
from pathlib import Path

import pytest
from helpers import write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.state.session import open_session


def test_concurrent_fetch_threads_share_one_index_client(tmp_path: Path, index: LocalIndex,
                                                         monkeypatch: pytest.MonkeyPatch):
    """16 fetch threads asking at once get one client, not 16 (15 of them never closed)."""
    from envsync.resolve import index as index_module

    made = index_module.IndexClient.__init__

    def slow_to_make(self, *args, **kwargs) -> None:  # widen the window a check-then-set leaves open
        time.sleep(0.05)
        made(self, *args, **kwargs)

    monkeypatch.setattr(index_module.IndexClient, "__init__", slow_to_make)
    project = write_config(tmp_path / "p", f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\n').parent
    session = open_session(project / "envs.toml")
    settings = session.config.envs[0].index
    start = threading.Barrier(16)
    clients: list[object] = []

    def ask() -> None:
        start.wait()
        clients.append(session.index(settings))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.close()
    assert len({id(client) for client in clients}) == 1


def _resolve_with_lookahead_raising(tmp_path: Path, index: LocalIndex, monkeypatch: pytest.MonkeyPatch,
                                    error: BaseException):
    """Resolve app -> lib while every look-ahead thread (and only those) raises `error` when it reads files."""
    from packaging.requirements import Requirement

    from envsync.model import IndexSettings
    from envsync.pythons.interpreters import find_interpreter
    from envsync.resolve.files import ProjectFiles
    from envsync.resolve.index import IndexClient
    from envsync.resolve.resolver import resolve

    index.add(WheelSpec("app", "1.0", requires=["lib"]))
    index.add(WheelSpec("lib", "1.0"))
    real = ProjectFiles.installable
    raised = threading.Event()

    def installable(self, name):
        if threading.current_thread().name.startswith("envsync-speculate"):
            raised.set()
            raise error
        raised.wait(10)  # the resolver goes on once a look-ahead thread has failed
        return real(self, name)

    monkeypatch.setattr(ProjectFiles, "installable", installable)
    client = IndexClient(IndexSettings(index_url=index.url))
    try:
        return resolve([Requirement("app")], find_interpreter(None, tmp_path), client)
    finally:
        client.close()


def test_a_bug_in_a_lookahead_thread_is_raised_not_swallowed(tmp_path: Path, index: LocalIndex,
                                                              monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ZeroDivisionError):
        _resolve_with_lookahead_raising(tmp_path, index, monkeypatch, ZeroDivisionError("a bug"))


def test_a_network_failure_in_a_lookahead_thread_costs_nothing(tmp_path: Path, index: LocalIndex,
                                                              monkeypatch: pytest.MonkeyPatch):
    from envsync.errors import IndexUnavailable

    pins = _resolve_with_lookahead_raising(tmp_path, index, monkeypatch, IndexUnavailable("index down"))
    assert sorted(pins) == ["app", "lib"]


def _with_one_more_field(cls: type) -> type:
    """`cls` as a frozen dataclass of the same name with one more field, as the next release might have."""
    extended = dataclasses.make_dataclass(cls.__name__, [("added_later", "str | None", dataclasses.field(default=None))],
                                          bases=(cls,), frozen=True)
    return extended


def test_the_parsed_page_cache_never_loads_entries_of_an_older_artifact(monkeypatch: pytest.MonkeyPatch):
    from envsync import model
    from envsync.resolve import pagecache

    before = pagecache._parsed_path("https://example.org/simple/x/")
    monkeypatch.setattr(model, "Artifact", _with_one_more_field(model.Artifact))
    assert pagecache._parsed_path("https://example.org/simple/x/") != before


def test_parsed_pages_come_back_as_the_files_parsed(tmp_path: Path):
    from envsync.model import Artifact
    from envsync.resolve import pagecache
    from envsync.resolve.page_parsers import PageJob, project_rows
    from envsync.resolve.pages import JSON_TYPE

    page = {"files": [{"filename": "x-1.0-py3-none-any.whl", "url": "https://h/x.whl", "hashes": {"sha256": "A" * 64},
                       "size": 3, "core-metadata": {"sha256": "b" * 64}},
                      {"filename": "other-1.0.tar.gz", "url": "https://h/o.tar.gz", "hashes": {}}]}
    job = PageJob("https://h/simple/x/", JSON_TYPE, json.dumps(page).encode(), None, "x", "https://h/simple")
    pagecache.store_parsed("https://h/simple/x/", b"d" * 32, marshal.dumps(project_rows(job)))
    assert pagecache.load_parsed("https://h/simple/x/", b"d" * 32) == [
        Artifact("x-1.0-py3-none-any.whl", "https://h/x.whl", "a" * 64, size=3, has_metadata_file=True,
                 metadata_sha256="b" * 64, index="https://h/simple")]
    assert pagecache.load_parsed("https://h/simple/x/", b"e" * 32) is None  # other bytes: parsed again


def test_the_config_cache_never_loads_entries_of_an_older_env_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from envsync.config import cached
    from envsync.model import EnvSpec

    config = write_config(tmp_path / "p", "[envs.dev]\n")
    before, format_before = cached.key(config), cached.entry_format()
    monkeypatch.setitem(cached._VALUES, "EnvSpec", _with_one_more_field(EnvSpec))
    assert cached.key(config) != before
    assert cached.entry_format() != format_before
