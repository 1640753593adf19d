"""The local project and direct references as source kinds: the lock's `directory` entry carries
no version (PEP 751), `apply --frozen` installs such an entry as uv writes it, and `export` writes
the project as `-e <path>` and a direct reference as `name @ URL` with its hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from helpers import installed, run_envsync
from localindex import LocalIndex
from test_project import SETUPTOOLS, make_project, publish, write_envs
from wheelfactory import WheelSpec, make_wheel

UV = Path(sys.executable).with_name("uv")


def ok(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_envsync(*args, cwd=folder, timeout=600)
    assert result.returncode == 0, (args, result.stderr)
    return result


def project_with_gamma(tmp_path: Path, build_index: LocalIndex) -> tuple[Path, Path]:
    """An editable project, and a direct reference to a wheel file beside it."""
    publish(build_index)
    folder = make_project(tmp_path / "app", SETUPTOOLS)
    (tmp_path / "wheels").mkdir()
    gamma = make_wheel(tmp_path / "wheels", WheelSpec("gamma", "1.0"))
    write_envs(folder, build_index, f'[envs.dev]\nproject = "."\ndependencies = ["gamma @ {gamma.as_uri()}"]\n')
    return folder, gamma


def test_the_lock_holds_the_project_as_a_directory_without_version(tmp_path: Path, build_index: LocalIndex):
    folder, _ = project_with_gamma(tmp_path, build_index)
    ok(folder, "lock")
    document = tomllib.loads((folder / "pylock.dev.toml").read_text())
    (project,) = [p for p in document["packages"] if p["name"] == "myapp"]
    assert "version" not in project and project["directory"] == {"path": ".", "editable": True}
    (gamma,) = [p for p in document["packages"] if p["name"] == "gamma"]
    assert gamma["version"] == "1.0" and gamma["archive"]["hashes"]["sha256"]
    ok(folder, "apply", "--frozen")  # read back: the version comes from the folder
    assert installed(folder / ".envs" / "dev") == {"myapp": "0.1.0", "lib": "1.0", "gamma": "1.0"}
    assert "in sync" in ok(folder, "plan", "--locked").stdout


def test_frozen_installs_the_directory_entry_uv_writes(tmp_path: Path, build_index: LocalIndex):
    publish(build_index)
    folder = make_project(tmp_path / "app", SETUPTOOLS)
    write_envs(folder, build_index, '[envs.dev]\nproject = "."\n')
    ok(folder, "lock")
    lock = folder / "pylock.dev.toml"
    document = tomllib.loads(lock.read_text())
    # As uv writes it: no [tool.envsync], the project a `directory` with no version.
    del document["tool"]
    for package in document["packages"]:
        package.pop("tool", None)
        if "directory" in package:
            package.pop("version", None)
    import tomli_w

    lock.write_text(tomli_w.dumps(document))
    ok(folder, "apply", "--frozen")
    env = folder / ".envs" / "dev"
    assert installed(env) == {"myapp": "0.1.0", "lib": "1.0"}
    (record,) = env.glob("lib/python*/site-packages/myapp-0.1.0.dist-info/direct_url.json")
    assert json.loads(record.read_text()) == {"url": folder.as_uri(), "dir_info": {"editable": True}}


def test_export_writes_the_project_editable_and_the_direct_reference_by_url(tmp_path: Path, build_index: LocalIndex):
    folder, gamma = project_with_gamma(tmp_path, build_index)
    text = ok(folder, "export", "dev").stdout
    lines = text.splitlines()
    assert "-e ." in lines, text
    assert f"gamma @ {gamma.as_uri()} \\" in lines, text
    assert not any(line.startswith(("myapp==", "gamma==")) for line in lines), text
    assert "folder of envs.toml" in text and "--no-emit-project" in text
    hashed = ok(folder, "export", "dev", "--no-emit-project").stdout
    assert "-e ." not in hashed.splitlines() and "gamma @ " in hashed, hashed

    # uv installs the project from the checkout (editable), not a `myapp` from an index
    exported = folder / "requirements.lock.txt"
    exported.write_text(text)
    target = tmp_path / "with-uv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=300)
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    result = subprocess.run([str(UV), "pip", "sync", "--python", str(target / "bin" / "python"), exported.name],
                            cwd=folder, timeout=600, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert installed(target) == {"myapp": "0.1.0", "lib": "1.0", "gamma": "1.0"}
    (record,) = target.glob("lib/python*/site-packages/myapp-0.1.0.dist-info/direct_url.json")
    assert json.loads(record.read_text())["dir_info"] == {"editable": True}


def test_init_from_a_venv_keeps_the_editable_project_and_its_installed_extra(tmp_path: Path,
                                                                             build_index: LocalIndex):
    publish(build_index)
    folder = make_project(tmp_path / "app", SETUPTOOLS)
    venv = folder / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    installing = subprocess.run([str(UV), "pip", "install", "--python", str(venv / "bin" / "python"),
                                 "--index-url", build_index.url, "-e", ".[fast]"],
                                cwd=folder, timeout=600, env=env, capture_output=True, text=True)
    assert installing.returncode == 0, installing.stderr
    assert installed(venv) == {"myapp": "0.1.0", "lib": "1.0", "tool": "0.5"}

    ok(folder, "init", "--from", ".venv")
    text = (folder / "envs.toml").read_text()
    assert 'project = { path = ".", extras = ["fast"] }' in text, text
    overrides = {"ENVSYNC_INDEX_URL": build_index.url}
    plan = run_envsync("plan", "--json", cwd=folder, env=overrides, timeout=600)
    assert plan.returncode == 0, plan.stderr
    (planned,) = json.loads(plan.stdout)["envs"]
    assert not [a for a in planned["actions"] if a["action"] not in ("write-lock",)], planned


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=folder, check=True,
                   capture_output=True, timeout=60)


def test_an_editable_project_versioned_by_git_settles_after_a_commit(tmp_path: Path, index: LocalIndex):
    from gitver_backend import write_project

    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("extra-dep", "2.0"))
    folder = write_project(tmp_path / "gitapp", dependencies=("lib",))
    write_envs(folder, index, '[envs.dev]\nproject = "."\n')
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "one")
    ok(folder, "apply")
    env = folder / ".envs" / "dev"
    assert installed(env) == {"gitapp": "0.1.dev1", "lib": "1.0"}

    git(folder, "commit", "-q", "--allow-empty", "-m", "two")  # the derived version moves to 0.1.dev2
    import shutil  # the backend is asked again (as a metadata cache keyed by the commit would)

    shutil.rmtree(Path(os.environ["ENVSYNC_CACHE_DIR"]) / "project-metadata")
    plan = run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=folder, timeout=600)
    assert plan.returncode == 0, plan.stdout + plan.stderr  # neither stale nor rebuilt
    assert installed(env)["gitapp"] == "0.1.dev1"

    # a new dependency in its build files does reinstall it
    write_project(folder, dependencies=("lib", "extra-dep"))
    plan = ok(folder, "plan")
    assert "extra-dep" in plan.stdout and "gitapp" in plan.stdout and "dependencies changed" in plan.stdout, plan.stdout
    ok(folder, "apply")
    assert installed(env) == {"gitapp": "0.1.dev2", "lib": "1.0", "extra-dep": "2.0"}
    again = run_envsync("plan", "--detailed-exitcode", cwd=folder, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
