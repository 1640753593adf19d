"""`envsync add` / `envsync remove`: comment-preserving edits of envs.toml, synced, or nothing at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

pytest.importorskip("tomlkit")

CONFIG = """\
# Team envs: keep this comment
[settings]
index-url = "{url}"

[envs.dev]  # the main env
dependencies = [
    "a",  # first
    # b comes later
]
"""


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    for version in ("1.0", "2.0"):
        index.add(WheelSpec("a", version))
    index.add(WheelSpec("rich", "13.9.4"))
    index.add(WheelSpec("requests", "2.32.3"))
    index.add(WheelSpec("old", "1.0", requires=["a<2"]))
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "envs.toml").write_text(CONFIG.format(url=index.url))
    return folder


def envsync(project: Path, *args: str):
    return run_envsync(*args, cwd=project, env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")})


def test_add_keeps_comments_bounds_a_bare_name_and_syncs(project: Path):
    result = envsync(project, "add", "rich")
    assert result.returncode == 0, result.stderr
    text = (project / "envs.toml").read_text()
    assert "# Team envs: keep this comment" in text and "# the main env" in text
    assert '"a",  # first' in text and "# b comes later" in text
    assert '"rich>=13.9.4"' in text
    assert installed(project / ".envs" / "dev") == {"a": "2.0", "rich": "13.9.4"}
    assert (project / "pylock.dev.toml").is_file()
    assert "in sync" in envsync(project, "plan").stdout


def test_add_no_sync_only_edits(project: Path):
    result = envsync(project, "add", "requests==2.32.3", "--no-sync")
    assert result.returncode == 0, result.stderr
    assert '"requests==2.32.3"' in (project / "envs.toml").read_text()
    assert not (project / ".envs").exists() and not (project / "pylock.dev.toml").exists()


@pytest.mark.parametrize(("packages", "expect"), [
    (["requets"], ["'requets' was not found", "did you mean 'requests'"]),
    (["old"], ["a<2", "needed by old 1.0", "a>=2", "envs.dev.dependencies"]),
    (["a==9"], ["there is no version 9 of a"]),
    (["not a requirement!"], ["not a valid requirement"]),
])
def test_a_failed_add_leaves_envs_toml_byte_for_byte(project: Path, packages: list[str], expect: list[str]):
    if packages == ["old"]:
        envsync(project, "add", "a>=2", "--no-sync")
    before = (project / "envs.toml").read_bytes()
    result = envsync(project, "add", *packages)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    for fragment in expect:
        assert fragment in result.stderr, result.stderr
    assert (project / "envs.toml").read_bytes() == before
    assert not (project / ".envs").exists()


def test_remove_keeps_the_rest_and_syncs(project: Path):
    assert envsync(project, "add", "rich").returncode == 0
    result = envsync(project, "remove", "a")
    assert result.returncode == 0, result.stderr
    text = (project / "envs.toml").read_text()
    assert '"a"' not in text and "# b comes later" in text and '"rich>=13.9.4"' in text
    assert installed(project / ".envs" / "dev") == {"rich": "13.9.4"}


def test_remove_of_an_undeclared_or_inherited_name_says_where(project: Path, index: LocalIndex):
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        [envs.base]
        dependencies = ["rich"]
        [envs.dev]
        inherits = ["base"]
        dependencies = ["requests"]
        [envs.docs]
        dependencies = ["requests"]
    """)
    before = (project / "envs.toml").read_bytes()
    result = envsync(project, "remove", "rich", "--env", "dev")
    assert result.returncode == 1 and "envs.base.dependencies" in result.stderr
    result = envsync(project, "remove", "requets", "--env", "dev")
    assert result.returncode == 1 and "did you mean 'requests'" in result.stderr
    result = envsync(project, "remove", "requests")
    assert result.returncode == 1 and "--env" in result.stderr and "declared by 2 envs (dev, docs)" in result.stderr
    result = envsync(project, "add", "rich", "--env", "deev")
    assert result.returncode == 1 and "did you mean 'dev'" in result.stderr
    assert (project / "envs.toml").read_bytes() == before


def _start(project: Path, *args: str):
    import subprocess
    import sys

    from helpers import REPO_ROOT

    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "envsync", *args], cwd=project, env=environ, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sync", [False, True], ids=["no-sync", "synced"])
def test_two_concurrent_adds_both_land(project: Path, index: LocalIndex, sync: bool):
    """`envsync add gamma & envsync add delta`: one waits for the other, and envs.toml keeps both."""
    index.add(WheelSpec("gamma", "1.0"))
    index.add(WheelSpec("delta", "1.0"))
    flags = () if sync else ("--no-sync",)
    first, second = _start(project, "add", "gamma", *flags), _start(project, "add", "delta", *flags)
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    text = (project / "envs.toml").read_text()
    assert "gamma>=1.0" in text and "delta>=1.0" in text and "# first" in text
    if sync:
        assert {"gamma", "delta", "a"} <= set(installed(project / ".envs" / "dev"))


