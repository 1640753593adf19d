"""`envsync init` translating other tools' configurations (tox, Hatch, uv, requirements layouts):
the envs.toml text it writes, read back as TOML, for fixtures modelled on real projects. No venvs
here: tests/test_init_from_tools.py applies what init writes against the local index."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest
from helpers import run_envsync

from envsync.commands.init import from_project, ignore_env_root
from envsync.migrate.defaults import lowest_minor
from envsync.migrate.script_lines import translate
from envsync.migrate.tox_config import expand, split_envlist

PROJECT = '[project]\nname = "demo"\nversion = "0.1"\nrequires-python = ">=3.10"\n'

# Modelled on a Django app's tox.ini: a generative envlist, factor-conditional deps, a detached
# lint env, and a docs env whose command needs a shell.
TOX_INI = """
[tox]
envlist =
    py{311,312}-django{42,50}
    lint
    docs

[testenv]
description = run the test suite
deps =
    pytest>=8
    django42: Django>=4.2,<4.3
    django50: Django>=5.0,<5.1
extras = test
setenv =
    DJANGO_SETTINGS_MODULE = tests.settings
    DATA = {toxinidir}/data
commands =
    pytest {posargs:tests}
    - python -m coverage report

[testenv:lint]
skip_install = true
deps = ruff
commands = ruff check {posargs:.}

[testenv:docs]
changedir = docs
deps = -r{toxinidir}/docs/requirements.txt
commands = sphinx-build -W -b html . _build/html && echo done
"""


def init(folder: Path, files: dict[str, str]) -> tuple[dict, str, str]:
    """(the envs.toml init writes, as TOML and as text, and its summary) for `files` in `folder`."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip("\n"))
    text, summary = from_project(folder)
    return tomllib.loads(text), text, summary


