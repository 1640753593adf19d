"""Cache entries and lock files are written whole or not at all: a temp file beside the target,
then a rename. The temp file is made new (never through something already at its name) and
private until its bytes are in."""

from __future__ import annotations

import itertools
import os
import stat
import threading
from pathlib import Path

import pytest

from envsync.files import cache
from envsync.files.cache import write_atomic


def test_a_write_makes_its_folder_and_leaves_no_temp_file(tmp_path: Path):
    target = tmp_path / "new" / "deeper" / "entry.json"
    write_atomic(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["entry.json"]


def test_a_private_entry_is_never_readable_by_others(tmp_path: Path):
    target = tmp_path / "private.json"
    write_atomic(target, b"secret", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_something_already_at_the_temp_name_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A link at the next temp name (left by a crashed run with this pid, or put there by someone
    else in a shared folder) is neither followed nor replaced: the next name is taken."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setattr(cache, "_TEMPS", itertools.count())
    taken = folder / f".tmp-{os.getpid()}-{threading.get_ident()}-0"
    taken.symlink_to(outside)
    write_atomic(folder / "entry", b"new")
    assert (folder / "entry").read_bytes() == b"new"
    assert outside.read_text() == "keep me"
    assert taken.is_symlink()


def test_a_failed_write_removes_its_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def refuse(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomic(tmp_path / "entry", b"data")
    assert list(tmp_path.iterdir()) == []