def test_add_keeps_the_config_files_mode(project: Path):
    (project / "envs.toml").chmod(0o600)
    envsync(project, "add", "rich", "--no-sync")
    assert (project / "envs.toml").stat().st_mode & 0o777 == 0o600
    assert "rich>=13.9.4" in (project / "envs.toml").read_text()


def test_remove_writes_through_a_symlinked_config(project: Path, tmp_path: Path):
    real = tmp_path / "shared" / "envs.toml"
    real.parent.mkdir()
    (project / "envs.toml").rename(real)
    (project / "envs.toml").symlink_to(real)
    envsync(project, "add", "rich", "--no-sync")
    envsync(project, "remove", "a", "--no-sync")
    assert (project / "envs.toml").is_symlink()
    text = real.read_text()
    assert "rich>=13.9.4" in text and '"a"' not in text and "# Team envs" in text
def test_remove_takes_the_only_env_that_declares_the_package(project: Path, index: LocalIndex):
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        [envs.base]
        dependencies = ["rich", "a"]
        [envs.dev]
        inherits = ["base"]
        dependencies = ["requests"]
    """)
    result = envsync(project, "remove", "rich", "--no-sync")
    assert result.returncode == 0, result.stderr
    assert "removed rich from envs.base.dependencies" in result.stdout
    assert 'dependencies = ["a"]' in (project / "envs.toml").read_text()


def test_remove_leaves_no_empty_list_behind(project: Path):
    assert envsync(project, "remove", "a", "--no-sync").returncode == 0
    text = (project / "envs.toml").read_text()
    assert "dependencies" not in text and "# the main env" in text and "[envs.dev]" in text


def test_remove_of_a_package_another_brings_in_says_through_what(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("pytest", "8.0"))
    index.add(WheelSpec("pytest-benchmark", "4.0", requires=["pytest>=8"]))
    write_config(tmp_path, f"""
        [settings]
        index-url = "{index.url}"
        [envs.bench]
        dependencies = ["pytest-benchmark"]
    """)
    assert envsync(tmp_path, "lock").returncode == 0
    result = envsync(tmp_path, "remove", "pytest", "--env", "bench")
    assert result.returncode == 1
    assert "env bench does not declare pytest: it comes in through pytest-benchmark 4.0" in result.stderr
    assert "remove pytest-benchmark instead" in result.stderr


REQUIREMENTS = """\
# dev tools, pinned by hand
a==1.0  # keep this one
"""


def test_add_to_an_env_that_reads_requirements_files(tmp_path: Path, index: LocalIndex):
    for name, version in (("a", "1.0"), ("httpx", "0.28.1"), ("rich", "13.9.4")):
        index.add(WheelSpec(name, version))
    (tmp_path / "requirements").mkdir(parents=True)
    (tmp_path / "requirements" / "dev.txt").write_text(REQUIREMENTS)
    (tmp_path / "requirements" / "docs.txt").write_text("rich\n")
    write_config(tmp_path, f"""
        [settings]
        index-url = "{index.url}"
        [envs.dev]
        requirements = ["requirements/dev.txt"]
        [envs.both]
        requirements = ["requirements/dev.txt", "requirements/docs.txt"]
    """)
    config_before = (tmp_path / "envs.toml").read_bytes()
    # One file and no dependencies in envs.toml: that file is the obvious place.
    result = envsync(tmp_path, "add", "httpx", "--env", "dev", "--no-sync")
    assert result.returncode == 0, result.stderr
    assert "added httpx>=0.28.1 to requirements/dev.txt" in result.stdout
    assert (tmp_path / "requirements" / "dev.txt").read_text() == REQUIREMENTS + "httpx>=0.28.1\n"
    assert (tmp_path / "envs.toml").read_bytes() == config_before
    # Two files: asked which, and nothing is written.
    result = envsync(tmp_path, "add", "rich", "--env", "both")
    assert result.returncode == 1 and "which one should rich go to?" in result.stderr
    assert "--to FILE, one of: requirements/dev.txt, requirements/docs.txt, envs.toml" in result.stderr
    result = envsync(tmp_path, "add", "rich", "--env", "both", "--to", "envs.toml", "--no-sync")
    assert result.returncode == 0, result.stderr
    assert 'dependencies = ["rich>=13.9.4"]' in (tmp_path / "envs.toml").read_text()
    # remove takes it from the file that declares it, keeping the comments.
    result = envsync(tmp_path, "remove", "httpx", "--env", "dev")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "requirements" / "dev.txt").read_text() == REQUIREMENTS
    assert installed(tmp_path / ".envs" / "dev") == {"a": "1.0"}
