"""The env's own project: built through its PEP 517 backend (setuptools, hatchling), editable
or not, its dependencies and extras resolved with the env, reinstalled only when needed."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers import installed, run_envsync, venv_python
from localindex import LocalIndex
from wheelfactory import WheelSpec

SETUPTOOLS = """
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"
"""
HATCHLING = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""


def make_project(folder: Path, backend: str, *, version: str = "0.1.0", dependencies: tuple[str, ...] = ("lib>=1.0",),
                 scripts: str = 'myapp = "myapp:main"') -> Path:
    """A small app in src/ layout with an extra `fast` and a console script."""
    (folder / "src" / "myapp").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "myapp" / "__init__.py").write_text("def main():\n    print('hello from myapp')\n")
    deps = ", ".join(f'"{dep}"' for dep in dependencies)
    (folder / "pyproject.toml").write_text(textwrap.dedent(backend) + textwrap.dedent(f"""
        [project]
        name = "myapp"
        version = "{version}"
        dependencies = [{deps}]

        [project.optional-dependencies]
        fast = ["tool"]

        [project.scripts]
        {scripts}
        """))
    return folder


def write_envs(folder: Path, index: LocalIndex, env: str) -> None:
    (folder / "envs.toml").write_text(f'[settings]\nindex-url = "{index.url}"\n\n' + textwrap.dedent(env))


def publish(index: LocalIndex) -> None:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "0.5"))
    index.add(WheelSpec("extra-dep", "2.0"))


def envsync(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_envsync(*args, cwd=folder, timeout=600)


def run_in(env: Path, code: str) -> str:
    return subprocess.run([str(venv_python(env)), "-I", "-c", code], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def direct_url(env: Path, name: str) -> dict:
    (dist_info,) = env.glob(f"lib/python*/site-packages/{name}-*.dist-info")
    return json.loads((dist_info / "direct_url.json").read_text())


@pytest.mark.parametrize("backend", [SETUPTOOLS, HATCHLING], ids=["setuptools", "hatchling"])
def test_editable_project_with_extras(tmp_path: Path, build_index: LocalIndex, backend: str):
    publish(build_index)
    folder = make_project(tmp_path / "app", backend)
    write_envs(folder, build_index, '[envs.dev]\nproject = { path = ".", extras = ["fast"] }\n')
    result = envsync(folder, "apply")
    assert result.returncode == 0, result.stderr
    env = folder / ".envs" / "dev"
    assert installed(env) == {"myapp": "0.1.0", "lib": "1.0", "tool": "0.5"}
    assert direct_url(env, "myapp") == {"url": folder.as_uri(), "dir_info": {"editable": True}}
    # editable: the code is the project's own files, so an edit shows without a reinstall
    assert run_in(env, "import myapp; print(myapp.__file__)") == str(folder / "src" / "myapp" / "__init__.py")
    (folder / "src" / "myapp" / "__init__.py").write_text("def main():\n    print('edited')\n")
    assert subprocess.run([str(env / "bin" / "myapp")], capture_output=True, text=True).stdout == "edited\n"
    plan = envsync(folder, "plan")
    assert plan.returncode == 0, plan.stderr
    assert "in sync" in plan.stdout, plan.stdout
    lock = (folder / "pylock.dev.toml").read_text()
    assert '[packages.directory]\npath = "."\neditable = true' in lock

    # a new dependency in pyproject.toml shows in the plan and is installed
    make_project(folder, backend, dependencies=("lib>=1.0", "extra-dep"))
    plan = envsync(folder, "plan")
    assert "extra-dep" in plan.stdout and "install" in plan.stdout, plan.stdout
    assert envsync(folder, "apply").returncode == 0
    assert installed(env)["extra-dep"] == "2.0"

    # a new version, or new entry points, reinstall the project
    make_project(folder, backend, version="0.2.0", dependencies=("lib>=1.0", "extra-dep"))
    plan = envsync(folder, "plan")
    assert "myapp 0.1.0 -> 0.2.0" in plan.stdout, plan.stdout
    assert envsync(folder, "apply").returncode == 0
    make_project(folder, backend, version="0.2.0", dependencies=("lib>=1.0", "extra-dep"),
                 scripts='myapp = "myapp:main"\nmyapp-two = "myapp:main"')
    plan = envsync(folder, "plan")
    assert "entry points changed" in plan.stdout, plan.stdout
    result = envsync(folder, "apply")
    assert result.returncode == 0, result.stderr
    assert (env / "bin" / "myapp-two").exists()
    assert installed(env)["myapp"] == "0.2.0"


@pytest.mark.parametrize("backend", [SETUPTOOLS, HATCHLING], ids=["setuptools", "hatchling"])
def test_regular_project_install_and_build_env_reused(tmp_path: Path, build_index: LocalIndex, backend: str):
    publish(build_index)
    folder = make_project(tmp_path / "app", backend)
    write_envs(folder, build_index, """
        [settings.project]
        path = "."
        editable = false

        [envs.one]
        [envs.two]
        """)
    result = envsync(folder, "apply")
    assert result.returncode == 0, result.stderr
    for name in ("one", "two"):
        env = folder / ".envs" / name
        assert installed(env) == {"myapp": "0.1.0", "lib": "1.0"}
        assert direct_url(env, "myapp") == {"url": folder.as_uri(), "dir_info": {}}
        where = run_in(env, "import myapp; print(myapp.__file__)")
        assert where.startswith(str(env)), where  # a copy in site-packages, not the project's file
    build_envs = list(Path(result_cache(folder)).glob("build-envs/*/pyvenv.cfg"))
    assert len(build_envs) == 1  # both builds used the same build env


def result_cache(folder: Path) -> str:
    import os

    return os.environ["ENVSYNC_CACHE_DIR"]


def test_switching_editable_reinstalls(tmp_path: Path, build_index: LocalIndex):
    publish(build_index)
    folder = make_project(tmp_path / "app", HATCHLING)
    write_envs(folder, build_index, '[envs.dev]\nproject = "."\n')
    assert envsync(folder, "apply").returncode == 0
    write_envs(folder, build_index, '[envs.dev]\nproject = { path = ".", editable = false }\n')
    plan = envsync(folder, "plan")
    assert "editable install -> regular install" in plan.stdout, plan.stdout


def test_project_folder_must_be_a_project(tmp_path: Path, index: LocalIndex):
    folder = tmp_path / "app"
    folder.mkdir()
    write_envs(folder, index, '[envs.dev]\nproject = "sub"\n')
    result = envsync(folder, "plan")
    assert result.returncode == 1
    assert "envs.dev.project.path: 'sub' is not a Python project folder" in result.stderr


def test_failed_build_names_the_project_and_shows_the_backend_output(tmp_path: Path, build_index: LocalIndex):
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(textwrap.dedent(SETUPTOOLS) + '[project]\nname = "broken"\ndynamic = ["version"]\n')
    (folder / "setup.py").write_text("raise SystemExit('this project cannot be built: missing thing')\n")
    write_envs(folder, build_index, '[envs.dev]\nproject = "."\n')
    result = envsync(folder, "plan")
    assert result.returncode == 1
    assert "the build backend failed" in result.stderr
    assert "this project cannot be built: missing thing" in result.stderr
    assert "Traceback" not in result.stderr.split("its last lines")[0]


def test_a_requirements_file_with_dash_e_installs_the_project_editable(tmp_path: Path, build_index: LocalIndex):
    """The common `requirements-dev.txt`: `-e .[fast]` plus tools, and a built wheel by bare path."""
    from wheelfactory import make_wheel

    publish(build_index)
    folder = make_project(tmp_path / "app", HATCHLING)
    wheel = make_wheel(folder / "wheels", WheelSpec("localtool", "2.0"))
    (folder / "requirements-dev.txt").write_text(f"-e .[fast]\nlib\n./wheels/{wheel.name}\n")
    write_envs(folder, build_index, '[envs.dev]\nrequirements = ["requirements-dev.txt"]\n')
    result = envsync(folder, "apply")
    assert result.returncode == 0, result.stderr
    env = folder / ".envs" / "dev"
    assert installed(env) == {"myapp": "0.1.0", "lib": "1.0", "tool": "0.5", "localtool": "2.0"}
    assert direct_url(env, "myapp") == {"url": folder.as_uri(), "dir_info": {"editable": True}}
    assert "No changes" in envsync(folder, "plan").stdout


def test_two_editable_folders_of_one_project_name_are_refused_naming_both(tmp_path: Path):
    """`-e` lines join the env's local projects (see test_monorepo.py); two folders holding the
    project `myapp` can't both be it."""
    folder = make_project(tmp_path / "app", HATCHLING)
    make_project(tmp_path / "other", HATCHLING)
    (folder / "requirements.txt").write_text("-e .\n-e ../other\n")
    (folder / "envs.toml").write_text('[envs.dev]\nrequirements = ["requirements.txt"]\n')
    result = envsync(folder, "plan")
    assert result.returncode == 1
    assert "requirements.txt:1" in result.stderr and "requirements.txt:2" in result.stderr, result.stderr
    assert "both the project 'myapp'" in result.stderr and "Traceback" not in result.stderr
