"""A venv adopted in a folder that holds other things is never recreated or removed, and
envsync's own venvs carry a .gitignore whatever Python made them (adopted ones never get one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import installed, make_venv, python_path, run_envsync, venv_python, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.errors import EnvPathError
from envsync.install.venv import recreate_venv, remove_venv
from envsync.pythons.interpreters import probe
from envsync.state.venv_contents import strangers


def _python(version: str) -> str:
    found = python_path(version)
    if found is None:
        pytest.skip(f"needs CPython {version} under ~/.pyenv/versions")
    return found


def _version_of(env: Path) -> str:
    return subprocess.run([str(venv_python(env)), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _snapshot(folder: Path, names: list[str]) -> dict[str, bytes]:
    """Every file under the named entries of `folder`, by relative path, with its bytes."""
    found = {}
    for name in names:
        top = folder / name
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if path.is_file():
                found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def _config(project: Path, index: LocalIndex, python: str, path: str) -> None:
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n'
                          f'[envs.dev]\npath = "{path}"\npython = "{python}"\ndependencies = ["lib"]\n')


def test_a_project_folder_adopted_as_a_venv_is_never_recreated(tmp_path: Path, index: LocalIndex) -> None:
    index.add(WheelSpec("lib", "1.0", console_scripts={"lib-tool": "lib:main"}))
    project = tmp_path / "project"
    project.mkdir()
    make_venv(project, _python("3.11"))  # `python3.11 -m venv .` in the project folder
    _python("3.13")
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("print('my work')\n")
    (project / "NOTES.md").write_text("# notes\nnever lose these\n")
    (project / ".gitignore").write_text("__pycache__/\n*.egg-info/\n")
    (project / ".git" / "refs").mkdir(parents=True)
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / ".git" / "config").write_text("[core]\n\tbare = false\n")
    _config(project, index, "3.11", ".")
    assert run_envsync("apply", cwd=project).returncode == 0
    assert installed(project) == {"lib": "1.0"}
    assert not (project / ".gitignore").read_text().endswith("*\n")  # envsync wrote no .gitignore of its own
    mine = ["src", "NOTES.md", ".gitignore", ".git"]
    before = _snapshot(project, mine)

    _config(project, index, "3.13", ".")
    plan = run_envsync("plan", cwd=project)
    assert plan.returncode == 1
    shown = plan.stdout + plan.stderr
    assert "cannot recreate dev:" in shown and "not part of the venv" in shown
    assert "in sync" not in plan.stdout and "1 env could not be planned" in plan.stdout, plan.stdout
    for name in ("src", "NOTES.md", ".git", ".gitignore", "envs.toml"):
        assert str(project / name) in shown
    assert str(project / "bin") not in shown and str(project / "lib") not in shown

    result = run_envsync("apply", cwd=project)
    assert result.returncode == 1
    assert "cannot recreate dev:" in result.stderr and str(project / "src") in result.stderr
    assert str(project / "NOTES.md") in result.stderr and "Traceback" not in result.stderr
    assert _snapshot(project, mine) == before
    assert _version_of(project) == "3.11" and installed(project) == {"lib": "1.0"}


def test_an_adopted_venv_holding_only_venv_files_is_recreated_and_stays_adopted(tmp_path: Path,
                                                                                index: LocalIndex) -> None:
    index.add(WheelSpec("lib", "1.0", console_scripts={"lib-tool": "lib:main"},
                        extra_entries=[("lib-1.0.data/data/share/lib/readme.txt", b"data\n")]))
    project = tmp_path / "project"
    env = make_venv(project / "venv", _python("3.11"))
    _python("3.13")
    _config(project, index, "3.11", "venv")
    assert run_envsync("apply", cwd=project).returncode == 0
    assert (env / "share" / "lib" / "readme.txt").is_file() and (env / "bin" / "lib-tool").is_file()
    assert strangers(env) == ()
    _config(project, index, "3.13", "venv")
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert _version_of(env) == "3.13" and installed(env) == {"lib": "1.0"}
    cfg = (env / "pyvenv.cfg").read_text()
    assert "envsync" not in cfg  # still the user's venv: undeclaring it will never delete it
    assert not (env / ".gitignore").exists()  # 3.13's venv writes one; an adopted folder gets none


def test_strangers_are_what_no_venv_tool_and_no_record_put_there(tmp_path: Path) -> None:
    env = make_venv(tmp_path / "env")
    assert strangers(env) == ()
    (env / "bin" / "my-script").write_text("#!/bin/sh\n")
    (env / "lib" / "notes").mkdir()
    (env / "lib" / "notes" / "a.txt").write_text("x")
    (env / "share" / "empty" / "folders").mkdir(parents=True)  # what an uninstall leaves: no one's
    (env / "include" / "whatever.h").write_text("")
    assert strangers(env) == (env / "bin" / "my-script", env / "lib" / "notes")
    with pytest.raises(EnvPathError, match="not part of the venv"):
        remove_venv(env)
    with pytest.raises(EnvPathError, match="my-script"):
        recreate_venv(env, probe(Path(sys.executable)))
    assert (env / "lib" / "notes" / "a.txt").read_text() == "x"


@pytest.mark.parametrize("version", ["3.11", "3.13"])
def test_every_env_envsync_creates_has_a_gitignore(tmp_path: Path, index: LocalIndex, version: str) -> None:
    index.add(WheelSpec("lib", "1.0"))
    project = tmp_path / "project"
    _python(version)
    _config(project, index, version, ".envs/dev")
    assert run_envsync("apply", cwd=project).returncode == 0
    ignore = project / ".envs" / "dev" / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == "*"
    assert strangers(project / ".envs" / "dev") == ()
