"""`envsync doctor` on each broken state (plain words and the fixing command, exit 1), on a healthy
config (exit 0, notes only), and `envsync cache prune`."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


def configure(folder: Path, url: str, envs: str) -> None:
    write_config(folder, f'[settings]\nindex-url = "{url}"\n' + envs)


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "0.5"))
    folder = tmp_path / "project"
    configure(folder, index.url, '[envs.dev]\ndependencies = ["lib"]\n')
    assert run_envsync("apply", cwd=folder).returncode == 0
    return folder


def doctor(folder: Path, code: int, env: dict[str, str] | None = None) -> str:
    result = run_envsync("doctor", cwd=folder, env=env)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_a_healthy_config_has_notes_only(project: Path):
    said = doctor(project, 0)
    assert "No problems: every env of envs.toml is healthy." in said
    assert re.search(r"^note: cache: \d+\.\d MB in ", said, re.MULTILINE)
    assert "problem:" not in said


def test_an_env_changed_by_hand(project: Path):
    site = next((project / ".envs" / "dev").glob("lib/python*/site-packages"))
    for path in (site / "lib", next(site.glob("lib-1.0.dist-info"))):  # as `pip uninstall lib` leaves it
        shutil.rmtree(path)
    said = doctor(project, 1)
    assert "problem: env dev (.envs/dev): differs from its lock, changed by hand or by another tool (+lib 1.0)" in said
    assert "  fix: envsync apply dev" in said
    assert run_envsync("apply", "dev", cwd=project).returncode == 0
    doctor(project, 0)


def test_a_stale_and_a_missing_lock(project: Path, index: LocalIndex):
    configure(project, index.url, '[envs.dev]\ndependencies = ["lib", "tool"]\n')
    said = doctor(project, 1)
    assert "problem: env dev (.envs/dev): pylock.dev.toml" in said and "  fix: envsync lock dev" in said
    (project / "pylock.dev.toml").unlink()
    assert "pylock.dev.toml does not exist" in doctor(project, 1)


def test_orphaned_envs_and_locks(project: Path, index: LocalIndex):
    configure(project, index.url, '[envs.dev]\ndependencies = ["lib"]\n[envs.old]\ndependencies = ["lib"]\n')
    assert run_envsync("apply", cwd=project).returncode == 0
    configure(project, index.url, '[envs.dev]\ndependencies = ["lib"]\n')
    said = doctor(project, 1)
    assert "problem: env old (.envs/old): made for this config, no longer declared" in said
    assert "problem: pylock.old.toml: the lock of an env no longer declared" in said
    assert said.count("  fix: envsync apply   (removes it)") == 2
    assert run_envsync("apply", cwd=project).returncode == 0
    doctor(project, 0)


def test_a_missing_python_of_a_matrix(project: Path, index: LocalIndex):
    configure(project, index.url, '[envs.dev]\ndependencies = ["lib"]\n'
                                  '[envs.test]\ndependencies = ["lib"]\nmatrix = { python = ["3.99"] }\n')
    said = doctor(project, 1)
    assert "problem: env test-py399 (.envs/test-py399) (matrix of env test): no Python 3.99 on this machine" in said
    assert "  fix: install it, e.g. `pyenv install 3.99`" in said


def test_an_unreachable_index(project: Path):
    text = (project / "envs.toml").read_text()
    url = re.search(r'index-url = "([^"]+)"', text)[1]  # type: ignore[index]
    (project / "envs.toml").write_text(text.replace(url, LocalIndex.unreachable_url()))
    said = doctor(project, 1)
    assert re.search(r"^problem: index http://127\.0\.0\.1:\d+/simple does not answer \(", said, re.MULTILINE)


def test_a_lock_another_tool_wrote_is_a_note(project: Path):
    lock = project / "pylock.dev.toml"
    text = lock.read_text()
    # What another tool writes: the same standard lock without envsync's own [tool.envsync] tables.
    kept, skipping = [], False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = "tool.envsync" in line
        if not skipping:
            kept.append(line)
    stripped = "\n".join(kept) + "\n"
    assert "tool.envsync" not in stripped
    lock.write_text(stripped)
    said = doctor(project, 0)
    assert "note: pylock.dev.toml was written by another tool; envsync reads it as it is" in said


def test_an_env_whose_base_interpreter_was_removed(project: Path, index: LocalIndex, tmp_path: Path):
    """pyenv uninstalled the Python an env was made from: bin/python points nowhere."""
    real = Path.home() / ".pyenv" / "versions"
    versions = sorted(real.glob("3.9.*")) if real.is_dir() else []
    if not versions:
        pytest.skip("needs a pyenv CPython 3.9 to copy")
    fake_root = tmp_path / "pyenv"
    shutil.copytree(versions[-1], fake_root / "versions" / versions[-1].name, symlinks=True)
    configure(project, index.url, '[envs.dev]\ndependencies = ["lib"]\npython = "3.9"\n')
    # Made from the copy: a pyenv root of its own, seen first.
    made = run_envsync("apply", cwd=project, env={"PYENV_ROOT": str(fake_root), "PATH": os.defpath})
    assert made.returncode == 0, made.stderr
    home = (project / ".envs" / "dev" / "pyvenv.cfg").read_text()
    assert str(fake_root) in home
    shutil.rmtree(fake_root)  # `pyenv uninstall`
    said = doctor(project, 1)
    assert "problem: env dev (.envs/dev): its interpreter is gone" in said
    assert "the Python it was made from was uninstalled or moved" in said
    assert "  fix: envsync apply dev   (recreates it with a Python that is there)" in said
    fixed = run_envsync("apply", "dev", cwd=project)
    assert fixed.returncode == 0, fixed.stderr
    doctor(project, 0)


def test_cache_prune_keeps_what_locks_and_envs_use(project: Path, index: LocalIndex):
    cache = Path(os.environ["ENVSYNC_CACHE_DIR"])
    other = project.parent / "other"
    configure(other, index.url, '[envs.tools]\ndependencies = ["tool"]\n')
    assert run_envsync("apply", cwd=other).returncode == 0
    entries = {path.name for path in (cache / "unpacked").iterdir() if path.is_dir()}
    assert len(entries) == 2  # lib (this config) and tool (the other one)

    # Nothing unused yet: another config's wheel is kept too.
    said = run_envsync("cache", "prune", cwd=project)
    assert said.returncode == 0 and "removed 0 unused package files" in said.stdout, said.stdout + said.stderr
    assert "of 2 configs" in said.stdout

    shutil.rmtree(other)  # that project is gone: its wheel is used by nothing now
    for name in entries:  # an earlier envsync's markers (<sha256>.json) go with their wheels too
        (cache / "unpacked" / f"{name}.json").write_text("{}")
    said = run_envsync("cache", "prune", cwd=project)
    assert said.returncode == 0
    assert re.search(r"removed [1-9]\d* unused package files? from the cache, freeing \d+\.\d MB", said.stdout)
    left = {path.name for path in (cache / "unpacked").iterdir() if path.is_dir()}
    assert len(left) == 1 and left < entries
    for suffix in (".marker", ".json"):
        assert {path.name.removesuffix(suffix) for path in (cache / "unpacked").glob(f"*{suffix}")} == left
    assert run_envsync("apply", cwd=project).stdout.startswith("No changes")
    assert run_envsync("apply", "--refresh", cwd=project).returncode == 0
