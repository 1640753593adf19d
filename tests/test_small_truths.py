"""The small things the CLI must say truly: -c DIR, no envs, list in error, unknown extras, orphan locks."""

from __future__ import annotations

from pathlib import Path

from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.state.planner import orphan_locks


def test_config_option_accepts_the_folder(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0"))
    folder = tmp_path / "proj"
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["a"]\n')
    result = run_envsync("plan", "-c", str(folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "a 1.0" in result.stdout or "install a" in result.stdout


def test_empty_config_says_no_envs_are_declared(tmp_path: Path):
    write_config(tmp_path, "")
    for command in ("plan", "apply", "apply"):  # the second apply takes the recorded in-sync path
        result = run_envsync(command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "No envs are declared in envs.toml" in result.stdout
        assert "in sync" not in result.stdout


def test_list_exits_1_when_an_env_is_in_error(tmp_path: Path, index: LocalIndex):
    (tmp_path / "notavenv").mkdir()
    (tmp_path / "notavenv" / "file.txt").write_text("mine")
    write_config(tmp_path, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\npath = "notavenv"\n')
    result = run_envsync("list", cwd=tmp_path)
    assert result.returncode == 1
    assert "error" in result.stdout and "env e" in result.stderr


def test_unknown_extra_is_warned(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("requests", "2.0", extras={"socks": []}))
    write_config(tmp_path, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["requests[nonexistent]"]\n')
    result = run_envsync("plan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "'nonexistent'" in result.stderr and "requests 2.0" in result.stderr
    write_config(tmp_path, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["requests[socks]"]\n')
    assert "warning" not in run_envsync("plan", cwd=tmp_path).stderr


def test_orphan_locks_are_decided_purely():
    locks = [(Path("pylock.a.toml"), "a"), (Path("pylock.gone.toml"), "gone"),
             (Path("pylock.other.toml"), None), (Path("pylock.x.toml"), "y")]
    assert orphan_locks(["a"], locks) == (Path("pylock.gone.toml"),)


def test_removed_env_lock_is_shown_then_removed(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0"))
    body = f'[settings]\nindex-url = "{index.url}"\n[envs.keep]\ndependencies = ["a"]\n'
    write_config(tmp_path, body + '[envs.gone]\ndependencies = ["a"]\n')
    assert run_envsync("apply", cwd=tmp_path).returncode == 0
    assert (tmp_path / "pylock.gone.toml").is_file()
    (tmp_path / "pylock.notours.toml").write_text('lock-version = "1.0"\n')
    write_config(tmp_path, body)
    plan = run_envsync("plan", cwd=tmp_path)
    assert plan.returncode == 0 and "pylock.gone.toml will be removed" in plan.stdout, plan.stdout
    assert "1 lock file to remove" in plan.stdout
    assert run_envsync("apply", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "pylock.gone.toml").exists()
    assert (tmp_path / "pylock.keep.toml").is_file() and (tmp_path / "pylock.notours.toml").is_file()
    again = run_envsync("plan", cwd=tmp_path)
    assert "will be removed" not in again.stdout and "No changes" in again.stdout
