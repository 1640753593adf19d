"""`envsync tree ENV [--invert PKG]`: the locked packages as a tree, and why a package is there."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("core", "3.0"))
    index.add(WheelSpec("mid", "1.0", requires=["lib", "core>=3"]))
    index.add(WheelSpec("app", "1.0", requires=["lib<2", "mid>=1"]))
    index.add(WheelSpec("tool", "0.1"))
    folder = tmp_path / "project"
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["app", "tool>=0.1"]\n')
    return folder


EXPECTED = """\
app 1.0  (app)
├── lib 1.0  (lib<2)
└── mid 1.0  (mid>=1)
    ├── core 3.0  (core>=3)
    └── lib 1.0  (lib)
tool 0.1  (tool>=0.1)
"""


def test_tree_from_a_fresh_resolve_and_from_the_lock(project: Path):
    first = run_envsync("tree", "dev", cwd=project)
    assert first.returncode == 0, first.stderr
    assert first.stdout == EXPECTED and "wrote pylock.dev.toml" in first.stderr
    again = run_envsync("tree", "dev", cwd=project)  # now read from the lock, which keeps the reasons
    assert again.stdout == EXPECTED and again.stderr == ""


def test_invert_shows_every_path_to_the_package(project: Path):
    result = run_envsync("tree", "dev", "--invert", "LIB", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "lib 1.0 is in env dev because of:\n"
        "  app 1.0  (app) -> lib 1.0  (lib<2)\n"
        "  app 1.0  (app) -> mid 1.0  (mid>=1) -> lib 1.0  (lib)\n")
    root = run_envsync("tree", "dev", "--invert", "tool", cwd=project)
    assert root.stdout.splitlines()[1] == "  tool 0.1  (tool>=0.1)"
    unknown = run_envsync("tree", "dev", "--invert", "mdi", cwd=project)
    assert unknown.returncode == 1 and "did you mean 'mid'" in unknown.stderr
    assert "did you mean 'dev'" in run_envsync("tree", "de", cwd=project).stderr


def test_the_project_is_a_root_with_its_dependencies_under_it(tmp_path: Path, index: LocalIndex):
    from backends import write_tiny_project

    index.add(WheelSpec("werkzeug", "3.0", requires=["markupsafe"]))
    index.add(WheelSpec("markupsafe", "2.0"))
    index.add(WheelSpec("tool", "0.1"))
    folder = write_tiny_project(tmp_path / "flaskish", "flaskish", dependencies=["werkzeug>=3"])
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\nproject = "."\n'
                         'dependencies = ["tool"]\n')
    expected = ("tool 0.1  (tool)\n"
                "flaskish 1.0  (flaskish @ .)\n"
                "└── werkzeug 3.0  (werkzeug>=3)\n"
                "    └── markupsafe 2.0  (markupsafe)\n")
    first = run_envsync("tree", "dev", cwd=folder)
    assert first.returncode == 0, first.stderr
    assert first.stdout == expected
    assert run_envsync("tree", "dev", cwd=folder).stdout == expected  # from the lock
    invert = run_envsync("tree", "dev", "--invert", "werkzeug", cwd=folder)
    assert invert.stdout == ("werkzeug 3.0 is in env dev because of:\n"
                             "  flaskish 1.0  (flaskish @ .) -> werkzeug 3.0  (werkzeug>=3)\n")
