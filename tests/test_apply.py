"""The core loop end to end: envs.toml -> plan -> apply, with real venvs and a real local index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, installed, make_venv, python_path, run_envsync, venv_python, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec, make_wheel

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def publish_basics(index: LocalIndex) -> None:
    """A small world: app needs lib; lib has two versions; tool has a console script."""
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib>=1.0"]))
    index.add(WheelSpec("tool", "0.5", console_scripts={"tool": "tool:main"}))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The folder holding envs.toml (the index fixture lives beside it in tmp_path)."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def config(project: Path, index_url: str, envs: str, settings: str = "") -> Path:
    return write_config(project, f'[settings]\nindex-url = "{index_url}"\n{settings}\n{envs}')


def envsync(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_envsync(*args, cwd=project)


def test_plan_shows_everything_and_changes_nothing(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url, '[envs.dev]\ndependencies = ["app"]\n')
    result = envsync(project, "plan")
    assert result.returncode == 0, result.stderr
    assert "env dev (.envs/dev, Python " in result.stdout
    assert "+ create environment" in result.stdout
    assert "+ install  app 1.0" in result.stdout and "+ install  lib 2.0" in result.stdout
    assert "Plan: 2 to install, 0 to change, 0 to remove, 1 env to create, 1 lock file to write." in result.stdout
    assert sorted(p.name for p in project.iterdir()) == ["envs.toml"]


def test_plan_json_and_detailed_exitcode(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url, '[envs.dev]\ndependencies = ["App"]\n')
    result = envsync(project, "plan", "--json", "--detailed-exitcode")
    assert result.returncode == 2, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == 1 and document["config"] == "envs.toml"
    (env,) = document["envs"]
    assert env["name"] == "dev" and env["path"] == ".envs/dev" and env["python"].startswith(PY)
    assert env["actions"] == [
        {"action": "create-env"},
        {"action": "install", "package": "app", "version": "1.0"},
        {"action": "install", "package": "lib", "version": "2.0"},
        {"action": "write-lock", "path": "pylock.dev.toml"},
    ]
    assert env["status"] == "changes-pending" and document["changes_pending"] is True
    assert document["summary"] == {"install": 2, "upgrade": 0, "downgrade": 0, "reinstall": 0, "remove": 0,
                                   "create-env": 1, "recreate-env": 0, "remove-env": 0, "write-lock": 1,
                                   "install-python": 0}
    assert envsync(project, "apply").returncode == 0
    again = envsync(project, "plan", "--json", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout
    document = json.loads(again.stdout)
    assert document["envs"][0]["actions"] == [] and document["envs"][0]["status"] == "in-sync"
    assert document["changes_pending"] is False


def test_a_lock_to_write_is_a_planned_change(project: Path, index: LocalIndex):
    """An env in sync whose lock is missing: the plan says the lock will be written (text and JSON),
    --detailed-exitcode counts it as pending, and apply writes it and nothing else."""
    publish_basics(index)
    config(project, index.url, '[envs.dev]\ndependencies = ["app"]\n')
    assert envsync(project, "apply").returncode == 0
    (project / "pylock.dev.toml").unlink()
    text = envsync(project, "plan", "--detailed-exitcode")
    assert text.returncode == 2, text.stderr
    assert "lock: pylock.dev.toml will be written" in text.stdout
    assert "Plan: 1 lock file to write; every environment is in sync." in text.stdout
    document = json.loads(envsync(project, "plan", "--json").stdout)
    (env,) = document["envs"]
    assert env["status"] == "lock-stale" and env["actions"] == [{"action": "write-lock", "path": "pylock.dev.toml"}]
    assert not (project / "pylock.dev.toml").exists()  # plan changes nothing
    applied = envsync(project, "apply")
    assert applied.returncode == 0 and "wrote pylock.dev.toml" in applied.stdout
    assert (project / "pylock.dev.toml").is_file()
    assert "No changes" in envsync(project, "plan").stdout


def test_apply_builds_the_env_and_a_second_apply_changes_nothing(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url, '[envs.dev]\ndependencies = ["app", "tool"]\n')
    first = envsync(project, "apply")
    assert first.returncode == 0, first.stderr
    env = project / ".envs" / "dev"
    assert installed(env) == {"app": "1.0", "lib": "2.0", "tool": "0.5"}
    script = subprocess.run([str(env / "bin" / "tool")], capture_output=True, text=True, check=True)
    assert script.stdout.strip() == "tool 0.5"
    assert (project / "pylock.dev.toml").is_file()
    second = envsync(project, "apply")
    assert second.returncode == 0 and "No changes" in second.stdout
    listing = envsync(project, "list")
    assert "dev" in listing.stdout and "in sync" in listing.stdout


def test_upgrade_downgrade_and_remove(project: Path, index: LocalIndex):
    publish_basics(index)
    index.add(WheelSpec("extra", "1.0"))
    config(project, index.url, '[envs.dev]\ndependencies = ["lib==1.0", "tool", "extra"]\n')
    assert envsync(project, "apply").returncode == 0
    config(project, index.url, '[envs.dev]\ndependencies = ["lib==2.0", "tool==0.5"]\n')
    plan = envsync(project, "plan")
    assert "~ upgrade  lib 1.0 -> 2.0" in plan.stdout and "- remove   extra 1.0" in plan.stdout
    assert envsync(project, "apply").returncode == 0
    assert installed(project / ".envs" / "dev") == {"lib": "2.0", "tool": "0.5"}
    config(project, index.url, '[envs.dev]\ndependencies = ["lib<2", "tool"]\n')
    assert "~ downgrade lib 2.0 -> 1.0" in envsync(project, "plan").stdout
    assert envsync(project, "apply").returncode == 0
    assert installed(project / ".envs" / "dev") == {"lib": "1.0", "tool": "0.5"}


def test_packages_another_tool_installed_are_removed(project: Path, index: LocalIndex):
    publish_basics(index)
    stray = make_wheel(project / "stray", WheelSpec("stray", "3.0"))
    env = make_venv(project / ".envs" / "dev")
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "pip", "--python", str(venv_python(env)), "install", "-q",
                    "--no-index", str(stray)], check=True, capture_output=True)
    assert installed(env) == {"stray": "3.0"}
    config(project, index.url, '[envs.dev]\ndependencies = ["lib"]\n')
    assert "- remove   stray 3.0" in envsync(project, "plan").stdout
    assert envsync(project, "apply").returncode == 0
    assert installed(env) == {"lib": "2.0"}
    assert not list((env / "lib").glob("python*/site-packages/stray*"))


def test_apply_one_env_touches_only_that_env(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url, '[envs.a]\ndependencies = ["lib"]\n[envs.b]\ndependencies = ["tool"]\n')
    assert envsync(project, "apply", "b").returncode == 0
    assert not (project / ".envs" / "a").exists()
    assert installed(project / ".envs" / "b") == {"tool": "0.5"}


def test_inherits_and_custom_path(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url,
           '[envs.base]\ndependencies = ["lib==1.0"]\n[envs.dev]\ninherits = ["base"]\npath = ".venv"\n'
           'dependencies = ["tool"]\n')
    assert envsync(project, "apply").returncode == 0
    assert installed(project / ".venv") == {"lib": "1.0", "tool": "0.5"}
    assert installed(project / ".envs" / "base") == {"lib": "1.0"}


def test_interpreter_change_recreates_the_env(project: Path, index: LocalIndex):
    older, newer = python_path("3.10"), python_path("3.12")
    if not (older and newer):
        pytest.skip("needs CPython 3.10 and 3.12 under ~/.pyenv/versions")
    publish_basics(index)
    config(project, index.url, '[envs.dev]\npython = "3.10"\ndependencies = ["lib"]\n')
    assert envsync(project, "apply").returncode == 0
    env = project / ".envs" / "dev"
    version = subprocess.run([str(venv_python(env)), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip() == "(3, 10)"
    config(project, index.url, '[envs.dev]\npython = "3.12"\ndependencies = ["lib"]\n')
    plan = envsync(project, "plan")
    assert "± recreate environment (Python 3.10." in plan.stdout
    assert envsync(project, "apply").returncode == 0
    version = subprocess.run([str(venv_python(env)), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip() == "(3, 12)" and installed(env) == {"lib": "2.0"}


def test_undeclared_envsync_env_is_removed(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url, '[envs.a]\ndependencies = ["lib"]\n[envs.old]\ndependencies = ["lib"]\n')
    assert envsync(project, "apply").returncode == 0
    config(project, index.url, '[envs.a]\ndependencies = ["lib"]\n')
    plan = envsync(project, "plan", "--json")
    removal = [e for e in json.loads(plan.stdout)["envs"] if e["name"] == "old"]
    assert removal and removal[0]["actions"][0]["action"] == "remove-env"
    assert envsync(project, "apply").returncode == 0
    assert not (project / ".envs" / "old").exists() and (project / ".envs" / "a").exists()


def test_adopted_venv_is_kept_and_a_folder_that_is_not_a_venv_is_never_touched(project: Path, index: LocalIndex):
    publish_basics(index)
    make_venv(project / "adopted")
    user = project / "notes"
    user.mkdir()
    (user / "diary.txt").write_text("mine")
    config(project, index.url, '[envs.a]\npath = "adopted"\ndependencies = ["lib"]\n'
                                '[envs.b]\npath = "notes"\ndependencies = ["lib"]\n')
    plan = envsync(project, "plan")
    assert plan.returncode == 1 and "notes exists but is not a virtual environment" in plan.stderr
    result = envsync(project, "apply")
    assert result.returncode == 1 and "nothing was changed" in result.stderr
    assert sorted(p.name for p in user.iterdir()) == ["diary.txt"]
    assert installed(project / "adopted") == {}
    assert envsync(project, "apply", "a").returncode == 0
    assert installed(project / "adopted") == {"lib": "2.0"}


def test_progress_is_live_on_a_terminal_and_plain_when_piped(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url, '[envs.dev]\ndependencies = ["app", "tool"]\n')
    piped = envsync(project, "apply")
    assert piped.returncode == 0
    assert "\x1b" not in piped.stdout + piped.stderr and "\r" not in piped.stdout + piped.stderr
    script = shutil.which("script")
    if script is None:
        pytest.skip("util-linux `script` is needed to run envsync on a pseudo-terminal")
    shutil.rmtree(project / ".envs")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("NO_COLOR", None)
    on_tty = subprocess.run([script, "-qec", f"{sys.executable} -m envsync apply", "/dev/null"], cwd=project,
                            env=env, capture_output=True, text=True, timeout=120)
    assert on_tty.returncode == 0, on_tty.stdout
    assert "\x1b[Kfetched 3/3 wheels" in on_tty.stdout  # rewritten in place (\r, read as a newline here)
    assert "dev: + install  tool 0.5" in on_tty.stdout


def test_projects_sharing_a_root_never_remove_each_others_envs(tmp_path: Path, index: LocalIndex):
    publish_basics(index)
    shared = tmp_path / "shared-root"
    for name in ("one", "two"):
        write_config(tmp_path / name, f'[settings]\nroot = "{shared}"\nindex-url = "{index.url}"\n'
                                      f'[envs.{name}]\ndependencies = ["lib"]\n')
        assert envsync(tmp_path / name, "apply").returncode == 0
    for name in ("one", "two"):
        plan = json.loads(envsync(tmp_path / name, "plan", "--json", "--refresh").stdout)
        assert [env["name"] for env in plan["envs"]] == [name]
    assert sorted(p.name for p in shared.iterdir() if not p.name.startswith(".")) == ["one", "two"]


def test_a_refused_upgrade_keeps_the_old_version_importable(project: Path, index: LocalIndex):
    publish_basics(index)
    config(project, index.url, '[envs.dev]\ndependencies = ["lib==1.0", "tool"]\n')
    assert envsync(project, "apply").returncode == 0
    # lib 3.0 also claims tool's module: it must be refused, and lib 1.0 must stay.
    index.add(WheelSpec("lib", "3.0", files={"lib/__init__.py": "__version__ = '3.0'\n",
                                             "tool/__init__.py": "def main():\n    print('hijacked')\n"}))
    config(project, index.url, '[envs.dev]\ndependencies = ["lib==3.0", "tool"]\n')
    result = envsync(project, "apply")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "lib 3.0: refusing to overwrite existing files" in result.stderr and "(installed by tool 0.5)" in result.stderr
    env = project / ".envs" / "dev"
    assert installed(env) == {"lib": "1.0", "tool": "0.5"}
    check = subprocess.run([str(venv_python(env)), "-I", "-c", "import lib, tool; print(lib.__version__); tool.main()"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.split() == ["1.0", "tool", "0.5"]
    plan = envsync(project, "plan")
    assert "~ upgrade  lib 1.0 -> 3.0" in plan.stdout


def test_moving_the_root_or_dropping_a_custom_path_removes_the_old_envs(project: Path, index: LocalIndex):
    """Envs this config made stay known when they leave its sight: after `settings.root` moves,
    or an env with its own `path` is dropped, plan lists the old ones as remove-env and apply
    deletes them; a venv another tool made at the old root is left alone."""
    publish_basics(index)
    config(project, index.url, '[envs.dev]\ndependencies = ["lib"]\n[envs.tools]\npath = "tools-env"\n'
                               'dependencies = ["tool"]\n')
    assert envsync(project, "apply").returncode == 0
    make_venv(project / ".envs" / "by-hand")
    config(project, index.url, '[envs.dev]\ndependencies = ["lib"]\n', settings='root = ".venvs"')
    plan = envsync(project, "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    removed = {env["path"]: env for env in json.loads(plan.stdout)["envs"] if env["status"] == "remove"}
    assert sorted(removed) == [".envs/dev", "tools-env"]
    applied = envsync(project, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert not (project / ".envs" / "dev").exists() and not (project / "tools-env").exists()
    assert (project / ".envs" / "by-hand" / "pyvenv.cfg").is_file()
    assert installed(project / ".venvs" / "dev") == {"lib": "2.0"}
    assert "No changes" in envsync(project, "plan").stdout
