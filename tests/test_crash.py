"""Crash safety: SIGKILL a real `apply` at many moments; the next apply reaches exactly the
desired state, and `plan` never calls a half-installed env "in sync".

The kills land at named steps (ENVSYNC_TEST_STOP_AT, see envsync/install/checkpoints.py): the
process kills itself there, so every moment is hit on every run, however busy the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

PACKAGES = 12
FILES_PER_PACKAGE = 300  # over HELP_AT: link helpers place part of each


def bulky(name: str, version: str) -> WheelSpec:
    """A wheel with many files, so installing it takes long enough to be interrupted."""
    module = name.replace("-", "_")
    files = {f"{module}/sub{i // 20}/m{i}.py": f"VALUE = {i}\n" for i in range(FILES_PER_PACKAGE)}
    files[f"{module}/__init__.py"] = f"__version__ = {version!r}\n"
    return WheelSpec(name, version, files=files, console_scripts={f"{name}-cli": f"{module}:__init__"})


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    for n in range(PACKAGES):
        index.add(bulky(f"pkg{n}", "1.0"))
        index.add(bulky(f"pkg{n}", "2.0"))
    folder = tmp_path / "project"
    deps = ", ".join(f'"pkg{n}==1.0"' for n in range(PACKAGES))
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = [{deps}]\n')
    return folder


def kill_at(project: Path, step: str) -> None:
    """Run `apply` until it reaches `step` (<name>[:<count>]), where it SIGKILLs itself."""
    result = run_envsync("apply", cwd=project, env={"ENVSYNC_TEST_STOP_AT": step})
    assert result.returncode == -9, f"apply did not reach {step}: {result.stdout}{result.stderr}"


def assert_healed(project: Path, expected: dict[str, str], *apply_args: str) -> None:
    """The next apply completes, the env is exactly as desired, and planning again finds nothing."""
    result = run_envsync("apply", *apply_args, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed(project / ".envs" / "dev") == expected
    plan = run_envsync("plan", "--json", "--refresh", cwd=project)
    assert json.loads(plan.stdout)["envs"][0]["actions"] == []
    for n in range(PACKAGES):
        script = project / ".envs" / "dev" / "bin" / f"pkg{n}-cli"
        assert script.is_file()


def partial_state(project: Path) -> str:
    """What the kill left, as `plan --refresh` sees it."""
    env = project / ".envs" / "dev"
    if not env.exists():
        return "no env"
    plan = run_envsync("plan", "--json", "--refresh", cwd=project)
    # The lock is written after the envs: a kill after the last package leaves only it to do.
    status = json.loads(plan.stdout)["envs"][0]["status"]
    return "in sync" if status in ("in-sync", "lock-stale") else "partial"


# (step, what the kill leaves): from mid-download to the last package
FIRST_APPLY = [("downloading:1", "no env"), ("downloaded:3", "no env"), ("fetched", "no env"),
               ("env-created", "partial"), ("installed:1", "partial"), ("installed:6", "partial"),
               (f"installed:{PACKAGES - 1}", "partial"), (f"installed:{PACKAGES}", "in sync")]


def test_kill_during_first_apply_at_many_moments(project: Path):
    expected = {f"pkg{n}": "1.0" for n in range(PACKAGES)}
    for step, left in FIRST_APPLY:
        if step.startswith("download"):  # a cold cache, so that there is something to download
            shutil.rmtree(os.environ["ENVSYNC_CACHE_DIR"])
        kill_at(project, step)
        assert partial_state(project) == left, step
        assert_healed(project, expected)
        # Start over from nothing for the next kill point (the cache stays warm, as in life).
        subprocess.run(["rm", "-rf", str(project / ".envs"), str(project / "pylock.dev.toml")], check=True)


def test_kill_during_upgrade_and_uninstall(project: Path):
    old = (project / "envs.toml").read_text()
    new = old.replace("==1.0", "==2.0")
    for step in ("fetched", "action:1", "action:5", f"action:{PACKAGES - 1}"):
        (project / "envs.toml").write_text(old)
        assert run_envsync("apply", cwd=project).returncode == 0
        (project / "envs.toml").write_text(new)
        kill_at(project, step)
        assert partial_state(project) == "partial", step
        assert_healed(project, {f"pkg{n}": "2.0" for n in range(PACKAGES)})


def test_half_installed_package_is_never_in_sync(project: Path):
    assert run_envsync("apply", cwd=project).returncode == 0
    site = next((project / ".envs" / "dev").glob("lib/python*/site-packages"))
    (next(site.glob("pkg3-1.0.dist-info")) / "INSTALLER").unlink()  # as a killed install leaves it
    # A hand-made change inside a package folder escapes the no-op stamp: --refresh looks at everything.
    plan = run_envsync("plan", "--detailed-exitcode", "--refresh", cwd=project)
    assert plan.returncode == 2 and "reinstall pkg3 1.0 (installation is incomplete)" in plan.stdout
    assert_healed(project, {f"pkg{n}": "1.0" for n in range(PACKAGES)}, "--refresh")
