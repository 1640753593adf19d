"""A lock edited by hand or by an attacker: hashes and file names from it never become paths.

A lock's sha256 names the download and unpack folders and its wheel file name names the
file in them, so anything but 64 hex digits, or a name with a path in it, is refused where
the lock is read: a clear error naming the lock, exit 1, nothing installed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.files.cache import cache_dir

ESCAPE = "../../../escaped-by-lock"


@pytest.fixture
def locked(tmp_path: Path, index: LocalIndex) -> Path:
    """A project with a fresh lock for `lib`, nothing installed yet."""
    index.add(WheelSpec("lib", "1.0"))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    result = run_envsync("lock", cwd=project)
    assert result.returncode == 0, result.stderr
    return project


def _edit_wheel(project: Path, old_key: str, new_value: str) -> Path:
    path = project / "pylock.e.toml"
    wheel = tomllib.loads(path.read_text())["packages"][0]["wheels"][0]
    old = wheel["hashes"]["sha256"] if old_key == "sha256" else wheel[old_key]
    path.write_text(path.read_text().replace(f'"{old}"', f'"{new_value}"'))
    return path


def _assert_refused(project: Path, result, *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr.startswith("envsync: error: pylock.e.toml: ")
    for needle in needles:
        assert needle in result.stderr
    assert not (project / ".envs" / "e").exists()
    base = cache_dir()
    for folder in ("downloads", "unpacked"):
        assert not (base / folder / ESCAPE).resolve().exists()


@pytest.mark.parametrize("bad", [ESCAPE, "z" * 64, "abc", "0" * 63 + "/"], ids=["path", "not hex", "short", "slash"])
@pytest.mark.parametrize("command", [("apply", "--frozen"), ("apply",), ("plan",)])
def test_a_lock_hash_that_is_not_hex_names_the_lock(locked: Path, bad: str, command: tuple[str, ...]):
    _edit_wheel(locked, "sha256", bad)
    result = run_envsync(*command, cwd=locked)
    _assert_refused(locked, result, "64 hex digits", "lib-1.0-py3-none-any.whl")


@pytest.mark.parametrize("name", ["../../../lib-1.0-py3-none-any.whl", "sub/lib-1.0-py3-none-any.whl",
                                  "not-a-wheel.txt"])
def test_a_lock_wheel_name_that_is_no_wheel_or_has_a_path_names_the_lock(locked: Path, name: str):
    _edit_wheel(locked, "name", name)
    result = run_envsync("apply", "--frozen", cwd=locked)
    _assert_refused(locked, result, repr(name))
