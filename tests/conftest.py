"""Shared fixtures: an isolated environment per test and a real local package index."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # so `from helpers import ...` works under any import mode
    sys.path.insert(0, str(TESTS_DIR))

from localindex import LocalIndex  # noqa: E402 - needs the path set above


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fresh cache per test, no index settings from the outside, no colour."""
    monkeypatch.setenv("ENVSYNC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("ENVSYNC_INDEX_URL", raising=False)
    monkeypatch.delenv("ENVSYNC_EXTRA_INDEX_URLS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    # No test downloads a Python from the internet or writes into the real data folder; the tests
    # of downloads (test_python_downloads.py) switch them on against a local list of builds.
    monkeypatch.setenv("ENVSYNC_PYTHON_INSTALL_DIR", str(tmp_path_factory.mktemp("pythons")))
    monkeypatch.setenv("ENVSYNC_PYTHON_DOWNLOADS", "never")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LocalIndex]:
    """A running JSON-capable index with PEP 658 metadata."""
    with LocalIndex(tmp_path / "index") as served:
        yield served


@pytest.fixture
def html_index(tmp_path: Path) -> Iterator[LocalIndex]:
    """A running HTML-only index without metadata files."""
    with LocalIndex(tmp_path / "html-index", mode="html", metadata=False) as served:
        yield served


@pytest.fixture
def clients() -> Iterator[list]:
    """IndexClients made by a test (see helpers.client_for), closed after it."""
    made: list = []
    yield made
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def backend_wheels() -> list[Path]:
    """setuptools, hatchling and their dependencies as wheels (see tests/backends.py)."""
    from backends import backend_wheels as find

    wheels = find()
    if wheels is None:
        pytest.skip("the build backends' wheels could not be downloaded with pip")
    return wheels


@pytest.fixture
def build_index(index: LocalIndex, backend_wheels: list[Path]) -> LocalIndex:
    """The local index, with the build backends' wheels on it."""
    from backends import publish_backends

    publish_backends(index, backend_wheels)
    return index
