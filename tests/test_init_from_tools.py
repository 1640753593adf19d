"""`envsync init` on projects set up for tox, Hatch, uv and pip requirements layouts, then `apply`
of what it wrote against the local index: the translated envs build real venvs with the
packages the other tool would have installed (the project built by its PEP 517 backend).

Keys another branch adds to the config (`scripts`, `env-vars`, package factors in `matrix`) are
applied when this tree's config loader knows them; until then the tests apply the envs without
those keys (and skip what needs them), and tests/test_init_translate.py checks their text."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from helpers import installed, run_envsync
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.config.load import load
from envsync.errors import ConfigError

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PY = f"py{sys.version_info.major}{sys.version_info.minor}"
SETUPTOOLS = '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
HATCHLING = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'


def project(folder: Path, backend: str, tail: str = "") -> None:
    """A small src-layout project `myapp` needing lib, with an extra `fast` (tool)."""
    (folder / "src" / "myapp").mkdir(parents=True)
    (folder / "src" / "myapp" / "__init__.py").write_text("")
    (folder / "pyproject.toml").write_text(backend + textwrap.dedent("""
        [project]
        name = "myapp"
        version = "0.1.0"
        requires-python = ">=3.8"
        dependencies = ["lib>=1.0"]
        [project.optional-dependencies]
        fast = ["tool"]
        """) + textwrap.dedent(tail))
    (folder / ".python-version").write_text(f"{PYTHON}\n")


def publish(index: LocalIndex) -> None:
    for name, version in [("lib", "1.0"), ("lib", "2.0"), ("tool", "0.5"), ("extra-dep", "2.0"),
                          ("django", "4.2.3"), ("django", "5.0.1"), ("server", "1.0")]:
        index.add(WheelSpec(name, version))


def supported(tmp_path: Path, env_table: str) -> bool:
    """Whether this tree's config loader accepts `env_table` (keys another branch may add)."""
    folder = tmp_path / "probe"
    folder.mkdir(exist_ok=True)
    (folder / "envs.toml").write_text("[envs.probe]\n" + textwrap.dedent(env_table))
    try:
        load(folder / "envs.toml")
    except ConfigError:
        return False
    return True


def init_and_keep_what_loads(folder: Path, tmp_path: Path) -> str:
    """Run init in `folder`; drop from envs.toml the keys this tree can't load yet. The text init wrote."""
    result = run_envsync("init", cwd=folder)
    assert result.returncode == 0, result.stderr
    text = (folder / "envs.toml").read_text()
    lines = text.splitlines(keepends=True)
    if not supported(tmp_path, 'env-vars = { A = "1" }\n'):
        lines = [line for line in lines if not line.startswith("env-vars = ")]
    if not supported(tmp_path, '[envs.probe.scripts]\nx = "true"\n'):
        kept, skipping = [], False
        for line in lines:
            if line.startswith("["):
                skipping = line.rstrip().endswith(".scripts]")
            if not skipping:
                kept.append(line)
        lines = kept
    (folder / "envs.toml").write_text("".join(lines))
    return text


