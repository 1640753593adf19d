"""The no-op fast path: right answers first (any drift is still seen), then nothing heavy imported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


@pytest.fixture
def synced(tmp_path: Path, index: LocalIndex) -> Path:
    """A project whose two envs were just applied, so the next plan may use the stamp."""
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("tool", "1.0"))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n'
                          '[envs.a]\ndependencies = ["lib==1.0"]\n[envs.b]\ndependencies = ["tool"]\n')
    assert run_envsync("apply", cwd=project).returncode == 0
    return project


def plan(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_envsync("plan", "--detailed-exitcode", *args, cwd=project)


def heavy_imports(project: Path, *args: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "envsync", *args], cwd=project,
                            env=env, capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    # dataclasses too: its import (9 ms) and the compiled methods' cache (dataclass_code.py) are for real work
    return imported & {"pydantic", "httpx", "resolvelib", "packaging", "tomllib", "dataclasses"}


def test_no_op_imports_nothing_heavy(synced: Path):
    assert plan(synced).returncode == 0
    assert heavy_imports(synced, "plan") == set()
    assert heavy_imports(synced, "apply") == set()
    assert heavy_imports(synced, "plan", "--json") == set()


def test_stamped_output_equals_the_full_output(synced: Path):
    for args in ((), ("--json",), ("a",)):
        fast = run_envsync("plan", *args, cwd=synced)
        full = run_envsync("plan", "--refresh", *args, cwd=synced)
        assert fast.returncode == full.returncode == 0
        assert fast.stdout == full.stdout


def test_package_removed_by_hand_is_seen(synced: Path):
    site = next((synced / ".envs" / "a").glob("lib/python*/site-packages"))
    shutil.rmtree(next(site.glob("lib-1.0.dist-info")))
    result = plan(synced)
    assert result.returncode == 2 and "+ install  lib 1.0" in result.stdout


def test_package_added_by_another_tool_is_seen(synced: Path, tmp_path: Path):
    from wheelfactory import make_wheel

    stray = make_wheel(tmp_path / "stray", WheelSpec("stray", "1.0"))
    python = synced / ".envs" / "b" / "bin" / "python"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "pip", "--python", str(python),
                    "install", "-q", "--no-index", str(stray)], check=True, capture_output=True)
    result = plan(synced)
    assert result.returncode == 2 and "- remove   stray 1.0" in result.stdout
    assert run_envsync("apply", cwd=synced).returncode == 0
    assert installed(synced / ".envs" / "b") == {"tool": "1.0"}


def test_config_edit_is_seen(synced: Path):
    text = (synced / "envs.toml").read_text().replace("lib==1.0", "lib==2.0")
    (synced / "envs.toml").write_text(text)
    result = plan(synced)
    assert result.returncode == 2 and "~ upgrade  lib 1.0 -> 2.0" in result.stdout


def test_lock_edit_is_seen(synced: Path):
    lock = synced / "pylock.b.toml"
    lock.write_text(lock.read_text() + "\n")  # same content semantically, but the file changed
    assert plan(synced).returncode == 0
    assert heavy_imports(synced, "plan") == set()  # the full run re-stamped it


def test_new_folder_under_root_is_looked_at(synced: Path):
    shutil.copytree(synced / ".envs" / "a", synced / ".envs" / "gone", symlinks=True)
    result = plan(synced)
    assert result.returncode == 2 and "remove environment" in result.stdout


def test_broken_interpreter_link_is_seen(synced: Path):
    (synced / ".envs" / "a" / "bin" / "python").unlink()
    result = plan(synced)
    assert result.returncode == 2 and "recreate environment" in result.stdout


def test_rebuilding_a_deleted_env_from_fresh_locks_needs_no_resolver_client_or_pydantic(synced: Path):
    shutil.rmtree(synced / ".envs" / "a")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "envsync", "apply"], cwd=synced,
                            env=env, capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"pydantic", "httpx", "resolvelib"}
    assert installed(synced / ".envs" / "a") == {"lib": "1.0"}


def test_a_change_of_path_or_interpreter_is_not_trusted_to_the_stamp(synced: Path):
    assert heavy_imports(synced, "plan") == set()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "envsync", "plan"], cwd=synced,
                            env=env, capture_output=True, text=True, check=True)
    assert "packaging" in result.stderr, "a different PATH may mean another interpreter: plan in full"


def test_stamp_of_a_long_non_ascii_path(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    deep = tmp_path / ("中" * 80) / ("文" * 80)
    write_config(deep, f'[settings]\nindex-url = "{index.url}"\n[envs.a]\ndependencies = ["lib"]\n')
    assert run_envsync("apply", cwd=deep).returncode == 0
    assert plan(deep).returncode == 0
    assert heavy_imports(deep, "plan") == set()
