"""Where packages come from: JSON and HTML indexes, with and without metadata files,
file:// indexes, find-links folders; and how versions are chosen among what they offer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.pythons.interpreters import find_interpreter


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def planned(project: Path) -> dict[str, str]:
    """package -> version that `plan --json` would install into the only env."""
    result = run_envsync("plan", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    (env,) = json.loads(result.stdout)["envs"]
    return {a["package"]: a.get("version") or a.get("to") for a in env["actions"] if "package" in a}


def publish(index: LocalIndex) -> None:
    index.add(WheelSpec("core", "1.0"))
    index.add(WheelSpec("core", "1.1"))
    index.add(WheelSpec("web", "2.0", requires=["core>=1.0"], extras={"speed": ["fast>=1"]}))
    index.add(WheelSpec("fast", "1.5"))


@pytest.mark.parametrize("mode,metadata", [("json", True), ("json", False), ("html", True), ("html", False)])
def test_every_index_flavour_installs_the_same(project: Path, tmp_path: Path, mode: str, metadata: bool):
    with LocalIndex(tmp_path / "idx", mode=mode, metadata=metadata) as index:
        publish(index)
        write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["web[speed]"]\n')
        result = run_envsync("apply", cwd=project)
        assert result.returncode == 0, result.stderr
        assert installed(project / ".envs" / "e") == {"web": "2.0", "core": "1.1", "fast": "1.5"}
        metadata_requests = [r for r in index.requests if r.endswith(".metadata")]
        assert bool(metadata_requests) == metadata


def test_file_index_and_find_links(project: Path, tmp_path: Path, index: LocalIndex):
    publish(index)
    file_url = index.write_file_index(tmp_path / "static")
    links = index.write_find_links(tmp_path / "wheels")
    write_config(project, f'[settings]\nindex-url = "{file_url}"\n[envs.e]\ndependencies = ["web"]\n')
    assert planned(project) == {"web": "2.0", "core": "1.1"}
    write_config(project, f'[settings]\nindex-url = ""\nfind-links = ["{links}"]\n[envs.e]\ndependencies = ["web"]\n')
    assert run_envsync("apply", cwd=project).returncode == 0
    assert installed(project / ".envs" / "e") == {"web": "2.0", "core": "1.1"}
    index.clear_requests()
    assert not index.requests


def test_extra_index_is_consulted(project: Path, tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("core", "1.0"))
    with LocalIndex(tmp_path / "second") as second:
        second.add(WheelSpec("only-here", "0.1", requires=["core"]))
        write_config(project, f'[settings]\nindex-url = "{index.url}"\nextra-index-urls = ["{second.url}"]\n'
                              '[envs.e]\ndependencies = ["only_here"]\n')
        assert planned(project) == {"only-here": "0.1", "core": "1.0"}


def test_markers_extras_and_requires_python(project: Path, index: LocalIndex):
    index.add(WheelSpec("dep", "1.0"))
    index.add(WheelSpec("dep", "2.0", requires_python=">=4"))  # no Python here satisfies it
    index.add(WheelSpec("never", "1.0"))
    index.add(WheelSpec("pkg", "1.0", requires=["dep", "never; python_version < '3'"]))
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n'
                          '[envs.e]\ndependencies = ["pkg", "never; sys_platform == \'nonexistent\'"]\n')
    assert planned(project) == {"pkg": "1.0", "dep": "1.0"}


def test_yanked_skipped_unless_pinned_exactly(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "1.1"), yanked="broken release")
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    assert planned(project) == {"lib": "1.0"}
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib==1.1"]\n')
    assert planned(project) == {"lib": "1.1"}


def test_prereleases_only_when_asked_or_nothing_else_fits(project: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0b1"))
    index.add(WheelSpec("beta-only", "0.1a1"))
    base = f'[settings]\nindex-url = "{index.url}"\n'
    write_config(project, base + '[envs.e]\ndependencies = ["lib", "beta-only"]\n')
    assert planned(project) == {"lib": "1.0", "beta-only": "0.1a1"}
    write_config(project, base + '[envs.e]\ndependencies = ["lib>=2.0b1"]\n')
    assert planned(project) == {"lib": "2.0b1"}
    write_config(project, base + 'prereleases = true\n[envs.e]\ndependencies = ["lib"]\n')
    assert planned(project) == {"lib": "2.0b1"}


def test_wheel_tags_of_the_target_interpreter_decide(project: Path, index: LocalIndex):
    interpreter = find_interpreter(None, project)
    best = interpreter.tags[0]  # e.g. cp311-cp311-manylinux_2_36_x86_64
    index.add(WheelSpec("native", "1.0", tag="cp27-cp27m-win32"))  # never installable here
    index.add(WheelSpec("native", "0.9", tag=best))
    index.add(WheelSpec("native", "0.9", tag="py3-none-any"))
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["native"]\n')
    assert planned(project) == {"native": "0.9"}
    assert run_envsync("apply", cwd=project).returncode == 0
    lock = (project / "pylock.e.toml").read_text()
    assert best in lock and "py3-none-any" not in lock
