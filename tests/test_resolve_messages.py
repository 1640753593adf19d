"""Resolution failures against a real local index: each names the true reason, and where to change it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def config(project: Path, index: LocalIndex, dependencies: list[str], extra: str = "") -> None:
    deps = ", ".join(f'"{d}"' for d in dependencies)
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = [{deps}]\n{extra}')


def failure(project: Path, *args: str) -> str:
    result = run_envsync(*(args or ("plan",)), cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert len(result.stderr) < 1500, result.stderr
    return result.stderr


def sdist(index: LocalIndex, tmp_path: Path, name: str, version: str) -> None:
    path = tmp_path / f"{name}-{version}.tar.gz"
    path.write_bytes(b"not really a tarball")
    index.add_file(name, path)


def test_no_such_version_says_which_exist(project: Path, index: LocalIndex, tmp_path: Path):
    for version in ("1.0", "1.1", "2.0"):
        index.add(WheelSpec("a", version))
        sdist(index, tmp_path, "a", version)
    config(project, index, ["a==99"])
    stderr = failure(project)
    assert "there is no version 99 of a" in stderr and "1.0 to 2.0" in stderr and "latest: 2.0" in stderr
    assert "env dev" in stderr
    assert "source distribution" not in stderr


def test_yanked_only_package_says_yanked_with_the_reason(project: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0"), yanked="broken build, use 1.1")
    config(project, index, ["a"])
    stderr = failure(project)
    assert "yanked" in stderr and "broken build, use 1.1" in stderr
    assert "no version matches" not in stderr


def test_yanked_reason_from_an_html_index(project: Path, html_index: LocalIndex):
    html_index.add(WheelSpec("a", "1.0"), yanked="bad metadata")
    config(project, html_index, ["a"])
    assert "bad metadata" in failure(project)


def test_exact_pin_of_a_yanked_version_in_another_spelling(project: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0"), yanked="oops")
    config(project, index, ["a==1.0.0"])
    result = run_envsync("plan", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "a" in result.stdout and "1.0" in result.stdout


def test_requires_python_names_only_the_versions_that_matter(project: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0", requires_python="<3.6"))
    index.add(WheelSpec("a", "2.0", requires_python=">=3.99"))
    config(project, index, ["a>=2"])
    stderr = failure(project)
    assert "a 2.0 needs Python >=3.99" in stderr and "this env uses Python 3." in stderr
    assert "<3.6" not in stderr and "source distribution" not in stderr


def test_no_wheel_for_this_platform_names_the_tags(project: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0", tag="cp27-cp27mu-manylinux1_x86_64"))
    config(project, index, ["a"])
    stderr = failure(project)
    assert "wheels only for cp27-cp27mu-manylinux1_x86_64" in stderr
    assert "this interpreter takes" in stderr and "not found" not in stderr


def test_wheels_only_for_another_system_is_not_a_missing_package(project: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0", tag="cp27-cp27m-win32"))
    config(project, index, ["a"])
    stderr = failure(project)
    assert "none of its files is for this operating system" in stderr and "not found" not in stderr


def test_an_sdist_only_version_is_tried_and_a_broken_one_is_named(project: Path, index: LocalIndex, tmp_path: Path):
    """sdists are built now: the only file of a 2.0 is used, and when it is no archive at all
    the message names that file, not "no version" or a missing wheel."""
    index.add(WheelSpec("a", "1.0"))
    sdist(index, tmp_path, "a", "2.0")
    config(project, index, ["a>=2"])
    stderr = failure(project)
    assert "a-2.0.tar.gz" in stderr and "not a readable source distribution" in stderr
    assert "no version" not in stderr and "wheel" not in stderr


def test_conflict_reads_as_a_chain_per_side(project: Path, index: LocalIndex):
    for version in ("1.0", "1.5", "2.0", "2.7"):
        index.add(WheelSpec("pydantic", version))
    for version in ("0.130", "0.131", "0.132"):
        index.add(WheelSpec("fastapi", version, requires=["pydantic>=2.7"]))
    config(project, index, ["pydantic<2", "fastapi>=0.130"])
    stderr = failure(project)
    lines = stderr.splitlines()
    assert any(line.strip().startswith("pydantic<2 ") and "you asked for it" in line for line in lines)
    assert any(line.strip().startswith("pydantic>=2.7 ") and "fastapi 0.130 to 0.132" in line
               and "fastapi>=0.130" in line for line in lines), stderr
    assert "source distribution" not in stderr and "0.131" not in stderr


def test_conflict_between_a_range_and_another_package_is_not_a_missing_package(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("b", "1.0", requires=["lib<2"]))
    index.add(WheelSpec("b", "2.0", requires=["d"]))  # d is on no index
    index.add(WheelSpec("c", "1.0", requires=["lib>=2"]))
    config(project, index, ["b<2", "c"])
    stderr = failure(project)
    assert "not found" not in stderr
    assert "lib<2" in stderr and "lib>=2" in stderr and "b 1.0" in stderr and "c 1.0" in stderr


def test_conflict_names_the_env_and_where_each_side_was_declared(project: Path, index: LocalIndex):
    for version in ("1.0", "2.7"):
        index.add(WheelSpec("pydantic", version))
    index.add(WheelSpec("fastapi", "0.130", requires=["pydantic>=2.7"]))
    (project / "pyproject.toml").write_text('[dependency-groups]\ntest = ["fastapi>=0.130"]\n')
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        [envs.base]
        dependencies = ["pydantic<2"]
        [envs.dev]
        inherits = ["base"]
        groups = ["test"]
    """)
    stderr = failure(project, "plan", "dev")
    assert "env dev" in stderr
    assert "envs.base.dependencies, inherited" in stderr
    assert "group 'test' in pyproject.toml" in stderr


def test_conflict_names_the_requirements_file_line(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    (project / "requirements.txt").write_text("# pinned by ops\nlib>=2\n")
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        [envs.dev]
        dependencies = ["lib<2"]
        requirements = ["requirements.txt"]
    """)
    stderr = failure(project)
    assert "requirements.txt:2" in stderr and "envs.dev.dependencies" in stderr


def test_locked_after_a_group_change_names_pyproject(project: Path, index: LocalIndex):
    index.add(WheelSpec("a", "1.0"))
    index.add(WheelSpec("b", "1.0"))
    (project / "pyproject.toml").write_text('[dependency-groups]\ntest = ["a"]\n')
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        [envs.dev]
        groups = ["test"]
    """)
    assert run_envsync("lock", cwd=project).returncode == 0
    (project / "pyproject.toml").write_text('[dependency-groups]\ntest = ["a", "b"]\n')
    stderr = failure(project, "plan", "--locked")
    assert "pyproject.toml" in stderr and "b was added (group 'test' in pyproject.toml)" in stderr
    assert "out of date with envs.toml" not in stderr
