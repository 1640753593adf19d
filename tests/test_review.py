"""`envsync plan --base GITREF`: a change's effect on every env, read from a real git repository
and real locks (made by `envsync lock` against the local index), in text, JSON and markdown."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import python_path, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.commands.review import (
    ADDED,
    CHANGED,
    DOWNGRADED,
    FRESH,
    REMOVED,
    UNCHANGED,
    UPGRADED,
    EnvSide,
    PackageChange,
    diff,
    diff_env,
    diff_packages,
    summary_line,
)
from envsync.render.markdown import render_review as render_markdown

# -- the pure diff -----------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after", "expected"), [
    ({}, {}, []),
    ({"a": "1.0"}, {"a": "1.0"}, []),
    ({}, {"a": "1.0"}, [("a", ADDED, None, "1.0")]),
    ({"a": "1.0"}, {}, [("a", REMOVED, "1.0", None)]),
    ({"a": "1.0"}, {"a": "2.0"}, [("a", UPGRADED, "1.0", "2.0")]),
    ({"a": "2.0"}, {"a": "1.10"}, [("a", DOWNGRADED, "2.0", "1.10")]),
    ({"a": "1.9"}, {"a": "1.10"}, [("a", UPGRADED, "1.9", "1.10")]),  # PEP 440 order, not string order
    ({"a": "1.0rc1"}, {"a": "1.0"}, [("a", UPGRADED, "1.0rc1", "1.0")]),
    ({"b": "1", "a": "1"}, {"c": "1", "a": "2"}, [("a", UPGRADED, "1", "2"), ("b", REMOVED, "1", None),
                                                   ("c", ADDED, None, "1")]),
])
def test_diff_packages(before, after, expected):
    changes = diff_packages(before, after, frozenset({"a"}))
    assert [(c.name, c.change, c.before, c.after) for c in changes] == expected
    assert all(c.direct == (c.name == "a") for c in changes)


def side(python: str | None = "3.12", lock: str = FRESH, **packages: str) -> EnvSide:
    return EnvSide(python, "3.12.1", packages, frozenset({"a"}), lock)


@pytest.mark.parametrize(("base", "head", "status", "python_changed", "changes"), [
    (None, side(a="1"), ADDED, False, 1),
    (side(a="1"), None, REMOVED, False, 1),
    (side(a="1"), side(a="1"), UNCHANGED, False, 0),
    (side(a="1"), side(a="1", lock="stale"), UNCHANGED, False, 0),
    (side("3.11", a="1"), side("3.12", a="1"), CHANGED, True, 0),
    (side(None, a="1"), side("3.12", a="1"), CHANGED, True, 0),
    (side(a="1"), side(a="2", b="1"), CHANGED, False, 2),
])
def test_diff_env(base, head, status, python_changed, changes):
    result = diff_env("dev", base, head)
    assert (result.status, result.python_changed, len(result.packages)) == (status, python_changed, changes)


def test_summary_and_markdown_of_pure_reviews():
    same = diff("main", "abc", "envs.toml", {"dev": side(a="1")}, {"dev": side(a="1")})
    assert summary_line(same) == "no environment changes" and not same.has_changes
    assert render_markdown(same) == "**envsync**: no environment changes."
    many = {f"p{i:02}": "1" for i in range(12)}
    review = diff("main", "abc", "envs.toml", {"old": side(a="1")}, {"dev": side(**many), "x": side(a="1")})
    assert summary_line(review) == "2 envs added, 1 removed (13 packages added, 1 removed)"
    markdown = render_markdown(review)
    assert markdown.splitlines()[0] == "**envsync** against `main` (`abc`): 2 envs added, 1 removed (13 packages added, 1 removed)"
    assert "<details><summary>12 package changes</summary>" in markdown  # long lists fold
    assert markdown.count("<details>") == 1
    assert PackageChange("a", ADDED, None, "1", True) in review.envs[1].packages


# -- a real repository -------------------------------------------------------------------


def git(folder: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
                             "-c", "init.defaultBranch=main", *args], cwd=folder, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def commit(folder: Path, message: str) -> None:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / ".gitignore").write_text(".envs/\n")
    return folder


def envsync(project: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    result = run_envsync(*args, cwd=project)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def configure(project: Path, index: LocalIndex, envs: str, groups: str | None = None) -> None:
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n{envs}')
    if groups is not None:
        (project / "pyproject.toml").write_text(f'[project]\nname = "demo"\nversion = "0"\n'
                                                f'[dependency-groups]\ntest = [{groups}]\n')


def queries(index: LocalIndex) -> list[str]:
    return [r for r in index.requests if not r.endswith(".whl")]


def test_a_change_shows_every_env_in_text_json_and_markdown(project: Path, index: LocalIndex):
    if not (python_path("3.11") and python_path("3.12")):
        pytest.skip("needs CPython 3.11 and 3.12 under ~/.pyenv/versions")
    for spec in (WheelSpec("lib", "1.0"), WheelSpec("app", "1.0", requires=["lib>=1"]), WheelSpec("checker", "1.0"),
                 WheelSpec("linter", "1.0"), WheelSpec("helper", "1.0"),
                 WheelSpec("tool", "1.0", requires=["helper"])):
        index.add(spec)
    configure(project, index, '[envs.dev]\npython = "3.11"\ndependencies = ["app"]\ngroups = ["test"]\n'
                              '[envs.docs]\npython = "3.11"\ndependencies = ["lib"]\n', groups='"checker"')
    envsync(project, "lock")
    commit(project, "base")
    index.add(WheelSpec("lib", "2.0"))
    # The change under review: a new package (with a dependency), an upgrade, a removed env,
    # an added env, a changed Python and a group edit in pyproject.toml; locks re-made.
    configure(project, index, '[envs.dev]\npython = "3.12"\ndependencies = ["app", "tool", "lib>=2"]\n'
                              'groups = ["test"]\n[envs.ci]\npython = "3.12"\ndependencies = ["linter"]\n',
              groups='"linter"')
    (project / "pylock.docs.toml").unlink()
    envsync(project, "lock")
    index.clear_requests()
    status = git(project, "status", "--porcelain", "--untracked-files=all")

    text = envsync(project, "plan", "--base", "main").stdout
    assert queries(index) == [], "fresh locks on both sides: no index is asked"
    lines = text.splitlines()
    assert lines[0].startswith("envs.toml: main (")
    assert "env dev: Python 3.11 -> 3.12 (3.11." in text
    dev = lines[lines.index(next(line for line in lines if line.startswith("env dev"))) + 1:][:5]
    assert dev == ["  - removed    checker 1.0",
                   "  + added      helper 1.0 (dependency)",
                   "  ~ upgraded   lib 1.0 -> 2.0",
                   "  + added      linter 1.0",
                   "  + added      tool 1.0"]
    assert "env ci: added (Python 3.12)\n  + added      linter 1.0" in text
    assert "env docs: removed (was Python 3.11)\n  - removed    lib 1.0" in text
    assert "note:" not in text
    assert lines[-1] == "Review: 1 env added, 1 removed, 1 changed (4 packages added, 1 upgraded, 2 removed)."

    document = json.loads(envsync(project, "plan", "--base", "main", "--format", "json").stdout)
    assert document["version"] == 1 and document["base"] == "main" and document["config"] == "envs.toml"
    assert [(env["name"], env["status"]) for env in document["envs"]] == [
        ("dev", "changed"), ("ci", "added"), ("docs", "removed")]
    dev_json = document["envs"][0]
    assert dev_json["python_changed"] is True
    assert dev_json["base"]["python"] == "3.11" and dev_json["head"]["python"] == "3.12"
    assert dev_json["base"]["lock"] == dev_json["head"]["lock"] == "fresh"
    assert dev_json["head"]["packages"] == {"app": "1.0", "helper": "1.0", "lib": "2.0", "linter": "1.0",
                                            "tool": "1.0"}
    assert {"package": "lib", "change": "upgraded", "from": "1.0", "to": "2.0", "direct": True} in dev_json["changes"]
    assert {"package": "helper", "change": "added", "from": None, "to": "1.0", "direct": False} in dev_json["changes"]
    assert document["envs"][2]["head"] is None
    assert document["summary"] == {"envs_added": 1, "envs_removed": 1, "envs_changed": 1, "envs_unchanged": 0,
                                   "added": 4, "upgraded": 1, "downgraded": 0, "removed": 2, "stale_locks": 0}
    assert document["notes"] == [] and document["changes_pending"] is True
    assert json.loads(envsync(project, "plan", "--base", "main", "--json").stdout) == document

    markdown = envsync(project, "plan", "--base", "main", "--format", "markdown").stdout
    assert markdown.splitlines()[0].startswith("**envsync** against `main` (`")
    assert markdown.splitlines()[0].endswith("`): 1 env added, 1 removed, 1 changed (4 packages added, 1 upgraded, 2 removed)")
    assert "#### `dev`: changed, Python `3.11` → `3.12`" in markdown
    assert "| upgraded | `lib` | `1.0` | `2.0` |" in markdown
    assert "| added | `helper` (dependency) |  | `1.0` |" in markdown
    assert "#### `docs`: removed" in markdown and "#### `ci`: added, Python `3.12`" in markdown
    assert "<details>" not in markdown  # short lists stay open

    only_ci = envsync(project, "plan", "--base", "main", "ci").stdout
    assert "env ci" in only_ci and "env dev" not in only_ci
    envsync(project, "plan", "--base", "main", "--detailed-exitcode", code=2)
    assert git(project, "status", "--porcelain", "--untracked-files=all") == status, "nothing checked out or written"
    assert git(project, "stash", "list") == "" and not (project / ".envs").exists()


def test_no_change(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    configure(project, index, '[envs.dev]\ndependencies = ["lib"]\n')
    envsync(project, "lock")
    commit(project, "base")
    text = envsync(project, "plan", "--base", "HEAD", "--detailed-exitcode").stdout
    assert "env dev: no changes" in text and text.rstrip().endswith("Review: no environment changes.")
    markdown = envsync(project, "plan", "--base", "HEAD", "--format", "markdown").stdout
    assert markdown == "**envsync**: no environment changes.\n"
    document = json.loads(envsync(project, "plan", "--base", "HEAD", "--json").stdout)
    assert document["changes_pending"] is False and document["envs"][0]["status"] == "unchanged"
    assert not (project / ".envs").exists(), "no venv is made or needed"


def test_a_stale_or_missing_lock_is_resolved_with_a_note(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "1.0"))
    configure(project, index, '[envs.dev]\ndependencies = ["lib"]\n')
    commit(project, "base without a lock")
    envsync(project, "lock")
    configure(project, index, '[envs.dev]\ndependencies = ["lib", "tool"]\n')  # now the lock is stale
    index.clear_requests()
    text = envsync(project, "plan", "--base", "main").stdout
    assert queries(index), "a side without a fresh lock is resolved against the index"
    assert "note: pylock.dev.toml does not exist at main: resolved env dev" in text
    assert "note: pylock.dev.toml is out of date with the config in the working tree: resolved env dev" in text
    assert "  + added      tool 1.0" in text and "lib" not in text.split("note:")[0]
    assert "! lock: pylock.dev.toml is out of date in the working tree: run `envsync lock dev`" in text
    markdown = envsync(project, "plan", "--base", "main", "--format", "markdown").stdout
    assert "1 lock missing or out of date in the working tree" in markdown.splitlines()[0]
    assert "> [!WARNING]" in markdown and "`pylock.dev.toml` is out of date" in markdown
    document = json.loads(envsync(project, "plan", "--base", "main", "--json").stdout)
    assert (document["envs"][0]["base"]["lock"], document["envs"][0]["head"]["lock"]) == ("missing", "stale")
    assert len(document["notes"]) == 2 and document["summary"]["stale_locks"] == 1
    assert 'name = "tool"' not in (project / "pylock.dev.toml").read_text(), "the lock on disk is left alone"


def test_a_config_missing_at_the_base_makes_every_env_added(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    (project / "README").write_text("hello\n")
    commit(project, "before envsync")
    configure(project, index, '[envs.dev]\ndependencies = ["lib"]\n[envs.lint]\ndependencies = ["lib"]\n')
    envsync(project, "lock")
    text = envsync(project, "plan", "--base", "main").stdout
    assert "env dev: added" in text and "env lint: added" in text
    assert "note: envs.toml does not exist at main: every env counts as added" in text


def test_config_in_a_subfolder_is_read_at_its_own_path(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "1.0"))
    sub = project / "services" / "api"
    configure(sub, index, '[envs.dev]\ndependencies = ["lib"]\n')
    envsync(sub, "lock")
    commit(project, "base")
    configure(sub, index, '[envs.dev]\ndependencies = ["lib", "tool"]\n')
    envsync(sub, "lock")
    text = envsync(sub, "plan", "--base", "main").stdout
    assert text.startswith("services/api/envs.toml: main") and "+ added      tool 1.0" in text


def test_the_ci_recipe_a_merge_commit_in_a_depth_2_clone(project: Path, index: LocalIndex, tmp_path: Path):
    """What examples/github-actions-envsync.yml does: check out the pull request's merge commit with
    fetch-depth 2 and compare with its first parent, the base branch."""
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "1.0"))
    configure(project, index, '[envs.dev]\ndependencies = ["lib"]\n')
    envsync(project, "lock")
    commit(project, "base")
    git(project, "checkout", "-q", "-b", "feature")
    configure(project, index, '[envs.dev]\ndependencies = ["lib", "tool"]\n')
    envsync(project, "lock")
    commit(project, "add tool")
    git(project, "checkout", "-q", "main")
    (project / "README").write_text("meanwhile on main\n")
    commit(project, "unrelated")
    git(project, "merge", "-q", "--no-ff", "-m", "merge", "feature")
    clone = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--depth", "2", project.as_uri(), str(clone))
    envsync(clone, "plan", "--locked", "--detailed-exitcode", code=2)  # fresh locks; the envs are not built here
    markdown = envsync(clone, "plan", "--base", "HEAD^1", "--format", "markdown").stdout
    assert "1 env changed (1 package added)" in markdown.splitlines()[0]
    assert "| added | `tool` |  | `1.0` |" in markdown


# -- errors ------------------------------------------------------------------------------


def test_a_folder_that_is_not_a_git_repository(tmp_path: Path, index: LocalIndex):
    folder = tmp_path / "plain"
    configure(folder, index, '[envs.dev]\ndependencies = ["lib"]\n')
    result = envsync(folder, "plan", "--base", "main", code=1)
    assert "is not in a git repository" in result.stderr and "hint:" in result.stderr
    as_json = envsync(folder, "plan", "--base", "main", "--json", code=1)
    error = json.loads(as_json.stdout)
    assert error["version"] == 1 and "not in a git repository" in error["error"]["message"]
    assert error["error"]["hint"]


def test_a_ref_that_does_not_exist(project: Path, index: LocalIndex):
    configure(project, index, '[envs.dev]\ndependencies = ["lib"]\n')
    commit(project, "base")
    result = envsync(project, "plan", "--base", "no-such-branch", code=1)
    assert "--base no-such-branch: no such branch, tag or commit" in result.stderr
    assert "git fetch" in result.stderr
    assert "not a git revision" in envsync(project, "plan", "--base=--output=x", code=1).stderr


def test_a_shallow_clone_without_the_base_commit(project: Path, index: LocalIndex, tmp_path: Path):
    configure(project, index, '[envs.dev]\ndependencies = []\n')
    commit(project, "one")
    (project / "README").write_text("two\n")
    commit(project, "two")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", project.as_uri(), str(clone))
    result = envsync(clone, "plan", "--base", "HEAD~1", code=1)
    assert "shallow clone" in result.stderr
    assert "git fetch --deepen" in result.stderr and "--unshallow" in result.stderr


def test_an_invalid_config_at_the_base_names_the_ref(project: Path, index: LocalIndex):
    (project / "envs.toml").write_text("[envs.dev\n")
    commit(project, "broken")
    configure(project, index, '[envs.dev]\ndependencies = []\n')
    result = envsync(project, "plan", "--base", "main", code=1)
    assert "at main: envs.toml: invalid TOML" in result.stderr


def test_unknown_env_and_misused_options(project: Path, index: LocalIndex):
    configure(project, index, '[envs.dev]\ndependencies = []\n')
    commit(project, "base")
    assert "did you mean 'dev'" in envsync(project, "plan", "--base", "main", "deb", code=1).stderr
    assert "--locked/--frozen" in envsync(project, "plan", "--base", "main", "--locked", code=1).stderr
    assert "--format needs --base" in envsync(project, "plan", "--format", "markdown", code=1).stderr


def test_ordinary_plan_errors_under_json_are_json(tmp_path: Path):
    result = envsync(tmp_path, "plan", "--json", code=1)
    error = json.loads(result.stdout)["error"]
    assert "no envs.toml found" in error["message"] and "--config" in error["hint"]
    assert "envs.toml" in result.stderr  # people still read it on stderr
