"""`plan --base` reads a whole commit and locks hold on every machine and commit: real git
repositories, real locks, local projects built by the tiny in-tree backend (tests/backends.py)
whose version comes from git or whose dependencies are dynamic."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from backends import write_tiny_project
from helpers import installed, run_envsync
from localindex import LocalIndex
from wheelfactory import WheelSpec, make_wheel


def git(folder: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
                             "-c", "init.defaultBranch=main", "-c", "tag.gpgSign=false", *args], cwd=folder,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def commit(folder: Path, message: str) -> None:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)


def envsync(folder: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    result = run_envsync(*args, cwd=folder, timeout=600)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def repo(tmp_path: Path, index: LocalIndex) -> Path:
    """A git repository holding the project `demo` and an envs.toml naming the local index."""
    for spec in (WheelSpec("lib", "1.0"), WheelSpec("tool", "1.0"), WheelSpec("helper", "1.0")):
        index.add(spec)
    folder = tmp_path / "checkout"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / ".gitignore").write_text(".envs/\n")
    return folder


def config(folder: Path, index: LocalIndex, envs: str) -> None:
    (folder / "envs.toml").write_text(f'[settings]\nindex-url = "{index.url}"\n' + textwrap.dedent(envs))


def test_dynamic_dependencies_are_reviewed_across_a_commit(repo: Path, index: LocalIndex):
    write_tiny_project(repo, "demo", dependencies=None)
    (repo / "requirements.in").write_text("lib\n")
    config(repo, index, '[envs.dev]\nproject = "."\n')
    envsync(repo, "lock")
    commit(repo, "base")
    clean = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode").stdout
    assert "env dev: no changes" in clean and "lock" not in clean.split("Review:")[0].replace("envs.toml", "")

    (repo / "requirements.in").write_text("lib\ntool\n")  # the project's dependencies change
    envsync(repo, "lock")
    text = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode", code=2).stdout
    assert "  + added      tool 1.0 (dependency)" in text
    assert "out of date" not in text and "note:" not in text, "both sides read from fresh locks"
    commit(repo, "add tool")
    text = envsync(repo, "plan", "--base", "HEAD~1").stdout
    assert "  + added      tool 1.0 (dependency)" in text
    assert git(repo, "status", "--porcelain") == "", "the review touches nothing in the checkout"


def test_a_project_versioned_by_git_keeps_its_lock_in_a_fresh_clone(repo: Path, index: LocalIndex, tmp_path: Path):
    write_tiny_project(repo, "demo", version=None, dependencies=["lib"])
    config(repo, index, '[envs.dev]\nproject = "."\n')
    commit(repo, "the project")
    envsync(repo, "lock")
    commit(repo, "its lock")
    lock = (repo / "pylock.dev.toml").read_text()
    assert str(repo) not in lock and str(tmp_path) not in lock, "no absolute path of the checkout in the lock"
    assert 'path = "."' in lock
    envsync(repo, "plan", "--locked")
    (repo / "README").write_text("a new commit moves the version\n")
    commit(repo, "readme")
    git(repo, "tag", "v2.0")
    envsync(repo, "plan", "--locked")  # the version moved twice; the lock still holds

    clone = tmp_path / "elsewhere" / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    (clone / "README").write_text("and another commit in the clone\n")
    commit(clone, "clone's commit")
    envsync(clone, "plan", "--locked")
    envsync(clone, "apply", "--locked")
    assert installed(clone / ".envs" / "dev")["demo"].startswith("2.0.post1+g")
    assert (clone / "pylock.dev.toml").read_text() == lock, "apply --locked leaves the committed lock as it is"
    review = envsync(clone, "plan", "--base", "HEAD", "--detailed-exitcode").stdout
    assert "no changes" in review and "out of date" not in review


def test_a_solve_group_on_a_clean_tree_reviews_as_no_change(repo: Path, index: LocalIndex):
    config(repo, index, '[envs.prod]\ndependencies = ["lib"]\nsolve-group = "main"\n'
                        '[envs.dev]\ndependencies = ["lib", "tool"]\nsolve-group = "main"\n')
    envsync(repo, "lock")
    commit(repo, "base")
    text = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode").stdout
    assert "env prod: no changes" in text and "env dev: no changes" in text
    assert "out of date" not in text and "note:" not in text


def test_an_env_mixing_the_project_an_include_and_a_direct_reference(repo: Path, index: LocalIndex):
    write_tiny_project(repo, "demo", dependencies=["lib"])
    make_wheel(repo / "wheels", WheelSpec("gamma", "1.0", requires=["helper"]))
    (repo / "base.txt").write_text("lib\n")
    (repo / "requirements.txt").write_text("-r base.txt\n./wheels/gamma-1.0-py3-none-any.whl\n")
    config(repo, index, '[envs.dev]\nproject = "."\nrequirements = ["requirements.txt"]\n')
    envsync(repo, "lock")
    lock = (repo / "pylock.dev.toml").read_text()
    assert str(repo) not in lock
    commit(repo, "base")
    clean = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode").stdout
    assert "env dev: no changes" in clean and "note:" not in clean

    # A comment and a blank line change nothing: the lock stays fresh.
    (repo / "requirements.txt").write_text("# the app's own tools\n-r base.txt\n\n./wheels/gamma-1.0-py3-none-any.whl\n")
    envsync(repo, "plan", "--locked")
    (repo / "base.txt").write_text("lib\ntool\n")  # a change in the included file
    stale = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode", code=2).stdout
    assert "  + added      tool 1.0" in stale and "gamma" not in stale.split("note:")[0]
    assert "pylock.dev.toml is out of date with the config in the working tree: resolved env dev" in stale
    envsync(repo, "lock")
    text = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode", code=2).stdout
    assert "  + added      tool 1.0" in text and "gamma" not in text and "demo" not in text


def test_plan_base_of_the_commit_that_first_adds_envs_toml(repo: Path, index: LocalIndex):
    (repo / "README").write_text("before envsync\n")
    commit(repo, "first")
    write_tiny_project(repo, "demo", dependencies=["lib"])
    config(repo, index, '[envs.dev]\nproject = "."\n')
    envsync(repo, "lock")
    commit(repo, "adds envs.toml")
    text = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode").stdout
    assert "env dev: no changes" in text and "note:" not in text
    added = envsync(repo, "plan", "--base", "HEAD~1").stdout
    assert "env dev: added" in added and "  + added      demo 1.0" in added and "  + added      lib 1.0" in added


def test_locked_names_the_added_dependency_and_its_file(repo: Path, index: LocalIndex):
    write_tiny_project(repo, "demo", dependencies=["lib"])
    config(repo, index, '[envs.dev]\nproject = "."\n')
    envsync(repo, "lock")
    write_tiny_project(repo, "demo", dependencies=["lib", "tool"])
    stderr = envsync(repo, "plan", "--locked", code=1).stderr
    assert "pyproject.toml: [project] dependencies: + tool" in stderr
    assert "was removed" not in stderr

    lock = repo / "pylock.dev.toml"
    lock.write_text('lock-version = "1.0"\ncreated-by = "uv"\n[[packages]]\nname = "lib"\nversion = "1.0"\n'
                    '[[packages.wheels]]\nname = "lib-1.0-py3-none-any.whl"\nurl = "https://example.invalid/lib.whl"\n'
                    '[packages.wheels.hashes]\nsha256 = "' + "0" * 64 + '"\n')
    stderr = envsync(repo, "plan", "--locked", code=1).stderr
    assert "written by uv" in stderr


def test_one_apply_after_git_tag_settles(repo: Path, index: LocalIndex):
    """The project's prepared metadata is cached by its git state too: after `git tag` the
    build and the cache agree on the version, so what one apply installs is what the next
    plan --refresh wants (before, the cache kept the old version and a downgrade showed forever)."""
    import shutil

    write_tiny_project(repo, "demo", version=None, dependencies=["lib"])
    config(repo, index, '[envs.dev]\nproject = "."\n')
    commit(repo, "the project")
    envsync(repo, "apply")
    envsync(repo, "plan", "--refresh", "--detailed-exitcode")
    git(repo, "tag", "v3.0")
    shutil.rmtree(repo / ".envs" / "dev")  # the project is built again: its version is now 3.0
    first = envsync(repo, "run", "dev", "--", "python", "-c", "import demo; print(demo.editable)")
    assert first.stdout.strip() == "True" and "demo 3.0" in first.stderr
    assert installed(repo / ".envs" / "dev")["demo"] == "3.0"
    envsync(repo, "plan", "--refresh", "--detailed-exitcode")
    envsync(repo, "plan", "--detailed-exitcode")
    again = envsync(repo, "run", "dev", "--", "python", "-c", "import demo; print(demo.editable)")
    assert again.stdout.strip() == "True" and "demo" not in again.stderr, "an editable in sync is not rebuilt"


def test_list_names_the_drifted_package(repo: Path, index: LocalIndex):
    config(repo, index, '[envs.dev]\ndependencies = ["lib"]\n')
    envsync(repo, "apply")
    config(repo, index, '[envs.dev]\ndependencies = ["lib", "tool"]\n')
    listing = envsync(repo, "list").stdout
    assert "drifted; install tool 1.0" in listing


@pytest.mark.parametrize(("text", "expected"), [
    ("demo @ file:///work/repo", "demo @ ."),
    ("demo[fast] @ file:///work/repo/sub", "demo[fast] @ sub"),
    ("gamma @ file:///work/repo/wheels/gamma-1.0-py3-none-any.whl#sha256=ab ; python_version > '3'",
     "gamma @ wheels/gamma-1.0-py3-none-any.whl#sha256=ab ; python_version > '3'"),
    ("lib @ file:///work/other%20place/lib, tool>=1", "lib @ ../other%20place/lib, tool>=1"),
    ("lib>=1", "lib>=1"),
    ("beta @ https://example.invalid/beta-1.0.tar.gz", "beta @ https://example.invalid/beta-1.0.tar.gz"),
])
def test_portable_requirement_texts(text: str, expected: str):
    from envsync.resolve.lockfile import portable

    assert portable(text, Path("/work/repo")) == expected


def test_a_multi_platform_lock_with_the_project_is_reviewed_across_a_commit(repo: Path, index: LocalIndex):
    """A lock for several platforms records the project without a version (PEP 751); the review
    reads it per platform and must still know the project, on both sides."""
    write_tiny_project(repo, "demo", dependencies=["lib"])
    platforms = 'environments = ["sys_platform == \'linux\'", "sys_platform == \'win32\'"]\n'
    config(repo, index, '[envs.dev]\nproject = "."\n' + platforms)
    envsync(repo, "lock")
    commit(repo, "base")
    clean = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode").stdout
    assert "env dev: no changes" in clean
    config(repo, index, '[envs.dev]\nproject = "."\ndependencies = ["tool"]\n' + platforms)
    envsync(repo, "lock")
    text = envsync(repo, "plan", "--base", "HEAD", "--detailed-exitcode", code=2).stdout
    assert "  + added      tool 1.0" in text
    assert "demo" not in text.split("Review:")[0].replace("env dev", ""), "the project is on both sides, unchanged"
