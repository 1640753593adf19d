"""The disk side of envs: names that collide on disk, paths with spaces, full and read-only disks.

Tests run as root, so chmod can't make a folder unwritable: a read-only bind mount and a
tiny tmpfs do it instead. Where mounting is not permitted those tests are skipped.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.config.load import load
from envsync.errors import ConfigError, DiskError, EnvsyncError, from_os_error


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here ({result.stderr.strip() or result.returncode}): needs root in a sandbox "
                    "that allows mount")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30, check=False)


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder` bind-mounted onto itself read-only: even root gets EROFS."""
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        yield folder
    finally:
        _umount(folder)


@contextmanager
def tiny_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` at `folder`: writes beyond it fail with ENOSPC."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        _umount(folder)


def site_packages(env: Path) -> Path:
    (found,) = env.glob("lib/python*/site-packages")
    return found


def config(project: Path, index: LocalIndex, dependencies: str, path: str = ".envs/dev") -> Path:
    return write_config(project, f'[settings]\nindex-url = "{index.url}"\n'
                                 f'[envs.dev]\npath = "{path}"\ndependencies = [{dependencies}]\n')


def clean_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.stderr


# -- names that collide on disk --------------------------------------------------------------


@pytest.mark.parametrize("name", ["envsync", "locks", "tmp", "TMP", "Locks"])
def test_reserved_env_names_are_refused(tmp_path: Path, name: str):
    """They would share the env root with envsync's own folders."""
    with pytest.raises(ConfigError, match=f"envs.{name}: '{name}' is reserved"):
        load(write_config(tmp_path, f"[envs.{name}]\n"))


def test_names_equal_after_case_folding_collide_even_with_distinct_paths(tmp_path: Path):
    """pylock.Dev.toml and pylock.dev.toml are one file on macOS and Windows, whatever the env paths."""
    with pytest.raises(ConfigError, match="differ only in case"):
        load(write_config(tmp_path, '[envs.Dev]\npath = "a"\n[envs.dEV]\npath = "b"\n'))


# -- a path with spaces ----------------------------------------------------------------------


def test_an_env_path_with_spaces_works_end_to_end(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("tool", "0.5", console_scripts={"tool": "tool:main"}))
    project = tmp_path / "my project"
    config(project, index, '"tool"', path="my envs/dev")
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    env = project / "my envs" / "dev"
    assert installed(env) == {"tool": "0.5"}
    direct = subprocess.run([str(env / "bin" / "tool")], capture_output=True, text=True, timeout=60, check=False)
    assert (direct.returncode, direct.stdout) == (0, "tool 0.5\n"), direct.stderr
    activated = subprocess.run(["bash", "-c", 'source "my envs/dev/bin/activate" && tool && command -v tool'],
                               cwd=project, capture_output=True, text=True, timeout=60, check=False)
    assert activated.returncode == 0, activated.stderr
    assert activated.stdout.splitlines() == ["tool 0.5", str(env / "bin" / "tool")]
    again = run_envsync("plan", "--detailed-exitcode", cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr


# -- full and read-only disks ----------------------------------------------------------------


@pytest.mark.parametrize("code,words", [
    (errno.ENOSPC, "no space left"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
    (errno.EDQUOT, "quota"),
])
def test_os_errors_become_disk_errors_naming_the_path(code: int, words: str):
    error = from_os_error(OSError(code, os.strerror(code), "/envs/dev/lib/x.py"), Path("/envs/dev"))
    assert isinstance(error, DiskError)
    assert str(error).startswith("cannot write /envs/dev: ") and words in str(error)
    assert "(/envs/dev/lib/x.py)" in str(error)
    assert "envsync apply" in (error.hint or "")


def test_other_os_errors_still_name_the_path():
    error = from_os_error(OSError(errno.EIO, "Input/output error"), "/envs/dev")
    assert type(error) is EnvsyncError and str(error) == "cannot write /envs/dev: Input/output error\n" \
        "  hint: fix the cause, then run `envsync apply` again: it repairs anything left half-changed"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def test_a_read_only_site_packages_is_a_clear_error(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    config(project, index, '"lib==1.0"')
    assert run_envsync("apply", cwd=project).returncode == 0
    env = project / ".envs" / "dev"
    config(project, index, '"lib==2.0"')
    with read_only(site_packages(env)):
        stderr = clean_failure(run_envsync("apply", cwd=project))
    assert str(env) in stderr and "read-only" in stderr


def test_apply_repairs_the_env_once_it_is_writable_again(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    config(project, index, '"lib==1.0"')
    assert run_envsync("apply", cwd=project).returncode == 0
    env = project / ".envs" / "dev"
    config(project, index, '"lib==2.0"')
    with read_only(site_packages(env)):
        assert run_envsync("apply", cwd=project).returncode == 1
    assert installed(env) == {"lib": "1.0"}  # nothing could change: the old version still works
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(env) == {"lib": "2.0"}


BIG = {"big/__init__.py": "", "big/blob.bin": os.urandom(1 << 20)}  # 1 MiB that no compression shrinks


def test_a_full_disk_is_a_clear_error(project: Path, index: LocalIndex):
    index.add(WheelSpec("big", "1.0", files=BIG))
    config(project, index, '"big"', path="small/dev")
    with tiny_disk(project / "small", "512k"):
        stderr = clean_failure(run_envsync("apply", cwd=project))
    assert str(project / "small" / "dev") in stderr and "no space left" in stderr


def test_apply_after_a_full_disk_reaches_the_desired_state(project: Path, index: LocalIndex):
    index.add(WheelSpec("big", "1.0", files=BIG))
    index.add(WheelSpec("small", "1.0"))
    config(project, index, '"big", "small"', path="small/dev")
    with tiny_disk(project / "small", "512k") as disk:
        assert run_envsync("apply", cwd=project).returncode == 1
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True, timeout=30)
        result = run_envsync("apply", cwd=project)
        assert result.returncode == 0, result.stderr
        assert installed(disk / "dev") == {"big": "1.0", "small": "1.0"}
        assert run_envsync("plan", "--detailed-exitcode", cwd=project).returncode == 0


def test_a_read_only_project_folder_is_a_clear_error_when_writing_locks(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    config(project, index, '"lib"', path=str(project.parent / "envs-elsewhere" / "dev"))
    with read_only(project):
        stderr = clean_failure(run_envsync("apply", cwd=project))
    assert "pylock.dev.toml" in stderr and "read-only" in stderr


def test_mounts_are_cleaned_up(tmp_path: Path):
    """The helpers above leave no mount behind, even when the body fails."""
    folder = tmp_path / "m"
    with pytest.raises(RuntimeError), tiny_disk(folder, "64k"):
        raise RuntimeError("body failed")
    assert str(folder) not in Path("/proc/self/mounts").read_text()