def apply(folder: Path, index: LocalIndex, *envs: str) -> None:
    result = run_envsync("apply", *envs, cwd=folder, env={"ENVSYNC_INDEX_URL": index.url}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


TOX_INI = f"""
[tox]
envlist = {PY}-django{{42,50}}, lint, typing

[testenv]
deps =
    django42: Django>=4.2,<4.3
    django50: Django>=5.0,<5.1
extras = fast
setenv = MYAPP_MODE = test
commands = python -c "import myapp, django; print(django.__version__)" {{posargs}}

[testenv:lint]
skip_install = true
deps = tool
commands = python -c "import tool"

[testenv:typing]
usedevelop = true
deps =
    extra-dep
    -rrequirements-server.txt
commands = python -m myapp
"""


def test_tox_project_applies(tmp_path: Path, build_index: LocalIndex):
    publish(build_index)
    folder = tmp_path / "app"
    project(folder, SETUPTOOLS)
    (folder / "tox.ini").write_text(TOX_INI)
    (folder / "requirements-server.txt").write_text("server\n")
    text = init_and_keep_what_loads(folder, tmp_path)
    assert f'matrix = {{ python = ["{PYTHON}"], django = ["4.2", "5.0"] }}' in text
    assert '[envs.lint.scripts]\nlint = "python -c \\"import tool\\""' in text
    assert 'requirements = ["requirements-server.txt"]' in text
    assert (folder / ".gitignore").read_text() == "/.envs/\n"
    if not supported(tmp_path, 'matrix = { python = ["3.11"], django = ["4.2"] }\n'):
        config = (folder / "envs.toml").read_text()
        (folder / "envs.toml").write_text(config.replace(', django = ["4.2", "5.0"]', ""))
    apply(folder, build_index, "lint", "typing")
    assert installed(folder / ".envs" / "lint") == {"tool": "0.5"}
    assert installed(folder / ".envs" / "typing") == {"myapp": "0.1.0", "lib": "2.0", "tool": "0.5",
                                                       "extra-dep": "2.0", "server": "1.0"}


def test_tox_matrix_with_a_package_factor_applies(tmp_path: Path, build_index: LocalIndex):
    if not supported(tmp_path, 'matrix = { python = ["3.11"], django = ["4.2"] }\n'):
        pytest.skip("package factors in `matrix` come with the matrix branch (issue 30)")
    publish(build_index)
    folder = tmp_path / "app"
    project(folder, SETUPTOOLS)
    (folder / "tox.ini").write_text(TOX_INI)
    (folder / "requirements-server.txt").write_text("server\n")  # the typing env reads it
    init_and_keep_what_loads(folder, tmp_path)
    apply(folder, build_index, f"test-{PY}-django42")
    assert installed(folder / ".envs" / f"test-{PY}-django42") == {"myapp": "0.1.0", "lib": "2.0", "tool": "0.5",
                                                                    "django": "4.2.3"}


def test_tox_script_runs_with_its_env_vars(tmp_path: Path, build_index: LocalIndex):
    if not (supported(tmp_path, '[envs.probe.scripts]\nx = "true"\n') and supported(tmp_path, 'env-vars = { A = "1" }\n')):
        pytest.skip("scripts and env-vars come with the scripts branch (issue 29)")
    publish(build_index)
    folder = tmp_path / "app"
    project(folder, SETUPTOOLS)
    (folder / "tox.ini").write_text(TOX_INI.replace('print(django.__version__)', 'import os; print(os.environ["MYAPP_MODE"])')
                                    .replace(f"{PY}-django{{42,50}}, ", ""))
    (folder / "requirements-server.txt").write_text("server\n")  # the typing env reads it
    init_and_keep_what_loads(folder, tmp_path)
    ran = run_envsync("run", "lint:lint", cwd=folder, env={"ENVSYNC_INDEX_URL": build_index.url}, timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_hatch_project_with_default_inheritance_and_a_detached_lint_env_applies(tmp_path: Path,
                                                                               build_index: LocalIndex):
    publish(build_index)
    folder = tmp_path / "app"
    project(folder, HATCHLING, f"""
        [tool.hatch.envs.default]
        dependencies = ["lib<2"]
        features = ["fast"]
        env-vars = {{ MYAPP_MODE = "dev" }}
        [tool.hatch.envs.default.scripts]
        check = "python -m myapp {{args}}"
        [tool.hatch.envs.types]
        extra-dependencies = ["extra-dep"]
        [tool.hatch.envs.lint]
        detached = true
        dependencies = ["tool"]
        [tool.hatch.envs.lint.scripts]
        style = "tool-check . | tee report.txt"
        [[tool.hatch.envs.all.matrix]]
        python = ["{PYTHON}"]
        """)
    text = init_and_keep_what_loads(folder, tmp_path)
    assert "# style = \"tool-check . | tee report.txt\"   (not translated: shell syntax" in text
    apply(folder, build_index, "default", "types", "lint", f"all-{PY}")
    with_project = {"myapp": "0.1.0", "lib": "1.0", "tool": "0.5"}
    assert installed(folder / ".envs" / "default") == with_project
    assert installed(folder / ".envs" / "types") == {**with_project, "extra-dep": "2.0"}
    assert installed(folder / ".envs" / f"all-{PY}") == with_project
    assert installed(folder / ".envs" / "lint") == {"tool": "0.5"}


def test_legacy_tox_ini_in_pyproject_applies(tmp_path: Path, build_index: LocalIndex):
    publish(build_index)
    folder = tmp_path / "app"
    project(folder, SETUPTOOLS, f'''
        [tool.tox]
        legacy_tox_ini = """
        [tox]
        envlist = {PY}
        [testenv]
        package = editable
        deps = tool
        commands = python -m myapp {{posargs}}
        """
        ''')
    text = init_and_keep_what_loads(folder, tmp_path)
    assert "from pyproject.toml [tool.tox] legacy_tox_ini" in text
    apply(folder, build_index, PY)
    assert installed(folder / ".envs" / PY) == {"myapp": "0.1.0", "lib": "2.0", "tool": "0.5"}


def test_requirements_folder_layout_applies_in_one_solve_group(tmp_path: Path, index: LocalIndex):
    publish(index)
    folder = tmp_path / "site"
    (folder / "requirements").mkdir(parents=True)
    (folder / "requirements" / "base.txt").write_text("lib\n")
    (folder / "requirements" / "dev.txt").write_text("-r base.txt\ntool\n")
    (folder / "requirements" / "prod.txt").write_text("-r base.txt\nserver\n")
    (folder / "requirements" / "constraints.txt").write_text("lib<2\n")
    (folder / ".python-version").write_text(f"{PYTHON}\n")
    (folder / ".gitignore").write_text("*.pyc\n")
    init_and_keep_what_loads(folder, tmp_path)
    assert (folder / ".gitignore").read_text() == "*.pyc\n/.envs/\n"
    apply(folder, index, "dev", "prod")
    assert installed(folder / ".envs" / "dev") == {"lib": "1.0", "tool": "0.5"}
    assert installed(folder / ".envs" / "prod") == {"lib": "1.0", "server": "1.0"}


def test_a_layout_whose_dev_file_installs_the_project_applies_in_one_solve_group(tmp_path: Path,
                                                                               index: LocalIndex):
    """`-e .` in dev.txt: dev installs the project and still shares base.txt's versions with prod."""
    from backends import write_tiny_project

    publish(index)
    folder = write_tiny_project(tmp_path / "site", "site-app", version="0.4", dependencies=["lib"])
    (folder / "requirements").mkdir()
    (folder / "requirements" / "base.txt").write_text("lib\n")
    (folder / "requirements" / "dev.txt").write_text("-r base.txt\n-e ..\ntool\n")
    (folder / "requirements" / "prod.txt").write_text("-r base.txt\nserver\n")
    (folder / ".python-version").write_text(f"{PYTHON}\n")
    text = init_and_keep_what_loads(folder, tmp_path)
    assert text.count('solve-group = "base"') == 2, text
    apply(folder, index, "dev", "prod")
    assert installed(folder / ".envs" / "dev") == {"site-app": "0.4", "lib": "2.0", "tool": "0.5"}
    assert installed(folder / ".envs" / "prod") == {"lib": "2.0", "server": "1.0"}


def test_uv_project_with_dependency_groups_applies(tmp_path: Path, build_index: LocalIndex):
    publish(build_index)
    folder = tmp_path / "app"
    project(folder, HATCHLING, """
        [dependency-groups]
        test = ["extra-dep"]
        lint = ["tool"]
        [tool.uv]
        default-groups = ["test"]
        """)
    init_and_keep_what_loads(folder, tmp_path)
    apply(folder, build_index)
    assert installed(folder / ".envs" / "dev") == {"myapp": "0.1.0", "lib": "2.0", "extra-dep": "2.0"}
    assert installed(folder / ".envs" / "lint") == {"tool": "0.5"}
