"""Every failure a user can cause ends in one clear paragraph and exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def fails(project: Path, *args: str, expect: list[str]) -> str:
    result = run_envsync(*args, cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for fragment in expect:
        assert fragment in result.stderr
    return result.stderr


def test_unknown_package(project: Path, index: LocalIndex):
    index.add(WheelSpec("real", "1.0"))
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["real", "imaginary"]\n')
    fails(project, "plan", expect=["'imaginary' was not found", "127.0.0.1"])


def test_conflict_names_who_wants_what(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("a", "1.0", requires=["lib<2"]))
    index.add(WheelSpec("b", "1.0", requires=["lib>=2"]))
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["a", "b"]\n')
    fails(project, "plan", expect=["lib<2", "needed by a 1.0", "lib>=2", "needed by b 1.0"])


def test_unknown_interpreter(project: Path, index: LocalIndex):
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\npython = "3.99"\n')
    fails(project, "plan", expect=["3.99"])


def test_index_unreachable_is_an_error_that_hides_credentials(project: Path):
    url = LocalIndex.unreachable_url().replace("http://", "http://user:s3cret@")
    write_config(project, f'[settings]\nindex-url = "{url}"\n[envs.e]\ndependencies = ["x"]\n')
    stderr = fails(project, "plan", expect=["unreachable", "127.0.0.1"])
    assert "s3cret" not in stderr


def test_hash_mismatch_stops_before_installing(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"), wrong_hash=True)
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    fails(project, "apply", expect=["lib-1.0-py3-none-any.whl", "sha256", "does not match"])
    site = list((project / ".envs" / "e").glob("lib/python*/site-packages/lib*"))
    assert site == []


def test_hostile_wheel_is_refused_before_anything_is_written(project: Path, index: LocalIndex):
    index.add(WheelSpec("evil", "1.0", extra_entries=[("../../escape.py", b"print('x')\n")]))
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["evil"]\n')
    fails(project, "apply", expect=["evil-1.0-py3-none-any.whl"])
    assert not list(project.parent.rglob("escape.py"))


def test_sdist_only_package_says_so(project: Path, index: LocalIndex, tmp_path: Path):
    sdist = tmp_path / "onlysrc-1.0.tar.gz"
    sdist.write_bytes(b"not really a tarball")
    index.add_file("onlysrc", sdist)
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["onlysrc"]\n')
    fails(project, "plan", expect=["onlysrc", "source distribution"])


def test_index_url_that_is_neither_url_nor_folder(project: Path):
    write_config(project, '[settings]\nindex-url = "htp:/typo"\n[envs.e]\ndependencies = ["x"]\n')
    fails(project, "plan", expect=["is not an existing folder", "index-url"])


def test_unusable_cache_folder_is_named(project: Path, tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    write_config(project, '[envs.e]\n')
    result = run_envsync("plan", cwd=project, env={"ENVSYNC_CACHE_DIR": str(blocker)})
    assert result.returncode == 1 and "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert str(blocker) in result.stderr and "ENVSYNC_CACHE_DIR" in result.stderr


def test_lock_that_is_not_text(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    (project / "pylock.e.toml").write_bytes(b"\xff\xfe\x00garbage")
    fails(project, "plan", expect=["pylock.e.toml: not a valid PEP 751 lock file", "not UTF-8"])
