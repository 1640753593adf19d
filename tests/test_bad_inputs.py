"""Careless and hostile inputs: each is one clear error naming the file or key, exit 1, never an
internal error, a hang or a read without end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import run_envsync, write_config


def plan_fails(project: Path, *names: str) -> str:
    """Run `plan` and return its stderr, checking it failed cleanly and named each of `names`."""
    result = run_envsync("plan", cwd=project, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    for name in names:
        assert name in result.stderr, result.stderr
    return result.stderr


def with_requirements(tmp_path: Path, target: str) -> Path:
    project = tmp_path / "project"
    write_config(project, '[envs.dev]\nrequirements = ["requirements.txt"]\n')
    (project / "requirements.txt").write_text(f"-r {target}\n")
    return project


def test_requirements_from_dev_zero_is_refused_not_read_forever(tmp_path: Path):
    plan_fails(with_requirements(tmp_path, "/dev/zero"), "requirements.txt:1: /dev/zero is not a regular file")


def test_requirements_from_a_fifo_is_refused_not_waited_on(tmp_path: Path):
    project = with_requirements(tmp_path, "pipe.txt")
    os.mkfifo(project / "pipe.txt")
    plan_fails(project, "pipe.txt", "not a regular file")


def test_a_requirements_file_too_big_to_be_one_is_refused(tmp_path: Path):
    project = with_requirements(tmp_path, "huge.txt")
    with open(project / "huge.txt", "wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: no disk used
    plan_fails(project, "huge.txt", "MB")


def test_a_nul_byte_in_a_requirements_line_names_the_line(tmp_path: Path):
    project = tmp_path / "project"
    write_config(project, '[envs.dev]\nrequirements = ["requirements.txt"]\n')
    (project / "requirements.txt").write_bytes(b"lib\nother\x00==1.0\n")
    plan_fails(project, "requirements.txt:2", "NUL")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_requirements_from_proc_environ_is_a_clean_error(tmp_path: Path):
    plan_fails(with_requirements(tmp_path, "/proc/self/environ"), "/proc/self/environ:1", "NUL")


def test_a_chain_of_400_included_files_is_a_clean_error(tmp_path: Path):
    project = with_requirements(tmp_path, "r1.txt")
    for number in range(1, 401):
        (project / f"r{number}.txt").write_text(f"-r r{number + 1}.txt\n" if number < 400 else "lib\n")
    plan_fails(project, "nest", "requirements.txt")


def test_1500_levels_of_inherits_is_a_clean_error(tmp_path: Path):
    envs = "".join(f'[envs.e{n}]\ninherits = ["e{n + 1}"]\n' for n in range(1500)) + "[envs.e1500]\n"
    plan_fails(write_config(tmp_path / "project", envs).parent, "inherits", "envs.e")


def test_toml_nested_5000_deep_is_a_clean_error(tmp_path: Path):
    project = tmp_path / "project"
    write_config(project, "[envs.dev]\ndependencies = " + "[" * 5000 + "]" * 5000 + "\n")
    plan_fails(project, "envs.toml", "nested")


def test_toml_tables_nested_5000_deep_is_a_clean_error(tmp_path: Path):
    project = tmp_path / "project"
    write_config(project, "[envs.dev]\nx = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")
    plan_fails(project, "envs.toml", "nested")


def test_a_fifo_put_in_place_of_a_cached_configs_requirements_file_is_refused(tmp_path: Path):
    """The config cache re-reads each requirements file to know it is unchanged: not a FIFO."""
    project = tmp_path / "project"
    write_config(project, '[envs.dev]\nrequirements = ["requirements.txt"]\n')
    (project / "requirements.txt").write_text("# nothing yet\n")
    first = run_envsync("plan", cwd=project)
    assert first.returncode == 0, first.stderr
    (project / "requirements.txt").unlink()
    os.mkfifo(project / "requirements.txt")
    plan_fails(project, "requirements.txt", "not a regular file")
