"""Several local projects in one env (`projects`, a monorepo): each installed editable, a name one
of them has never looked up on an index, each a PEP 751 `directory` package in the lock, each
reinstalled on its own when its metadata changes. Real venvs; the projects are built by the tiny
in-tree backend (tests/backends.py), so nothing but the local index is asked for anything."""

from __future__ import annotations

import json
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest
from backends import write_tiny_project
from helpers import installed, run_envsync, venv_python
from localindex import LocalIndex
from wheelfactory import WheelSpec


def envsync(folder: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    result = run_envsync(*args, cwd=folder, timeout=600)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def git(folder: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
                             "-c", "init.defaultBranch=main", *args], cwd=folder,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def monorepo(tmp_path: Path, index: LocalIndex) -> Path:
    """packages/core (the project `corelib`, needing lib) and packages/api (needing corelib and lib)."""
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "1.0"))
    folder = tmp_path / "repo"
    write_tiny_project(folder / "packages" / "core", "corelib", version="0.1", dependencies=["lib"])
    write_tiny_project(folder / "packages" / "api", "api", version="0.2", dependencies=["corelib", "lib>=1"])
    return folder


def config(folder: Path, index: LocalIndex, envs: str) -> None:
    (folder / "envs.toml").write_text(f'[settings]\nindex-url = "{index.url}"\n' + textwrap.dedent(envs))


