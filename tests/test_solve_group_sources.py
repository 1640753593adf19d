"""Solve groups whose envs install the project itself, or a direct reference: a real project's
`test` and `docs` envs both install `.` (each with its own extra) and share one resolve. Each
env's lock has the project as a `directory` package and only what its own roots reach; two envs
that take one package from different sources are refused by name. Real venvs; the project is
built by the tiny in-tree backend (tests/backends.py)."""

from __future__ import annotations

import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest
from backends import write_tiny_project
from helpers import installed, run_envsync
from localindex import LocalIndex
from wheelfactory import WheelSpec, make_wheel


def envsync(folder: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    result = run_envsync(*args, cwd=folder, timeout=600)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result


def lock(folder: Path, env: str) -> dict[str, dict]:
    document = tomllib.loads((folder / f"pylock.{env}.toml").read_text())
    return {package["name"]: package for package in document["packages"]}


@pytest.fixture
def app(tmp_path: Path, index: LocalIndex) -> Path:
    """The project `app` (needing beta), extra `test` (tool) and extra `docs` (needs-old-beta, which
    caps beta below 2): alone, `test` would take beta 2.0; in one group with `docs`, 1.5."""
    for version in ("1.0", "1.5", "2.0"):
        index.add(WheelSpec("beta", version))
    index.add(WheelSpec("needs-old-beta", "1.0", requires=["beta<2"]))
    index.add(WheelSpec("tool", "1.0"))
    folder = tmp_path / "app"
    write_tiny_project(folder, "app", version="0.3", dependencies=["beta"],
                       extras={"test": ["tool"], "docs": ["needs-old-beta"]})
    return folder


def configure(folder: Path, index: LocalIndex, envs: str) -> None:
    (folder / "envs.toml").write_text(f'[settings]\nindex-url = "{index.url}"\n' + textwrap.dedent(envs))


GROUP = """
[envs.test]
project = { path = ".", extras = ["test"] }
solve-group = "main"

[envs.docs]
project = { path = ".", extras = ["docs"] }
solve-group = "main"
"""


def test_two_envs_installing_the_project_share_one_resolve(app: Path, index: LocalIndex):
    configure(app, index, GROUP)
    plan = envsync(app, "plan").stdout
    assert "solve group main: test, docs resolved together" in plan

    envsync(app, "apply")
    assert installed(app / ".envs" / "test") == {"app": "0.3", "beta": "1.5", "tool": "1.0"}
    assert installed(app / ".envs" / "docs") == {"app": "0.3", "beta": "1.5", "needs-old-beta": "1.0"}
    test_lock, docs_lock = lock(app, "test"), lock(app, "docs")
    assert test_lock["app"]["directory"] == {"path": ".", "editable": True} == docs_lock["app"]["directory"]
    assert set(test_lock) == {"app", "beta", "tool"}, "docs' extra stays out of test's lock"
    assert set(docs_lock) == {"app", "beta", "needs-old-beta"}
    assert test_lock["beta"]["version"] == docs_lock["beta"]["version"] == "1.5"
    assert not any("/simple/app/" in request for request in index.requests), "the project is never asked of the index"

    assert "No changes" in envsync(app, "plan").stdout
    assert "No changes" in envsync(app, "plan", "--refresh").stdout
    assert "No changes" in envsync(app, "plan", "--locked").stdout
    exported = envsync(app, "export", "test").stdout.splitlines()
    assert "-e ." in exported and any(line.startswith("beta==1.5") for line in exported)
    assert not any("needs-old-beta" in line for line in exported)
    tree = envsync(app, "tree", "docs").stdout
    assert tree.splitlines()[0].startswith("app"), tree


def test_alone_the_same_envs_disagree(app: Path, index: LocalIndex):
    """What the group changes: without it, test takes the newest beta."""
    configure(app, index, GROUP.replace('solve-group = "main"\n', ""))
    envsync(app, "lock")
    assert lock(app, "test")["beta"]["version"] == "2.0"
    assert lock(app, "docs")["beta"]["version"] == "1.5"


def test_a_change_to_the_projects_dependencies_relocks_the_group(app: Path, index: LocalIndex):
    configure(app, index, GROUP)
    envsync(app, "apply")
    write_tiny_project(app, "app", version="0.3", dependencies=["beta", "tool"],
                       extras={"test": ["tool"], "docs": ["needs-old-beta"]})
    envsync(app, "apply")
    assert installed(app / ".envs" / "docs") == {"app": "0.3", "beta": "1.5", "needs-old-beta": "1.0",
                                                 "tool": "1.0"}
    assert "tool" in lock(app, "docs")


def test_a_direct_reference_in_one_env_of_a_group(app: Path, index: LocalIndex, tmp_path: Path):
    wheel = make_wheel(tmp_path / "wheels", WheelSpec("pinned-tool", "7.0", requires=["beta<2"]))
    configure(app, index, GROUP + f'\n[envs.lint]\ndependencies = ["beta", "pinned-tool @ {wheel.as_uri()}"]\n'
                                   'solve-group = "main"\n')
    envsync(app, "apply")
    assert installed(app / ".envs" / "lint") == {"beta": "1.5", "pinned-tool": "7.0"}
    assert "pinned-tool" in lock(app, "lint") and "index" not in lock(app, "lint")["pinned-tool"]
    assert "pinned-tool" not in lock(app, "test")
    assert lock(app, "test")["beta"]["version"] == "1.5"


def test_two_sources_of_one_package_in_a_group_are_refused_by_name(app: Path, index: LocalIndex, tmp_path: Path):
    one = make_wheel(tmp_path / "one", WheelSpec("pinned-tool", "7.0"))
    two = make_wheel(tmp_path / "two", WheelSpec("pinned-tool", "8.0"))
    configure(app, index, f"""
        [envs.a]
        dependencies = ["pinned-tool @ {one.as_uri()}"]
        solve-group = "main"

        [envs.b]
        dependencies = ["pinned-tool @ {two.as_uri()}"]
        solve-group = "main"
        """)
    result = envsync(app, "plan", code=1)
    assert "solve group 'main'" in result.stderr
    assert "envs a and b" in result.stderr and "pinned-tool" in result.stderr
    assert not (app / ".envs").exists() and not (app / "pylock.a.toml").exists()


def test_one_env_builds_the_project_the_other_installs_it_editable(app: Path, index: LocalIndex):
    """The same folder is one source: each env of the group installs it as it declares it."""
    configure(app, index, GROUP.replace('extras = ["docs"] }', 'extras = ["docs"], editable = false }'))
    envsync(app, "apply")
    assert lock(app, "test")["app"]["directory"] == {"path": ".", "editable": True}
    assert lock(app, "docs")["app"]["directory"] == {"path": ".", "editable": False}
    assert list((app / ".envs" / "test").glob("lib/python*/site-packages/_app_editable.pth"))
    assert not list((app / ".envs" / "docs").glob("lib/python*/site-packages/_app_editable.pth"))
    assert list((app / ".envs" / "docs").glob("lib/python*/site-packages/app/__init__.py"))
    assert lock(app, "test")["beta"]["version"] == lock(app, "docs")["beta"]["version"] == "1.5"
    assert "No changes" in envsync(app, "plan").stdout


def test_a_group_locked_for_two_platforms_with_the_project_an_include_and_a_direct_reference(
        app: Path, index: LocalIndex, tmp_path: Path):
    """Everything a real group combines, locked for Linux and macOS: the project in both envs, test's
    requirements through an `-r` include, a wheel by URL in docs. Both locks carry both platforms,
    agree on beta, keep the project as a folder, and stay untouched by an upgrade that changes nothing."""
    wheel = make_wheel(tmp_path / "wheels", WheelSpec("pinned-tool", "7.0"))
    (app / "requirements-base.txt").write_text("tool\n")
    (app / "requirements-test.txt").write_text("-r requirements-base.txt\n")
    configure(app, index, """
        environments = ["sys_platform == 'linux' and platform_machine == 'x86_64'",
                        "sys_platform == 'darwin' and platform_machine == 'arm64'"]
    """ + GROUP.replace('extras = ["test"] }', 'extras = ["test"] }\nrequirements = ["requirements-test.txt"]')
            .replace('extras = ["docs"] }', f'extras = ["docs"] }}\ndependencies = ["pinned-tool @ {wheel.as_uri()}"]'))
    assert "for Linux x86_64, macOS arm64" in envsync(app, "lock").stdout
    for env in ("test", "docs"):
        document = tomllib.loads((app / f"pylock.{env}.toml").read_text())
        assert len(document["environments"]) == 2, env
    test_lock, docs_lock = lock(app, "test"), lock(app, "docs")
    assert test_lock["beta"]["version"] == docs_lock["beta"]["version"] == "1.5"
    assert test_lock["app"]["directory"]["path"] == "." == docs_lock["app"]["directory"]["path"]
    assert set(test_lock) == {"app", "beta", "tool"} and set(docs_lock) == {"app", "beta", "needs-old-beta", "pinned-tool"}

    envsync(app, "apply", "--locked")
    assert installed(app / ".envs" / "docs") == {"app": "0.3", "beta": "1.5", "needs-old-beta": "1.0",
                                                 "pinned-tool": "7.0"}
    texts = [(app / f"pylock.{env}.toml").read_text() for env in ("test", "docs")]
    envsync(app, "lock", "--upgrade")
    assert [(app / f"pylock.{env}.toml").read_text() for env in ("test", "docs")] == texts
    (app / "requirements-base.txt").write_text("tool\nneeds-old-beta\n")  # the include changes: the group relocks
    envsync(app, "apply", "--locked", code=1)
    envsync(app, "apply")
    assert "needs-old-beta" in lock(app, "test")
