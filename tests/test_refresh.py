"""`--refresh` looks at every installed file: damage done by hand is planned as a reinstall, with
its reason, and `apply --refresh` repairs it. Real venvs, a real local index, the real CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import installed, run_envsync, venv_python, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.model import ActionKind, Actual, EnvKind, Installed
from envsync.state.planner import damage_reason, plan_env

KIT = WheelSpec("kit", "1.0", files={
    "kit/__init__.py": "def main():\n    from kit import sessions\n    print(sessions.NAME)\n",
    "kit/sessions.py": "NAME = 'kit sessions'\n",
    "kit/adapters/__init__.py": "",
    "kit/adapters/http.py": "PORT = 80\n",
}, console_scripts={"kit": "kit:main"})


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(KIT)
    index.add(WheelSpec("other", "2.0"))
    folder = tmp_path / "project"
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["kit", "other"]\n')
    assert run_envsync("apply", cwd=folder).returncode == 0
    return folder


def env_of(project: Path) -> Path:
    return project / ".envs" / "dev"


def site_of(project: Path) -> Path:
    (site,) = env_of(project).glob("lib/python*/site-packages")
    return site


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "a module file": (lambda project: (site_of(project) / "kit" / "sessions.py").unlink(),
                      "files missing: kit/sessions.py"),
    "a package folder": (lambda project: shutil.rmtree(site_of(project) / "kit"),
                         "files missing: kit/__init__.py, kit/sessions.py, kit/adapters/__init__.py and 1 more"),
    "a console script": (lambda project: (env_of(project) / "bin" / "kit").unlink(), "files missing: bin/kit"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=DAMAGE)
def test_refresh_plans_a_damaged_package_as_a_reinstall_and_apply_repairs_it(project: Path, damage: str):
    harm, reason = DAMAGE[damage]
    harm(project)

    plan = run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=project)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"reinstall kit 1.0 ({reason})" in plan.stdout
    assert "other" not in plan.stdout
    document = json.loads(run_envsync("plan", "--refresh", "--json", cwd=project).stdout)
    assert document["envs"][0]["actions"] == [{"action": "reinstall", "package": "kit", "version": "1.0",
                                               "reason": reason}]
    listing = run_envsync("list", "--refresh", cwd=project)
    assert f"drifted; reinstall kit ({reason})" in listing.stdout

    applied = run_envsync("apply", "--refresh", cwd=project)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "reinstall kit 1.0" in applied.stdout
    assert installed(env_of(project)) == {"kit": "1.0", "other": "2.0"}
    ran = subprocess.run([str(env_of(project) / "bin" / "kit")], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "kit sessions"
    check = subprocess.run([str(venv_python(env_of(project))), "-I", "-c", "import kit.adapters.http as h; print(h.PORT)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.strip() == "80"
    again = json.loads(run_envsync("plan", "--refresh", "--json", cwd=project).stdout)
    assert again["envs"][0]["actions"] == []


def test_a_changed_file_is_seen_by_size_and_with_the_hash_option_by_content(project: Path):
    module = site_of(project) / "kit" / "adapters" / "http.py"
    module.unlink()  # it is a hard link into the cache: write a new file, never through the link
    module.write_text("PORT = 81\n")  # same size
    same_size = run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=project)
    assert same_size.returncode == 0, same_size.stdout
    hashed = run_envsync("plan", "--refresh", cwd=project, env={"ENVSYNC_VERIFY_HASHES": "1"})
    assert "reinstall kit 1.0 (files changed: kit/adapters/http.py)" in hashed.stdout
    module.unlink()
    module.write_text("PORT = 8080\n")  # another size
    resized = run_envsync("plan", "--refresh", cwd=project)
    assert "reinstall kit 1.0 (files changed: kit/adapters/http.py)" in resized.stdout
    assert run_envsync("apply", "--refresh", cwd=project).returncode == 0
    assert module.read_text() == "PORT = 80\n"


def test_without_refresh_files_are_not_read(project: Path):
    """The everyday plan stays cheap: only dist-info folders are read (damage needs --refresh)."""
    (site_of(project) / "kit" / "sessions.py").unlink()
    (project / "envs.toml").touch()  # past the no-op stamp, into a full plan
    plan = run_envsync("plan", "--json", cwd=project)
    assert json.loads(plan.stdout)["envs"][0]["actions"] == []


def test_the_planner_names_a_few_damaged_files_and_counts_the_rest():
    assert damage_reason(("a.py",), ()) == "files missing: a.py"
    assert damage_reason(tuple(f"m{i}.py" for i in range(5)), ("b.py",)) == (
        "files missing: m0.py, m1.py, m2.py and 2 more; files changed: b.py")


def test_the_planner_reinstalls_what_the_survey_found_damaged(tmp_path: Path):
    from packaging.version import Version
    from test_planner import PATH, desired  # the planner tests' own builder

    damaged = Installed("kit", Version("1.0"), tmp_path / "kit-1.0.dist-info", missing_files=("bin/kit",))
    actual = Actual(path=PATH, kind=EnvKind.VENV, python_version=Version("3.12.4"), installed={"kit": damaged},
                    verified=True)
    plan = plan_env(desired({"kit": "1.0"}), actual)
    assert [(a.kind, a.package, a.reason) for a in plan.actions] == [
        (ActionKind.REINSTALL, "kit", "files missing: bin/kit")]
    assert plan.verified  # so apply, re-planning under the env's lock, verifies as well
