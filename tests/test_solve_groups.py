"""Solve groups: envs resolved together agree on every shared version, and each installs only its own."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest
from helpers import installed, python_path, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


def publish(index: LocalIndex) -> None:
    """beta's newest is 2.0, but dev's needs-old-beta caps it below 2; beta[fast] adds speedup."""
    for version in ("1.0", "1.5", "2.0"):
        index.add(WheelSpec("beta", version, extras={"fast": ["speedup"]}))
    index.add(WheelSpec("speedup", "1.0"))
    index.add(WheelSpec("needs-old-beta", "1.0", requires=["beta<2"]))
    index.add(WheelSpec("tool", "1.0"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def configure(project: Path, index: LocalIndex, group: str | None, dev: str = '"beta[fast]", "needs-old-beta", "tool"',
              prod: str = '"beta"', prod_extra: str = "", dev_extra: str = "") -> None:
    line = f'solve-group = "{group}"\n' if group else ""
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n'
                          f'[envs.prod]\ndependencies = [{prod}]\n{line}{prod_extra}'
                          f'[envs.dev]\ndependencies = [{dev}]\n{line}{dev_extra}')


def envsync(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_envsync(*args, cwd=project)


def locked_versions(project: Path, env: str) -> dict[str, str]:
    document = tomllib.loads((project / f"pylock.{env}.toml").read_text())
    return {package["name"]: package["version"] for package in document["packages"]}


def lock_digest(project: Path, env: str) -> str:
    return tomllib.loads((project / f"pylock.{env}.toml").read_text())["tool"]["envsync"]["inputs"]


def test_apart_the_envs_disagree_on_beta(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, None)
    result = envsync(project, "lock")
    assert result.returncode == 0, result.stderr
    assert locked_versions(project, "prod") == {"beta": "2.0"}
    assert locked_versions(project, "dev")["beta"] == "1.5"


def test_in_one_group_they_agree_and_prod_stays_small(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, "main")
    plan = envsync(project, "plan")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("solve group main: prod, dev resolved together") == 1
    assert "in common: beta 1.5" in plan.stdout
    assert "lock: pylock.dev.toml, pylock.prod.toml will be written together" in plan.stdout
    assert "+ install  beta 1.5" in plan.stdout and "beta 2.0" not in plan.stdout

    applied = envsync(project, "apply")
    assert applied.returncode == 0, applied.stderr
    assert installed(project / ".envs" / "prod") == {"beta": "1.5"}  # not dev's tool, nor beta[fast]'s speedup
    assert installed(project / ".envs" / "dev") == {"beta": "1.5", "needs-old-beta": "1.0", "speedup": "1.0",
                                                     "tool": "1.0"}
    assert locked_versions(project, "prod") == {"beta": "1.5"}
    prod_lock = tomllib.loads((project / "pylock.prod.toml").read_text())
    assert prod_lock["tool"]["envsync"]["solve-group"] == "main"
    (beta,) = prod_lock["packages"]
    assert "dependencies" not in beta  # dev's beta[fast] -> speedup edge is not prod's
    assert lock_digest(project, "prod") == lock_digest(project, "dev")

    document = json.loads(envsync(project, "plan", "--json").stdout)
    assert [env["solve_group"] for env in document["envs"]] == ["main", "main"]
    assert document["solve_groups"] == [{"name": "main", "envs": ["prod", "dev"], "in_common": {"beta": "1.5"}}]
    listing = envsync(project, "list")
    assert listing.returncode == 0 and "solve group main" in listing.stdout
    for args in ((), ("--json",), ("dev",), ("list",)):
        command = ("list",) if args == ("list",) else ("plan", *args)
        fast, full = envsync(project, *command), envsync(project, *command, "--refresh")
        assert fast.returncode == full.returncode == 0
        assert fast.stdout == full.stdout


def test_a_conflict_in_the_group_names_both_envs(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, "main", prod='"beta>=2"', dev='"needs-old-beta"')
    result = envsync(project, "plan")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "solve group 'main'" in result.stderr
    # Each root is named where it is written, as a plain env's conflict names it.
    assert "`prod` needs `beta>=2` (envs.prod.dependencies)" in result.stderr
    assert "`dev` needs `needs-old-beta` (envs.dev.dependencies), which needs `beta<2`" in result.stderr
    assert "out of solve group 'main'" in result.stderr
    assert not (project / "pylock.prod.toml").exists() and not (project / ".envs").exists()


@pytest.mark.skipif(not (python_path("3.11") and python_path("3.12")), reason="needs pyenv 3.11 and 3.12")
def test_a_group_across_two_pythons_is_refused_before_resolving(project: Path, index: LocalIndex):
    # Nothing is published: resolving would fail on the missing package, so the error shows it did not.
    configure(project, index, "main", prod_extra=f'python = "{python_path("3.11")}"\n',
              dev_extra=f'python = "{python_path("3.12")}"\n', prod='"missing-package"', dev='"missing-package"')
    result = envsync(project, "lock")
    assert result.returncode == 1
    assert "solve group 'main' mixes interpreters" in result.stderr
    assert "prod: Python 3.11" in result.stderr and "dev: Python 3.12" in result.stderr
    assert "missing-package" not in result.stderr and "Traceback" not in result.stderr


def test_a_change_to_one_env_relocks_the_whole_group(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, "main", dev='"beta"')
    assert envsync(project, "lock").returncode == 0
    assert locked_versions(project, "prod") == locked_versions(project, "dev") == {"beta": "2.0"}
    before = lock_digest(project, "prod")

    configure(project, index, "main", dev='"beta", "needs-old-beta"')  # only dev's requirements change
    plan = envsync(project, "plan")
    assert "lock: pylock.dev.toml, pylock.prod.toml will be written together" in plan.stdout
    result = envsync(project, "lock", "prod")  # naming one env of the group locks the group
    assert result.returncode == 0, result.stderr
    assert "wrote pylock.prod.toml" in result.stdout and "wrote pylock.dev.toml" in result.stdout
    assert locked_versions(project, "prod") == {"beta": "1.5"}
    assert locked_versions(project, "dev") == {"beta": "1.5", "needs-old-beta": "1.0"}
    assert lock_digest(project, "prod") == lock_digest(project, "dev") != before
    again = envsync(project, "lock")
    assert "pylock.prod.toml is up to date" in again.stdout and "pylock.dev.toml is up to date" in again.stdout


def test_locked_fails_when_any_lock_of_the_group_is_stale(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, "main", dev='"beta"')
    assert envsync(project, "lock").returncode == 0
    assert envsync(project, "plan", "--locked", "prod").returncode == 0

    (project / "pylock.dev.toml").unlink()  # prod's own lock is untouched
    result = envsync(project, "plan", "--locked", "prod")
    assert result.returncode == 1
    assert "solve group 'main'" in result.stderr and "pylock.dev.toml (missing)" in result.stderr
    assert "envsync lock prod dev" in result.stderr

    assert envsync(project, "lock").returncode == 0
    configure(project, index, "main", dev='"beta", "tool"')
    result = envsync(project, "apply", "--locked", "prod")
    assert result.returncode == 1
    assert "pylock.prod.toml (out of date)" in result.stderr and "pylock.dev.toml (out of date)" in result.stderr
    assert not (project / ".envs").exists()


def test_moving_an_env_out_of_the_group_lets_it_resolve_alone(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, "main", dev='"beta", "needs-old-beta"')
    assert envsync(project, "lock").returncode == 0
    assert locked_versions(project, "prod") == {"beta": "1.5"}
    configure(project, index, None, dev='"beta", "needs-old-beta"')
    assert envsync(project, "lock", "--upgrade").returncode == 0
    assert locked_versions(project, "prod") == {"beta": "2.0"}


def test_export_of_one_env_writes_the_groups_locks_together(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, "main", dev='"beta", "needs-old-beta"')
    result = envsync(project, "export", "prod")
    assert result.returncode == 0, result.stderr
    assert "wrote pylock.prod.toml" in result.stderr and "wrote pylock.dev.toml" in result.stderr
    assert [line.split(" ")[0] for line in result.stdout.splitlines() if "==" in line and not line.startswith("#")] == ["beta==1.5"]
    assert lock_digest(project, "prod") == lock_digest(project, "dev")


def test_locked_names_the_line_a_group_member_gained(project: Path, index: LocalIndex):
    """A solve group's --locked error names what changed and where, as a lone env's does."""
    publish(index)
    (project / "requirements-dev.txt").write_text("beta\n")
    configure(project, index, "main", dev="", dev_extra='requirements = ["requirements-dev.txt"]\n')
    assert envsync(project, "lock").returncode == 0
    (project / "requirements-dev.txt").write_text("# comments change nothing\nbeta\n\n")
    assert envsync(project, "plan", "--locked").returncode == 0
    (project / "requirements-dev.txt").write_text("beta\ntool\n")
    result = envsync(project, "plan", "--locked")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "solve group 'main'" in result.stderr
    assert "pylock.dev.toml is out of date with requirements-dev.txt: tool was added (requirements-dev.txt:2)" \
        in result.stderr