def direct_url(env: Path, name: str) -> dict:
    script = f"import importlib.metadata as m; print(m.distribution({name!r}).read_text('direct_url.json'))"
    out = subprocess.run([str(venv_python(env)), "-I", "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_both_projects_are_installed_editable_and_core_comes_from_its_folder(monorepo: Path, index: LocalIndex):
    config(monorepo, index, '[envs.dev]\nprojects = ["packages/core", "packages/api"]\n')
    envsync(monorepo, "apply")
    env = monorepo / ".envs" / "dev"
    assert installed(env) == {"corelib": "0.1", "api": "0.2", "lib": "1.0"}
    for name, folder in (("corelib", "core"), ("api", "api")):
        assert direct_url(env, name) == {"url": (monorepo / "packages" / folder).as_uri(),
                                         "dir_info": {"editable": True}}
    assert not any("corelib" in request for request in index.requests), "corelib is never asked of the index"

    lock = tomllib.loads((monorepo / "pylock.dev.toml").read_text())
    local = {package["name"]: package for package in lock["packages"] if "directory" in package}
    assert set(local) == {"corelib", "api"}
    assert all("version" not in package for package in local.values()), "PEP 751: a source tree has no version"
    assert local["corelib"]["directory"] == {"path": "packages/core", "editable": True}

    exported = envsync(monorepo, "export", "dev").stdout.splitlines()
    assert "-e ./packages/core" in exported and "-e ./packages/api" in exported, exported
    tree = envsync(monorepo, "tree", "dev").stdout
    roots = [line for line in tree.splitlines() if line and not line.startswith((" ", "│", "├", "└"))]
    assert any(line.startswith("api") for line in roots) and any(line.startswith("corelib") for line in roots), tree
    assert "No changes" in envsync(monorepo, "plan").stdout


def test_an_index_with_a_project_of_the_same_name_is_never_asked(monorepo: Path, index: LocalIndex):
    """The dependency-confusion guard: api's `corelib` is the folder, not the index's corelib 9.0."""
    index.add(WheelSpec("corelib", "9.0"))
    config(monorepo, index, '[envs.dev]\nprojects = ["packages/core", "packages/api"]\n')
    envsync(monorepo, "apply")
    assert installed(monorepo / ".envs" / "dev")["corelib"] == "0.1"
    assert not any("corelib" in request for request in index.requests), index.requests
    envsync(monorepo, "lock", "--upgrade")
    assert not any("corelib" in request for request in index.requests), index.requests


def test_a_local_version_that_does_not_fit_names_both_files(monorepo: Path, index: LocalIndex):
    write_tiny_project(monorepo / "packages" / "api", "api", version="0.2", dependencies=["corelib>=2"])
    index.add(WheelSpec("corelib", "2.0"))  # there, and still not taken
    config(monorepo, index, '[envs.dev]\nprojects = ["packages/core", "packages/api"]\n')
    result = envsync(monorepo, "plan", code=1)
    assert "packages/api/pyproject.toml" in result.stderr and "packages/core/pyproject.toml" in result.stderr
    assert "corelib>=2" in result.stderr and "version 0.1" in result.stderr, result.stderr
    assert not (monorepo / ".envs" / "dev").exists()
    assert not any("corelib" in request for request in index.requests)


def test_project_projects_and_dash_e_lines_form_one_set(monorepo: Path, index: LocalIndex):
    write_tiny_project(monorepo / "tools" / "cli", "cli", version="1.0", dependencies=["api"])
    (monorepo / "requirements-dev.txt").write_text("-e ./tools/cli\ntool\n")
    config(monorepo, index, """
        [envs.base]
        project = "packages/core"

        [envs.dev]
        inherits = ["base"]
        projects = [{ path = "packages/api", editable = false }]
        requirements = ["requirements-dev.txt"]
        """)
    envsync(monorepo, "apply", "dev")
    env = monorepo / ".envs" / "dev"
    assert installed(env) == {"corelib": "0.1", "api": "0.2", "cli": "1.0", "lib": "1.0", "tool": "1.0"}
    assert direct_url(env, "corelib")["dir_info"] == {"editable": True}
    assert direct_url(env, "api")["dir_info"] == {}, "a table's editable = false is kept"
    assert direct_url(env, "cli")["dir_info"] == {"editable": True}
    assert "No changes" in envsync(monorepo, "plan", "dev").stdout


@pytest.mark.parametrize(("envs", "named"), [
    ('project = "packages/core"\nprojects = ["packages/core/"]\n', ["envs.dev.project", "envs.dev.projects[0]"]),
    ('projects = ["packages/core", "packages/core2"]\n', ["envs.dev.projects[0]", "envs.dev.projects[1]", "corelib"]),
])
def test_one_project_twice_is_an_error_naming_both(monorepo: Path, index: LocalIndex, envs: str, named: list[str]):
    write_tiny_project(monorepo / "packages" / "core2", "CoreLib", version="0.3")
    config(monorepo, index, "[envs.dev]\n" + envs)
    result = envsync(monorepo, "plan", code=1)
    for text in named:
        assert text in result.stderr, result.stderr


def test_a_metadata_change_reinstalls_that_member_only(monorepo: Path, index: LocalIndex):
    config(monorepo, index, '[envs.dev]\nprojects = ["packages/core", "packages/api"]\n')
    envsync(monorepo, "apply")
    (monorepo / "packages" / "core" / "src" / "corelib" / "__init__.py").write_text("edited = True\n")
    assert "No changes" in envsync(monorepo, "plan").stdout, "a source edit needs nothing"

    # a new version and a new dependency: core is reinstalled, tool installed, api left as it is
    write_tiny_project(monorepo / "packages" / "core", "corelib", version="0.3", dependencies=["lib", "tool"])
    locked = envsync(monorepo, "plan", "--locked", code=1).stderr
    assert "packages/core/pyproject.toml" in locked and "+ tool" in locked, locked
    assert "packages/api" not in locked, locked
    plan = envsync(monorepo, "plan").stdout
    assert "corelib 0.1 -> 0.3" in plan and "+ install  tool 1.0" in plan, plan
    assert "api" not in plan, plan
    envsync(monorepo, "apply")
    assert installed(monorepo / ".envs" / "dev") == {"corelib": "0.3", "api": "0.2", "lib": "1.0", "tool": "1.0"}
    assert "No changes" in envsync(monorepo, "plan").stdout


def test_review_of_a_commit_that_adds_a_dependency_to_one_member(monorepo: Path, index: LocalIndex):
    (monorepo / ".gitignore").write_text(".envs/\n")
    config(monorepo, index, '[envs.dev]\nprojects = ["packages/core", "packages/api"]\n')
    git(monorepo, "init", "-q")
    envsync(monorepo, "lock")
    git(monorepo, "add", "-A")
    git(monorepo, "commit", "-q", "-m", "base")
    assert "env dev: no changes" in envsync(monorepo, "plan", "--base", "HEAD").stdout

    write_tiny_project(monorepo / "packages" / "api", "api", version="0.2", dependencies=["corelib", "lib>=1", "tool"])
    envsync(monorepo, "lock")
    git(monorepo, "add", "-A")
    git(monorepo, "commit", "-q", "-m", "api needs tool")
    text = envsync(monorepo, "plan", "--base", "HEAD~1", "--detailed-exitcode", code=2).stdout
    assert "  + added      tool 1.0 (dependency)" in text, text
    assert "corelib" not in text.split("Review:")[-1].replace("envs.toml", ""), text


def test_watch_and_the_no_op_stamp_read_every_members_build_files(monorepo: Path, index: LocalIndex):
    """watch watches the files the config read besides envs.toml (config.files): each project's."""
    from envsync.config.load import load

    config(monorepo, index, '[envs.dev]\nprojects = ["packages/core", "packages/api"]\n')
    files = {Path(path) for path, _ in load(monorepo / "envs.toml").files}
    for member in ("core", "api"):
        assert monorepo / "packages" / member / "pyproject.toml" in files


def test_init_from_a_venv_with_two_editable_projects_writes_projects(monorepo: Path, index: LocalIndex):
    from envsync.config.load import load

    config(monorepo, index, '[envs.dev]\nprojects = ["packages/core", "packages/api"]\n')
    envsync(monorepo, "apply")
    (monorepo / "envs.toml").unlink()
    envsync(monorepo, "init", "--from", ".envs/dev")
    text = (monorepo / "envs.toml").read_text()
    assert 'projects = ["packages/api", "packages/core"]' in text, text
    spec = load(monorepo / "envs.toml").envs[0]
    assert [project.path for project in spec.projects] == [monorepo / "packages" / "api", monorepo / "packages" / "core"]


def test_the_monorepo_example_declares_both_packages_in_every_env():
    from envsync.config.load import load

    example = Path(__file__).resolve().parent.parent / "examples" / "monorepo"
    config = load(example / "envs.toml")
    assert sorted(spec.name for spec in config.envs) == ["dev", "test-py311", "test-py312"]
    for spec in config.envs:
        assert [project.path for project in spec.projects] == [example / "packages" / "core",
                                                             example / "packages" / "api"]
        assert all(project.editable for project in spec.projects)
