"""Creating, recreating and removing venvs: atomic, activatable, and never touching what is not a venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import envsync
from envsync.errors import EnvPathError
from envsync.install import venv as venv_module
from envsync.install.venv import create_venv, is_venv, recreate_venv, remove_venv
from envsync.model import Interpreter
from envsync.pythons.interpreters import probe
from envsync.state.survey import read_pyvenv_cfg

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def pyenv_interpreter(minor: str) -> Interpreter:
    found = sorted(PYENV_VERSIONS.glob(f"{minor}.*/bin/python3"))
    if not found:
        pytest.skip(f"no pyenv Python {minor}")
    return probe(found[-1])


def venv_version(path: Path) -> str:
    out = subprocess.run(
        [str(path / "bin" / "python"), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3], sys.prefix)"],
        capture_output=True, text=True, check=True,
    )
    version, prefix = out.stdout.split()
    assert Path(prefix) == path
    return version


def activate(env: Path) -> tuple[Path, Path, str]:
    """$VIRTUAL_ENV, `which python` and $PS1 after sourcing bin/activate in bash."""
    script = f'source "{env}/bin/activate" && echo "$VIRTUAL_ENV" && which python && echo "$PS1"'
    out = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "PS1": "$ "})
    virtual_env, python, ps1 = out.stdout.splitlines()
    return Path(virtual_env), Path(python), ps1


def leftovers(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if ".envsync-" in name]


@pytest.mark.parametrize("minor", ["3.8", "3.13"])
def test_create_with_a_pyenv_interpreter(minor: str, tmp_path: Path) -> None:
    interpreter = pyenv_interpreter(minor)
    env = tmp_path / "envs" / "dev"  # the parent is made as needed
    create_venv(env, interpreter)
    assert is_venv(env)
    assert venv_version(env) == str(interpreter.version)
    cfg = read_pyvenv_cfg(env)
    assert cfg["envsync"] == envsync.__version__
    assert cfg["version"].startswith(minor)
    assert activate(env)[:2] == (env, env / "bin" / "python")
    assert leftovers(env.parent) == []


def test_nothing_names_the_staging_folder(tmp_path: Path) -> None:
    env = tmp_path / "dev"
    create_venv(env, probe(Path(sys.executable)))
    for file in [env / "pyvenv.cfg", *(env / "bin").iterdir()]:
        if file.is_file() and not file.is_symlink():
            data = file.read_bytes()
            assert b".envsync-tmp-" not in data and b"venv-templates" not in data, file.name
            assert b"envsync-template-prompt" not in data, file.name
    assert str(env).encode() in (env / "bin" / "activate").read_bytes()
    assert str(env).encode() in (env / "bin" / "activate.fish").read_bytes()
    assert str(env).encode() in (env / "bin" / "activate.csh").read_bytes()
    assert (env / "bin" / "Activate.ps1").is_file()


def test_activate_in_bash(tmp_path: Path) -> None:
    env = tmp_path / "my env"  # a space, to check the quoting survives the rename
    create_venv(env, probe(Path(sys.executable)), prompt="mine")
    virtual_env, python, ps1 = activate(env)
    assert virtual_env == env
    assert python == env / "bin" / "python"
    assert "(mine)" in ps1


def test_default_prompt_is_the_env_folder_name(tmp_path: Path) -> None:
    env = tmp_path / "dev"
    create_venv(env, probe(Path(sys.executable)))
    assert "envsync-tmp" not in (env / "bin" / "activate").read_text()
    assert "dev" in read_pyvenv_cfg(env).get("prompt", "dev")


def test_second_venv_of_an_interpreter_is_copied_from_its_template(tmp_path: Path, monkeypatch) -> None:
    interpreter = probe(Path(sys.executable))
    create_venv(tmp_path / "first", interpreter, prompt="one")

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the template should have been reused")

    monkeypatch.setattr(venv_module.subprocess, "run", no_subprocess)
    env = tmp_path / "second"
    create_venv(env, interpreter, prompt="two")
    monkeypatch.undo()
    virtual_env, python, ps1 = activate(env)
    assert (virtual_env, python) == (env, env / "bin" / "python") and "(two)" in ps1
    assert read_pyvenv_cfg(env)["prompt"].strip("'\"") == "two"


def test_create_refuses_an_existing_path(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    with pytest.raises(EnvPathError, match=str(tmp_path / "dev")):
        create_venv(tmp_path / "dev", probe(Path(sys.executable)))
    assert leftovers(tmp_path) == []


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = Interpreter(tmp_path / "no-python", probe(Path(sys.executable)).version, "cpython", {}, ())
    with pytest.raises(EnvPathError, match="Could not create"):
        create_venv(tmp_path / "dev", broken)
    assert os.listdir(tmp_path) == []


def test_an_interrupted_build_is_cleaned_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(venv_module, "_mark_as_ours", interrupted)
    with pytest.raises(KeyboardInterrupt):
        create_venv(tmp_path / "dev", probe(Path(sys.executable)))
    assert os.listdir(tmp_path) == []


def test_recreate_swaps_the_interpreter(tmp_path: Path) -> None:
    old, new = pyenv_interpreter("3.8"), pyenv_interpreter("3.13")
    env = tmp_path / "dev"
    create_venv(env, old)
    (env / "lib" / "python3.8" / "marker").write_text("from the old env")  # a venv's own: it goes
    recreate_venv(env, new)
    assert venv_version(env) == str(new.version)
    assert not (env / "lib" / "python3.8").exists()
    assert read_pyvenv_cfg(env)["envsync"] == envsync.__version__
    assert leftovers(tmp_path) == []


def test_a_failed_recreate_keeps_the_old_env(tmp_path: Path) -> None:
    env = tmp_path / "dev"
    current = probe(Path(sys.executable))
    create_venv(env, current)
    broken = Interpreter(tmp_path / "no-python", current.version, "cpython", {}, ())
    with pytest.raises(EnvPathError):
        recreate_venv(env, broken)
    assert venv_version(env) == str(current.version)
    assert leftovers(tmp_path) == []


def test_recreate_of_a_missing_path_creates_it(tmp_path: Path) -> None:
    recreate_venv(tmp_path / "dev", probe(Path(sys.executable)))
    assert is_venv(tmp_path / "dev")


def test_recreate_refuses_a_folder_that_is_not_a_venv(tmp_path: Path) -> None:
    folder = tmp_path / "dev"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(EnvPathError, match="not a virtual environment"):
        recreate_venv(folder, probe(Path(sys.executable)))
    assert (folder / "notes.txt").read_text() == "mine"
    assert leftovers(tmp_path) == []


def test_remove_deletes_a_venv(tmp_path: Path) -> None:
    env = tmp_path / "dev"
    create_venv(env, probe(Path(sys.executable)))
    readonly = next((env / "lib").glob("python*")) / "readonly"
    readonly.mkdir()
    (readonly / "file").write_text("x")
    readonly.chmod(0o500)
    remove_venv(env)
    assert os.listdir(tmp_path) == []
    remove_venv(env)  # already gone: nothing to do


def test_remove_refuses_a_folder_with_user_files(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(EnvPathError) as caught:
        remove_venv(folder)
    assert str(folder) in str(caught.value)
    assert "never deletes" in str(caught.value)
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == ["project"]


def test_remove_refuses_a_link_to_a_venv(tmp_path: Path) -> None:
    env = tmp_path / "real"
    create_venv(env, probe(Path(sys.executable)))
    (tmp_path / "link").symlink_to(env)
    with pytest.raises(EnvPathError, match="symbolic link"):
        remove_venv(tmp_path / "link")
    assert is_venv(env)


def test_leftovers_of_interrupted_runs_are_swept(tmp_path: Path) -> None:
    trash = tmp_path / ".dev.envsync-trash-0123abcd"
    stale = tmp_path / ".dev.envsync-tmp-89abcdef"
    fresh = tmp_path / ".dev.envsync-tmp-00000000"
    for folder in (trash, stale, fresh):
        (folder / "bin").mkdir(parents=True)
    os.utime(stale, (0, 0))
    create_venv(tmp_path / "dev", probe(Path(sys.executable)))
    assert not trash.exists() and not stale.exists()
    assert fresh.exists()  # may belong to a run still building


def test_read_pyvenv_cfg_of_a_non_venv(tmp_path: Path) -> None:
    assert not is_venv(tmp_path)
    assert read_pyvenv_cfg(tmp_path) == {}