def test_tox_generative_envlist_with_factor_pins_becomes_a_matrix_with_a_package_factor(tmp_path: Path):
    config, text, summary = init(tmp_path, {"tox.ini": TOX_INI, "pyproject.toml": PROJECT})
    envs = config["envs"]
    assert list(envs) == ["test", "lint", "docs"]
    test = envs["test"]
    assert test["matrix"] == {"python": ["3.11", "3.12"], "django": ["4.2", "5.0"]}
    assert test["dependencies"] == ["pytest>=8"]
    assert test["project"] == {"path": ".", "editable": False, "extras": ["test"]}
    assert test["env-vars"] == {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATA": "./data"}
    assert test["scripts"] == {"test": ["pytest {args:tests}", "- python -m coverage report"]}
    assert "project" not in envs["lint"] and envs["lint"]["scripts"] == {"lint": "ruff check {args:.}"}
    assert envs["docs"]["requirements"] == ["docs/requirements.txt"] and envs["docs"]["scripts"] == {}
    assert "# docs = [\"sphinx-build -W -b html . _build/html && echo done\"]   (not translated: shell syntax" in text
    assert "# tox's changedir = 'docs' is not translated" in text
    assert config["settings"]["python"] == "3.10"
    assert summary == ("translated 6 tox envs, 1 tox script left as a comment: shell syntax, "
                       "1 tox setting left as a comment: changedir")


def test_tox_factors_that_pin_nothing_stay_flat_envs(tmp_path: Path):
    config, _, _ = init(tmp_path, {"tox.ini": """
        [tox]
        envlist = py311-{sqlite,postgres}
        [testenv]
        deps =
            pytest
            postgres: psycopg
            !postgres: aiosqlite
        commands = pytest
        """})
    envs = config["envs"]
    assert list(envs) == ["py311-sqlite", "py311-postgres"]
    assert envs["py311-postgres"]["python"] == "3.11"
    assert envs["py311-postgres"]["dependencies"] == ["pytest", "psycopg"]
    assert envs["py311-sqlite"]["dependencies"] == ["pytest", "aiosqlite"]
    assert envs["py311-sqlite"]["scripts"] == {"py311-sqlite": "pytest"}


def test_a_pin_wider_than_one_release_series_is_not_a_package_factor(tmp_path: Path):
    config, _, _ = init(tmp_path, {"tox.ini": """
        [tox]
        envlist = py311-django{4,5}
        [testenv]
        deps =
            django4: Django>=4,<6
            django5: Django>=5,<6
        """})
    assert sorted(config["envs"]) == ["py311-django4", "py311-django5"]


def test_legacy_tox_ini_in_pyproject_and_python_only_envlist(tmp_path: Path):
    pyproject = PROJECT + textwrap.dedent('''
        [tool.tox]
        legacy_tox_ini = """
        [tox]
        envlist = py310, py311, py312
        [testenv]
        usedevelop = true
        deps = pytest
        commands = pytest {posargs}
        [testenv:typing]
        deps = mypy
        commands = mypy src
        """
        ''')
    config, text, summary = init(tmp_path, {"pyproject.toml": pyproject})
    assert "from pyproject.toml [tool.tox] legacy_tox_ini" in text
    envs = config["envs"]
    assert envs["test"]["matrix"] == {"python": ["3.10", "3.11", "3.12"]}
    assert envs["test"]["project"] == "." and envs["test"]["scripts"] == {"test": "pytest {args}"}
    assert envs["typing"]["project"] == "." and envs["typing"]["dependencies"] == ["mypy"]
    assert summary == "translated 4 tox envs"


def test_tox_modelled_on_pluggy_and_attrs(tmp_path: Path):
    """A PyPy factor in a generative item stays out of its matrix; `{env:X:default}` takes its
    default with a comment; a setting of `[testenv]` left out is said once; `{[testenv:a-b]key}`
    finds the generative section that makes `a-b`."""
    config, text, summary = init(tmp_path, {"tox.ini": """
        [tox]
        envlist = py{310,311,py3}, docs-{build,linkcheck}, watch
        [testenv]
        runner = uv-venv-lock-runner
        dependency_groups = testing
        commands = {env:RUNNER:pytest} {posargs}
        [testenv:docs-{build,linkcheck}]
        base_python = py313
        commands =
            build: sphinx-build docs out
            linkcheck: sphinx-build -b linkcheck docs out
        [testenv:watch]
        base_python = {[testenv:docs-build]base_python}
        commands = sphinx-autobuild docs out
        """})
    envs = config["envs"]
    assert list(envs) == ["test", "pypy3", "docs-build", "docs-linkcheck", "watch"]
    assert envs["test"]["matrix"] == {"python": ["3.10", "3.11"]}
    assert envs["test"]["scripts"] == {"test": "pytest {args}"}
    assert "# {env:RUNNER:pytest} is written as its default, 'pytest': envsync's ${RUNNER} has no default" in text
    assert envs["watch"]["python"] == "3.13" and envs["docs-build"]["python"] == "3.13"
    assert text.count("runner = 'uv-venv-lock-runner' is not translated") == 1
    assert "# tox's runner = 'uv-venv-lock-runner' is not translated (in 5 envs)\n\n# tox env" in text
    assert summary == "translated 6 tox envs, 2 tox settings left as comments: runner, PyPy"


def test_tox_deps_that_install_the_project(tmp_path: Path):
    config, _, _ = init(tmp_path, {"tox.ini": """
        [testenv:a]
        skip_install = true
        deps = -e .[test,docs]
        [testenv:b]
        skip_install = true
        deps =
            .
            pytest
        """})
    assert config["envs"]["a"]["project"] == {"path": ".", "extras": ["test", "docs"]}
    assert config["envs"]["b"] == {"project": {"path": ".", "editable": False}, "dependencies": ["pytest"]}


def test_tox_in_setup_cfg(tmp_path: Path):
    config, text, _ = init(tmp_path, {"setup.cfg": """
        [metadata]
        name = demo
        [tox:tox]
        envlist = lint
        [testenv:lint]
        deps = ruff
        skip_install = true
        """})
    assert "from setup.cfg [tox:tox]" in text and config["envs"] == {"lint": {"dependencies": ["ruff"]}}


def test_native_tox_toml(tmp_path: Path):
    config, _, _ = init(tmp_path, {"tox.toml": """
        env_list = ["lint", "3.12", "3.13"]
        [env_run_base]
        deps = ["pytest"]
        set_env = { MODE = "ci" }
        commands = [["pytest", { replace = "posargs", default = ["tests", "-x"], extend = true }]]
        [env.lint]
        skip_install = true
        deps = ["ruff"]
        commands = [["ruff", "check", "src dir"]]
        """, "pyproject.toml": PROJECT})
    envs = config["envs"]
    assert envs["lint"]["scripts"] == {"lint": "ruff check 'src dir'"} and "project" not in envs["lint"]
    assert envs["test"]["matrix"] == {"python": ["3.12", "3.13"]}
    assert envs["test"]["scripts"] == {"test": "pytest {args:tests -x}"}
    assert envs["test"]["env-vars"] == {"MODE": "ci"}


HATCH = PROJECT + """
[project.optional-dependencies]
cli = ["click"]

[tool.hatch.envs.default]
dependencies = ["pytest", "coverage[toml]>=6.5"]
features = ["cli"]
env-vars = { APP_MODE = "test" }
[tool.hatch.envs.default.scripts]
test = "pytest {args:tests}"
cov = ["coverage run -m pytest {args:tests}", "- coverage combine", "coverage report"]
all = ["test", "cov"]

[[tool.hatch.envs.all.matrix]]
python = ["3.11", "3.12"]

[tool.hatch.envs.types]
extra-dependencies = ["mypy>=1.0"]
[tool.hatch.envs.types.scripts]
check = "mypy {args:src tests}"

[tool.hatch.envs.lint]
detached = true
dependencies = ["ruff"]
[tool.hatch.envs.lint.scripts]
style = "ruff check {args:.}"
report = "ruff check . | tee ruff.txt"

[tool.hatch.envs.docs]
template = "docs"
skip-install = true
dependencies = ["sphinx"]
pre-install-commands = ["echo hi"]
"""


def test_hatch_inheritance_detached_matrix_and_scripts(tmp_path: Path):
    config, text, summary = init(tmp_path, {"pyproject.toml": HATCH})
    envs = config["envs"]
    assert list(envs) == ["default", "all", "types", "lint", "docs"]
    default = envs["default"]
    assert default["project"] == {"path": ".", "extras": ["cli"]}
    assert default["env-vars"] == {"APP_MODE": "test"}
    assert default["scripts"] == {"test": "pytest {args:tests}",
                                  "cov": ["coverage run -m pytest {args:tests}", "- coverage combine",
                                          "coverage report"]}
    assert envs["all"]["matrix"] == {"python": ["3.11", "3.12"]} and "python" not in envs["all"]
    # `types` inherits default's dependencies, scripts, env-vars and features; extra-dependencies add.
    types = envs["types"]
    assert types["dependencies"] == ["pytest", "coverage[toml]>=6.5", "mypy>=1.0"]
    assert set(types["scripts"]) == {"test", "cov", "check"} and types["project"]["extras"] == ["cli"]
    lint = envs["lint"]
    assert "project" not in lint and lint["dependencies"] == ["ruff"] and "env-vars" not in lint
    assert lint["scripts"] == {"style": "ruff check {args:.}"}
    assert '# report = "ruff check . | tee ruff.txt"   (not translated: shell syntax' in text
    assert '# all = ["test", "cov"]   (not translated: calls the script \'test\'' in text
    assert "project" not in envs["docs"] and envs["docs"]["dependencies"] == ["sphinx"]
    assert "# Hatch's pre-install-commands = ['echo hi'] is not translated" in text
    assert summary == ("translated 6 Hatch envs, 4 Hatch scripts, 2 Hatch scripts left as comments: "
                       "calls another script, shell syntax, 1 Hatch setting left as a comment: pre-install-commands")


def test_hatch_toml_and_a_matrix_over_another_variable(tmp_path: Path):
    config, _, _ = init(tmp_path, {"pyproject.toml": PROJECT, "hatch.toml": """
        [envs.compat]
        dependencies = ["lib=={matrix:version}"]
        [[envs.compat.matrix]]
        python = ["3.11"]
        version = ["1.0", "2.0"]
        """})
    envs = config["envs"]
    assert list(envs) == ["compat-py311-1-0", "compat-py311-2-0"]
    assert envs["compat-py311-2-0"]["dependencies"] == ["lib==2.0"]
    assert envs["compat-py311-2-0"]["python"] == "3.11"


def test_hatch_matrix_whose_overrides_pin_a_package_becomes_a_package_factor(tmp_path: Path):
    config, text, _ = init(tmp_path, {"pyproject.toml": PROJECT + textwrap.dedent("""
        [tool.hatch.envs.test]
        dependencies = ["pytest"]
        [[tool.hatch.envs.test.matrix]]
        python = ["3.11", "3.12"]
        django = ["4.2", "5.1"]
        [tool.hatch.envs.test.overrides]
        matrix.django.dependencies = [
            { value = "django~=4.2.0", if = ["4.2"] },
            { value = "django>=5.1,<5.2", if = ["5.1"] },
        ]
        platform.windows.scripts = ["x"]
        """)})
    test = config["envs"]["test"]
    assert test["matrix"] == {"python": ["3.11", "3.12"], "django": ["4.2", "5.1"]}
    assert test["dependencies"] == ["pytest"] and "python" not in test
    assert "# Hatch's overrides platform.windows.scripts is not translated" in text


def test_hatch_matrix_modelled_on_mkdocs(tmp_path: Path):
    """A matrix over python and a variable that is not a package: one env per value of the variable,
    each with a python matrix, and the PyPy combinations as envs of their own."""
    config, text, summary = init(tmp_path, {"pyproject.toml": PROJECT + textwrap.dedent("""
        [tool.hatch.envs.default.scripts]
        all = ["hatch run test:test", "hatch run lint:check"]
        [tool.hatch.envs.test]
        dependencies = ["coverage"]
        [tool.hatch.envs.test.scripts]
        test = "python -m unittest"
        [[tool.hatch.envs.test.matrix]]
        python = ["3.11", "3.12", "pypy3"]
        type = ["default", "min-req"]
        [tool.hatch.envs.test.overrides]
        matrix.type.features = [{ value = "min-versions", if = ["min-req"] }]
        """)})
    envs = config["envs"]
    assert list(envs) == ["default", "test-default", "test-pypy3-default", "test-min-req", "test-pypy3-min-req"]
    assert envs["test-default"]["matrix"] == {"python": ["3.11", "3.12"]} and envs["test-default"]["project"] == "."
    assert envs["test-min-req"]["project"] == {"path": ".", "extras": ["min-versions"]}
    assert "python" not in envs["test-pypy3-min-req"] and "pypy3" in text
    assert "(not translated: calls Hatch (`envsync run ENV:SCRIPT` does what `hatch run` did))" in text
    assert "1 Hatch script left as a comment: calls Hatch" in summary


def test_defaults_split_tool_groups_and_take_python_from_python_version(tmp_path: Path):
    config, _, summary = init(tmp_path, {"pyproject.toml": PROJECT + textwrap.dedent("""
        [dependency-groups]
        test = ["pytest"]
        lint = ["ruff"]
        docs = ["sphinx"]
        bench = ["pyperf"]
        """), ".python-version": "3.12.1\n"})
    envs = config["envs"]
    assert envs["dev"] == {"project": ".", "groups": ["test", "bench"]}
    assert envs["lint"] == {"groups": ["lint"]} and envs["docs"] == {"groups": ["docs"]}
    assert config["settings"]["python"] == "3.12"
    assert summary == "translated 4 dependency groups"


@pytest.mark.parametrize(("default_groups", "dev", "own"), [
    ('["test", "lint"]', ["test", "lint"], ["docs"]),
    ('"all"', ["test", "lint", "docs", "bench"], []),
])
def test_uv_default_groups_decide_what_dev_gets(tmp_path: Path, default_groups: str, dev: list[str], own: list[str]):
    config, text, _ = init(tmp_path, {"pyproject.toml": PROJECT + textwrap.dedent(f"""
        [dependency-groups]
        test = ["pytest"]
        lint = ["ruff"]
        docs = ["sphinx"]
        bench = ["pyperf"]
        [tool.uv]
        default-groups = {default_groups}
        """)})
    assert config["envs"]["dev"]["groups"] == dev
    assert [name for name in config["envs"] if name != "dev"] == own
    assert ("left out (add to `groups` to install): bench" in text) == (default_groups != '"all"')


def test_requirements_folder_layout(tmp_path: Path):
    config, _, summary = init(tmp_path, {
        "requirements/base.txt": "django>=4.2\n",
        "requirements/dev.txt": "-r base.txt\npytest\n",
        "requirements/prod.txt": "-r base.txt\ngunicorn\n",
        "requirements/constraints.txt": "django<5\n"})
    assert config["envs"] == {
        "dev": {"requirements": ["requirements/dev.txt"], "constraints": ["requirements/constraints.txt"],
                "solve-group": "base"},
        "prod": {"requirements": ["requirements/prod.txt"], "constraints": ["requirements/constraints.txt"],
                 "solve-group": "base"}}
    assert summary == "translated 2 requirements files"


def test_requirements_files_next_to_a_project_join_its_dev_env(tmp_path: Path):
    config, _, _ = init(tmp_path, {"pyproject.toml": PROJECT, "requirements.txt": "lib\n",
                                   "requirements-dev.txt": "-r requirements.txt\ntool\n"})
    # dev (the project's env, which installs it) shares requirements.txt with main: one solve group.
    assert config["envs"] == {"main": {"requirements": ["requirements.txt"], "solve-group": "main"},
                              "dev": {"project": ".", "requirements": ["requirements-dev.txt"],
                                      "solve-group": "main"}}


def test_requirements_files_with_an_editable_line_are_solve_grouped_too(tmp_path: Path):
    config, _, _ = init(tmp_path, {"requirements/base.txt": "lib\n", "requirements/dev.txt": "-r base.txt\n-e .\n",
                                   "requirements/prod.txt": "-r base.txt\n", "requirements/ci.txt": "-r base.txt\n"})
    assert {name: env.get("solve-group") for name, env in config["envs"].items()} == {
        "ci": "base", "dev": "base", "prod": "base"}


def test_nothing_to_translate_still_gives_an_env_to_fill_in(tmp_path: Path):
    config, text, summary = init(tmp_path, {})
    assert config["envs"] == {"dev": {}} and "declare an env by hand" in text
    assert summary == "translated nothing from another tool"


def test_gitignore_is_created_appended_to_and_never_duplicated(tmp_path: Path):
    assert ignore_env_root(tmp_path, ".envs") == "/.envs/"
    assert (tmp_path / ".gitignore").read_text() == "/.envs/\n"
    assert ignore_env_root(tmp_path, ".envs") is None
    (tmp_path / ".gitignore").write_text("node_modules")
    assert ignore_env_root(tmp_path, "./.envs/") == "/.envs/"
    assert (tmp_path / ".gitignore").read_text() == "node_modules\n/.envs/\n"
    (tmp_path / ".gitignore").write_text(".envs\n")
    assert ignore_env_root(tmp_path, ".envs") is None


@pytest.mark.parametrize(("line", "expected"), [
    ("pytest {args}", ("pytest {args}", None)),
    ("pytest {posargs:tests -x}", ("pytest {args:tests -x}", None)),
    ("python -c 'import a; a.b()'", ("python -c 'import a; a.b()'", None)),
    ("echo $HOME", ("echo ${HOME}", None)),
    ("rm -rf build/*", (None, "shell syntax")),
    ("make docs > out.txt", (None, "shell syntax")),
    ("echo $(date)", (None, "shell syntax")),
    ("ls {envtmpdir}", (None, "no envsync value for {envtmpdir}")),
    ("echo 'open", (None, "unbalanced quotes")),
])
def test_script_lines(line: str, expected: tuple[str | None, str | None]):
    def replace(inside: str) -> str | None:
        return {"posargs": "{args}"}.get(inside) or ("{args:" + inside[8:] + "}" if inside.startswith("posargs:")
                                                     else None)
    assert translate(line, replace) == expected


def test_envlist_expansion():
    assert split_envlist("py{311,312}-django{42,50}, lint\n docs") == ["py{311,312}-django{42,50}", "lint", "docs"]
    assert expand("py{311,312}-django{42,50}") == ["py311-django42", "py311-django50", "py312-django42",
                                                   "py312-django50"]
    assert expand("py3{8-10}") == ["py38", "py39", "py310"]


@pytest.mark.parametrize(("spec", "expected"), [(">=3.9", "3.9"), (">=3.8.1,<4", "3.8"), ("~=3.10", "3.10"),
                                                 (">3.11", "3.11"), ("nonsense", None)])
def test_lowest_minor(spec: str, expected: str | None):
    assert lowest_minor(spec) == expected


@pytest.mark.parametrize("files", [
    {"tox.ini": "[tox\nenvlist = py311\n"},
    {"pyproject.toml": "[project\nname = 1\n"},
    {"pyproject.toml": '[tool.tox]\nenv_list = "py311"\n[tool.tox.env.x]\ncommands = 5\ndeps = {a = 1}\n'},
    {"pyproject.toml": '[tool.hatch.envs.a]\ntemplate = ["b"]\nmatrix = "x"\nscripts = { s = 5, t = [1, "ok"] }\n'
                       'env-vars = 3\nfeatures = "cli"\n[[tool.hatch.envs.b.matrix]]\npython = 3.11\n'},
    {"tox.ini": "[tox]\nenvlist = py{311\n[testenv]\ndeps = {[nowhere]deps}\ncommands = '\n"},
    {".gitignore/keep": "", "requirements.txt": "lib\n"},
], ids=["bad-ini", "bad-toml", "tox-toml-types", "hatch-types", "tox-odd-syntax", "gitignore-is-a-folder"])
def test_odd_configs_give_an_envs_toml_or_one_message_never_a_traceback(tmp_path: Path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    result = run_envsync("init", cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 0:
        tomllib.loads((tmp_path / "envs.toml").read_text())
    else:
        assert result.returncode == 1 and "cannot read" in result.stderr, result.stderr
        assert not (tmp_path / "envs.toml").exists()
