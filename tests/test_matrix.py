"""`matrix = { python = [...] }`: one declared env, one real env per Python, and every command's name rules."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import assert_config_refused, installed, run_envsync, two_pythons, venv_python, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.config import cached
from envsync.config.load import load

OLD, NEW = two_pythons()
OLD_NAME, NEW_NAME = f"test-py{OLD.replace('.', '')}", f"test-py{NEW.replace('.', '')}"


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    """`test` over two Pythons; lib 2.0 needs the newer one, so each expansion resolves for itself.
    `lint` inherits test's declaration and is a plain env."""
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0", requires_python=f">={NEW}"))
    index.add(WheelSpec("tool", "0.5", console_scripts={"tool": "tool:main"}))
    folder = tmp_path / "project"
    write_config(folder, f"""
        [settings]
        index-url = "{index.url}"

        [envs.test]
        matrix = {{ python = ["{OLD}", "{NEW}"] }}
        dependencies = ["lib"]

        [envs.lint]
        inherits = ["test"]
        dependencies = ["tool"]
    """)
    return folder


def envsync(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_envsync(*args, cwd=project)


def own_version(env: Path) -> str:
    """The env's Python major.minor, as its own interpreter says."""
    script = "import sys; print('%d.%d' % sys.version_info[:2])"
    return subprocess.run([str(venv_python(env)), "-c", script], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def test_a_matrix_over_two_pythons_is_applied_and_run_across_both(project: Path):
    result = envsync(project, "apply", "test")
    assert result.returncode == 0, result.stderr
    old, new = project / ".envs" / OLD_NAME, project / ".envs" / NEW_NAME
    assert own_version(old) == OLD and own_version(new) == NEW
    assert installed(old) == {"lib": "1.0"} and installed(new) == {"lib": "2.0"}
    assert (project / f"pylock.{OLD_NAME}.toml").is_file() and (project / f"pylock.{NEW_NAME}.toml").is_file()
    assert not (project / ".envs" / "lint").exists() and not (project / ".envs" / "test").exists()

    script = "import sys, lib; print('%d.%d' % sys.version_info[:2])"
    run = envsync(project, "run", "test", "--", "python", "-c", script)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{OLD}\n{NEW}\n"  # stdout is the command's, each expansion in matrix order
    assert f"==> {OLD_NAME}: python -c " in run.stderr and f"==> {NEW_NAME}: python -c " in run.stderr
    assert f"==> summary: {OLD_NAME}: ok, {NEW_NAME}: ok" in run.stderr

    failing = f"import sys; sys.exit(3 if sys.version_info[:2] == ({NEW.replace('.', ', ')}) else 0)"
    run = envsync(project, "run", "test", "--", "python", "-c", failing)
    assert run.returncode == 1
    assert f"==> summary: {OLD_NAME}: ok, {NEW_NAME}: failed (exit 3)" in run.stderr

    one = envsync(project, "run", NEW_NAME, "--", "python", "-c", failing)
    assert one.returncode == 3 and "==>" not in one.stderr  # one expansion: exactly as for any env

    missing = envsync(project, "run", "test", "--", "no-such-command")
    assert missing.returncode == 1
    assert f"command 'no-such-command' not found in {old / 'bin'}" in missing.stderr
    assert f"==> summary: {OLD_NAME}: not run, {NEW_NAME}: not run" in missing.stderr


def test_the_declared_name_selects_every_expansion(project: Path):
    plan = envsync(project, "plan", "test")
    assert plan.returncode == 0, plan.stderr
    assert f"env {OLD_NAME} (.envs/{OLD_NAME}, Python {OLD}." in plan.stdout
    assert f"env {NEW_NAME} (.envs/{NEW_NAME}, Python {NEW}." in plan.stdout
    assert "env lint" not in plan.stdout

    lock = envsync(project, "lock", "test")
    assert lock.returncode == 0, lock.stderr
    assert sorted(path.name for path in project.glob("pylock.*.toml")) == sorted(
        [f"pylock.{OLD_NAME}.toml", f"pylock.{NEW_NAME}.toml"])

    document = json.loads(envsync(project, "plan", "--json").stdout)
    origins = {env["name"]: env["matrix"] for env in document["envs"]}
    assert origins == {OLD_NAME: {"of": "test", "python": OLD}, NEW_NAME: {"of": "test", "python": NEW},
                       "lint": None}

    listing = envsync(project, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == f"test (matrix: python {OLD}, {NEW})"
    assert lines[1].startswith(f"  {OLD_NAME}  ") and lines[1].endswith("missing")
    assert lines[2].startswith(f"  {NEW_NAME}  ") and lines[3].startswith("lint ")
    assert envsync(project, "list", "test").stdout.splitlines() == lines[:3]

    unknown = envsync(project, "plan", "tset")
    assert unknown.returncode == 1 and "no env named 'tset'" in unknown.stderr and "did you mean 'test'?" in unknown.stderr


def test_an_in_sync_matrix_is_shown_and_run_from_the_no_op_record(project: Path):
    assert envsync(project, "apply").returncode == 0
    full = envsync(project, "plan", "--json", "--refresh", "test")
    quick = envsync(project, "plan", "--json", "test")  # from the stamp: the same envs, matrix origin kept
    assert json.loads(quick.stdout)["envs"] == json.loads(full.stdout)["envs"]
    assert [env["name"] for env in json.loads(quick.stdout)["envs"]] == [OLD_NAME, NEW_NAME]
    assert envsync(project, "list", "test").stdout.splitlines()[0] == f"test (matrix: python {OLD}, {NEW})"
    run = envsync(project, "run", "test", "--", "python", "-c", "pass")
    assert run.returncode == 0 and "No changes" not in run.stderr  # nothing was synced: the record proved it
    assert f"==> summary: {OLD_NAME}: ok, {NEW_NAME}: ok" in run.stderr


def test_a_dropped_python_removes_its_expansion_and_lock(project: Path, index: LocalIndex):
    assert envsync(project, "apply").returncode == 0
    text = (project / "envs.toml").read_text().replace(f'"{OLD}", ', "")
    (project / "envs.toml").write_text(text)
    assert envsync(project, "apply").returncode == 0
    assert not (project / ".envs" / OLD_NAME).exists() and not (project / f"pylock.{OLD_NAME}.toml").exists()
    assert installed(project / ".envs" / NEW_NAME) == {"lib": "2.0"}


def test_a_one_env_command_refuses_a_matrix_name_and_lists_its_expansions(project: Path):
    for command in ("freeze", "tree", "export"):
        result = envsync(project, command, "test")
        assert result.returncode == 1
        assert f"'test' is a matrix env with 2 expansions ({OLD_NAME}, {NEW_NAME})" in result.stderr
        assert f"`envsync {command} {NEW_NAME}`" in result.stderr


def test_add_edits_the_declaration_and_syncs_every_expansion(project: Path):
    pytest.importorskip("tomlkit")
    result = envsync(project, "add", "tool", "--env", "test")
    assert result.returncode == 0, result.stderr
    assert 'dependencies = ["lib", "tool>=0.5"]' in (project / "envs.toml").read_text()
    assert installed(project / ".envs" / OLD_NAME) == {"lib": "1.0", "tool": "0.5"}
    assert installed(project / ".envs" / NEW_NAME) == {"lib": "2.0", "tool": "0.5"}


def test_an_inheriting_env_gets_the_declaration_but_not_the_matrix(project: Path):
    config = load(project / "envs.toml")
    lint = config.env("lint")
    assert [str(r) for r in lint.requirements] == ["tool", "lib"]
    assert lint.python is None and lint.matrix_of is None
    assert [(spec.name, spec.python, spec.matrix_of) for spec in config.envs] == [
        (OLD_NAME, OLD, "test"), (NEW_NAME, NEW, "test"), ("lint", None, None)]
    assert cached.decode(cached.encode(config)) == config  # the config cache keeps where each env came from


@pytest.mark.parametrize(("body", "message"), [
    ('matrix = { python = ["3.10", "3.11/"] }',
     "envs.test.matrix.python[1]: '3.11/' is not a major.minor Python version"),
    ('matrix = { python = [">=3.10"] }', "envs.test.matrix.python[0]: '>=3.10' is not a major.minor Python version"),
    ('matrix = { python = ["3.10.2"] }', "envs.test.matrix.python[0]: '3.10.2' is not a major.minor"),
    ('matrix = { python = ["3.10", "3.10"] }', "envs.test.matrix.python[1]: '3.10' is listed twice"),
    ("matrix = { python = [] }", "envs.test.matrix.python: list at least one Python version"),
    ('matrix = { pythons = ["3.10"] }', "envs.test.matrix.pythons: unknown key (did you mean 'python'?)"),
    ('matrix = { python = ["3.10"] }\npython = "3.10"', "envs.test: `python` and `matrix` can't be used together"),
    ('matrix = { python = ["3.10"] }\npath = ".venv"', "envs.test: `path` and `matrix` can't be used together"),
    ('matrix = { python = ["3.10"] }\nsolve-group = "main"',
     "envs.test: `solve-group` and `matrix` can't be used together"),
    ('matrix = { python = ["3.10", "3.11"] }\n[envs.test-py311]',
     "envs.test.matrix.python[1]: '3.11' expands to env 'test-py311', which envs.test-py311 already names"),
    ('matrix = { python = ["3.10"] }\n[envs.Test-PY310]',
     "envs.test.matrix.python[0]: '3.10' expands to env 'test-py310', which envs.Test-PY310 already names"),
])
def test_matrix_mistakes_name_the_key(tmp_path: Path, body: str, message: str):
    assert_config_refused(tmp_path, f'[settings]\nindex-url = ""\n[envs.test]\n{body}\n', message)


def test_plan_base_takes_the_declared_name(project: Path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
                       cwd=project, capture_output=True, check=True, timeout=60)

    assert envsync(project, "lock").returncode == 0
    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    (project / "envs.toml").write_text((project / "envs.toml").read_text().replace('["lib"]', '["lib", "tool"]'))
    review = envsync(project, "plan", "--base", "HEAD", "--format", "json", "test")
    assert review.returncode == 0, review.stderr
    changed = {env["name"]: [change["package"] for change in env["changes"]] for env in json.loads(review.stdout)["envs"]}
    assert changed == {OLD_NAME: ["tool"], NEW_NAME: ["tool"]}
