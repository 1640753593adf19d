"""Matrices beyond Python: package factors (`django = ["4.2", "5.1"]`), excludes, names, and
expansions whose Python is missing (`skip-missing-pythons`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import (
    assert_config_refused,
    commit_everything,
    installed,
    python_path,
    run_envsync,
    two_pythons,
    write_config,
)
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.config.load import load

OLD, NEW = two_pythons()
OLD_TAG, NEW_TAG = OLD.replace(".", ""), NEW.replace(".", "")
ABSENT = "3.5"  # no machine running envsync has it: envsync needs 3.8+, and so does its own test suite


def envsync(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_envsync(*args, cwd=project)


@pytest.fixture
def compat(tmp_path: Path, index: LocalIndex) -> Path:
    """`compat` over two Pythons and two "django" lines, the newer django left out on the older Python."""
    for version in ("4.2.3", "4.2.11", "5.1.2"):
        index.add(WheelSpec("django", version))
    index.add(WheelSpec("django", "6.0"))  # never chosen: every expansion pins a line
    folder = tmp_path / "project"
    write_config(folder, f"""
        [settings]
        index-url = "{index.url}"

        [envs.compat]
        matrix = {{ python = ["{OLD}", "{NEW}"], django = ["4.2", "5.1"] }}
        matrix-exclude = [{{ python = "{OLD}", django = "5.1" }}]
    """)
    return folder


def test_a_two_factor_matrix_with_an_exclude_is_applied_on_real_venvs(compat: Path):
    names = [f"compat-py{OLD_TAG}-django42", f"compat-py{NEW_TAG}-django42", f"compat-py{NEW_TAG}-django51"]
    assert [spec.name for spec in load(compat / "envs.toml").envs] == names
    result = envsync(compat, "apply", "compat")
    assert result.returncode == 0, result.stderr
    envs = compat / ".envs"
    assert installed(envs / names[0]) == {"django": "4.2.11"}
    assert installed(envs / names[1]) == {"django": "4.2.11"}
    assert installed(envs / names[2]) == {"django": "5.1.2"}
    assert not (envs / f"compat-py{OLD_TAG}-django51").exists()
    assert sorted(path.name for path in compat.glob("pylock.*.toml")) == sorted(f"pylock.{n}.toml" for n in names)

    document = json.loads(envsync(compat, "plan", "--json").stdout)
    origins = {env["name"]: env["matrix"] for env in document["envs"]}
    assert origins[names[0]] == {"of": "compat", "python": OLD, "factors": {"django": "4.2"}}
    assert origins[names[2]] == {"of": "compat", "python": NEW, "factors": {"django": "5.1"}}
    full = json.loads(envsync(compat, "plan", "--json", "--refresh").stdout)
    assert full["envs"] == document["envs"]  # the no-op record keeps the factors too

    listing = envsync(compat, "list").stdout.splitlines()
    assert listing[0] == f"compat (matrix: python {OLD}, {NEW}; django 4.2, 5.1)"
    assert [line.split()[0] for line in listing[1:]] == names

    script = "import sys, importlib.metadata as m; print(sys.version_info[1], m.version('django'))"
    run = envsync(compat, "run", "compat", "--", "python", "-c", script)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:3] == [f"{OLD.split('.')[1]} 4.2.11", f"{NEW.split('.')[1]} 4.2.11",
                                          f"{NEW.split('.')[1]} 5.1.2"]


def test_plan_base_reviews_a_factor_matrix_by_its_declared_name(compat: Path):
    assert envsync(compat, "lock", "compat").returncode == 0
    commit_everything(compat)
    config = compat / "envs.toml"
    config.write_text(config.read_text().replace('django = ["4.2", "5.1"]', 'django = ["4.2.3", "5.1"]'))
    review = envsync(compat, "plan", "--base", "HEAD", "--format", "json", "compat")
    assert review.returncode == 0, review.stderr
    statuses = {env["name"]: env["status"] for env in json.loads(review.stdout)["envs"]}
    assert statuses == {f"compat-py{OLD_TAG}-django42": "removed", f"compat-py{NEW_TAG}-django42": "removed",
                        f"compat-py{OLD_TAG}-django423": "added", f"compat-py{NEW_TAG}-django423": "added",
                        f"compat-py{NEW_TAG}-django51": "unchanged"}


def test_a_factor_pins_a_release_line_or_an_exact_version(tmp_path: Path):
    path = write_config(tmp_path, """
        [settings]
        index-url = ""

        [envs.orm]
        python = "3.12"
        dependencies = ["alembic"]
        matrix = { "SQLAlchemy" = ["1.4", "2.0.30"], "zope.interface" = ["5"] }
        environments = ["sys_platform == 'linux'", "sys_platform == 'darwin'"]
    """)
    envs = load(path).envs
    assert [env.name for env in envs] == ["orm-sqlalchemy14-zope-interface5", "orm-sqlalchemy2030-zope-interface5"]
    assert [str(r) for r in envs[0].requirements] == ["alembic", "sqlalchemy==1.4.*", "zope-interface==5.*"]
    assert [str(r) for r in envs[1].requirements][1] == "sqlalchemy==2.0.30"
    assert envs[0].python == "3.12"  # a matrix without python sits beside the env's own Python
    assert envs[0].origins[1] == "envs.orm.matrix.sqlalchemy"
    assert envs[0].matrix_values == (("sqlalchemy", "1.4"), ("zope-interface", "5"))
    # Multi-platform locks combine with factors: each expansion's one lock serves every listed platform.
    assert all(env.environments == ("sys_platform == 'linux'", "sys_platform == 'darwin'") for env in envs)


def test_pypy_values_are_named_and_asked_for_as_pypy(tmp_path: Path):
    path = write_config(tmp_path, '[settings]\nindex-url = ""\n[envs.t]\nmatrix = { python = ["3.12", "pypy3.10"] }\n')
    assert [(env.name, env.python) for env in load(path).envs] == [("t-py312", "3.12"), ("t-pypy310", "pypy3.10")]


@pytest.mark.parametrize(("body", "message"), [
    ('matrix = { pyhton = ["3.12"] }', "envs.t.matrix.pyhton: unknown key (did you mean 'python'?)"),
    ('matrix = { Python = ["3.12"] }', "envs.t.matrix.Python: unknown key (did you mean 'python'?)"),
    ('matrix = { torch = ["1.0+cpu"] }', "envs.t.matrix.torch[0]: '1.0+cpu' is not a release version of torch"),
    ('matrix = { django = ["5.0rc1"] }', "envs.t.matrix.django[0]: '5.0rc1' is not a release version of django"),
    ('matrix = { django = [">=4"] }', "envs.t.matrix.django[0]: '>=4' is not a release version"),
    ("matrix = { django = [4.2] }", "envs.t.matrix.django[0]: input should be a valid string"),
    ("matrix = { django = [] }", "envs.t.matrix.django: list at least one version of django"),
    ("matrix = {}", "envs.t.matrix: the matrix is empty"),
    ('matrix = { "no name" = ["1"] }', "envs.t.matrix.no name: 'no name' is not a package name"),
    ('matrix = { django = ["4.2", "42"] }',
     "envs.t.matrix.django: '4.2' and '42' both make the env name 't-django42'"),
    ('matrix = { lib = ["1.10", "11.0"] }', "envs.t.matrix.lib: '1.10' and '11.0' both make the env name 't-lib110'"),
    ('matrix = { django = ["4.2"], Django = ["5.1"] }', "envs.t.matrix.Django: names the same package"),
    ('matrix = { python = ["3.12"], django = ["4.2"] }\nmatrix-exclude = [{ django = "5.1" }]',
     "envs.t.matrix-exclude[0].django: '5.1' is not one of the matrix's django values (4.2), so this exclude "
     "matches nothing"),
    ('matrix = { python = ["3.12"], django = ["4.2"] }\nmatrix-exclude = [{ djnago = "4.2" }]',
     "envs.t.matrix-exclude[0].djnago: not a key of the matrix, so this exclude matches nothing"),
    ('matrix = { django = ["4.2"] }\nmatrix-exclude = [{}]', "envs.t.matrix-exclude[0]: an empty exclude"),
    ('matrix = { django = ["4.2"] }\nmatrix-exclude = [{ django = "4.2" }]',
     "envs.t.matrix-exclude leaves out every expansion"),
    ('dependencies = []\nmatrix-exclude = [{ django = "4.2" }]', "envs.t.matrix-exclude: the env has no `matrix`"),
    ('matrix = { django = ["4.2"] }\n[envs.t-django42]', "envs.t.matrix.django[0]: '4.2' expands to env "
                                                          "'t-django42', which envs.t-django42 already names"),
    ('matrix = { python = ["3.12"], django = ["4.2"] }\n[envs.t-py312-django42]',
     "envs.t.matrix: python '3.12', django '4.2' expands to env 't-py312-django42'"),
    (f'matrix = {{ {"a" * 62} = ["1.2"] }}', "is longer than 64 characters"),
])
def test_factor_mistakes_name_the_key(tmp_path: Path, body: str, message: str):
    assert_config_refused(tmp_path, f'[settings]\nindex-url = ""\n[envs.t]\n{body}\n', message)


# -- skip-missing-pythons ------------------------------------------------------------------------

MISSING = "3.99"  # a version no machine has (3.5 would be refused as too old before being looked for)
SKIPPED = "compat-py399-django42"


@pytest.fixture
def partly_here(tmp_path: Path, index: LocalIndex) -> Path:
    """A matrix over an installed Python and one that is not, with skip-missing-pythons set."""
    for version in ("4.2.11", "5.1.2"):
        index.add(WheelSpec("django", version))
    folder = tmp_path / "partly"
    write_config(folder, f"""
        [settings]
        index-url = "{index.url}"
        skip-missing-pythons = true

        [envs.compat]
        matrix = {{ python = ["{MISSING}", "{NEW}"], django = ["4.2"] }}
    """)
    return folder


def test_an_expansion_whose_python_is_missing_is_skipped_and_named(partly_here: Path):
    here = f"compat-py{NEW_TAG}-django42"
    plan = envsync(partly_here, "plan")
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert lines[0] == f"env {SKIPPED} (.envs/{SKIPPED}): skipped (Python {MISSING} not found)"  # in config order
    assert lines[1].startswith(f"env {here} (.envs/{here}, Python {NEW}.")
    document = json.loads(envsync(partly_here, "plan", "--json").stdout)
    entry = document["envs"][0]
    assert entry["skipped"] == f"Python {MISSING} not found" and entry["status"] == "skipped"
    assert entry["matrix"] == {"of": "compat", "python": MISSING, "factors": {"django": "4.2"}}
    assert entry["actions"] == [] and entry["python"] is None

    listing = envsync(partly_here, "list").stdout.splitlines()
    assert listing[0] == f"compat (matrix: python {MISSING}, {NEW}; django 4.2)"
    assert listing[1].startswith(f"  {SKIPPED}  ") and listing[1].endswith(f"skipped (Python {MISSING} not found)")

    apply = envsync(partly_here, "apply")
    assert apply.returncode == 0, apply.stderr
    assert f"env {SKIPPED}: skipped (Python {MISSING} not found)" in apply.stdout
    assert installed(partly_here / ".envs" / here) == {"django": "4.2.11"}
    assert not (partly_here / ".envs" / SKIPPED).exists() and not (partly_here / f"pylock.{SKIPPED}.toml").exists()

    run = envsync(partly_here, "run", "compat", "--", "python", "-c", "import django")
    assert run.returncode == 0, run.stderr
    assert f"==> summary: {here}: ok" in run.stderr and f"==> {SKIPPED}" not in run.stderr

    # --locked still wants every expansion's lock, the skipped one's included (it can't be made here).
    locked = envsync(partly_here, "plan", "--locked")
    assert locked.returncode == 1
    assert f"pylock.{SKIPPED}.toml does not exist (env {SKIPPED}, skipped here: Python {MISSING} not found)" \
        in locked.stderr


def test_add_edits_a_matrix_whose_python_is_missing_and_syncs_the_rest(partly_here: Path):
    pytest.importorskip("tomlkit")
    result = envsync(partly_here, "add", "django", "--env", "compat")
    assert result.returncode == 0, result.stderr
    assert f"env {SKIPPED} skipped (Python {MISSING} not found)" in result.stderr
    assert 'dependencies = ["django>=4.2.11"]' in (partly_here / "envs.toml").read_text()
    assert installed(partly_here / ".envs" / f"compat-py{NEW_TAG}-django42") == {"django": "4.2.11"}


def test_the_flag_does_what_the_setting_does_and_without_either_a_missing_python_is_an_error(partly_here: Path):
    config = partly_here / "envs.toml"
    config.write_text(config.read_text().replace("skip-missing-pythons = true\n", ""))
    failed = envsync(partly_here, "plan")
    assert failed.returncode == 1 and f"No Python interpreter matches python = '{MISSING}'" in failed.stderr
    flagged = envsync(partly_here, "plan", "--skip-missing-pythons")
    assert flagged.returncode == 0, flagged.stderr
    assert f"env {SKIPPED} (.envs/{SKIPPED}): skipped (Python {MISSING} not found)" in flagged.stdout


def test_when_every_selected_expansion_is_skipped_the_command_fails(partly_here: Path):
    config = partly_here / "envs.toml"
    config.write_text(config.read_text().replace(f'"{NEW}"', '"3.98"'))
    for command in ("plan", "apply"):
        result = envsync(partly_here, command)
        assert result.returncode == 1
        assert "every selected matrix expansion was skipped" in result.stderr
        assert "compat-py398-django42: Python 3.98 not found" in result.stderr and "Traceback" not in result.stderr
    assert not (partly_here / ".envs").exists()


def test_pypy_is_looked_for_by_name_and_must_say_it_is_pypy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No PyPy is installed here: a CPython that merely carries PyPy's name is found, probed and refused."""
    from envsync.errors import InterpreterNotFound
    from envsync.pythons.interpreters import find_interpreter

    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "pypy3.10").symlink_to(python_path(NEW))
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    with pytest.raises(InterpreterNotFound) as caught:
        find_interpreter("pypy3.10", tmp_path)
    assert "No PyPy interpreter matches python = 'pypy3.10'" in str(caught.value)


# -- output formats are renderers ------------------------------------------------------------------


def test_a_new_format_is_one_module_and_one_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]):
    """A format registered in envsync.render.FORMATS renders the plan on the full path and on the
    no-op path alike (from the record of the last in-sync run), with no other change anywhere."""
    from envsync import cli
    from envsync.render import FORMATS

    (tmp_path / "formats").mkdir()
    (tmp_path / "formats" / "names_only.py").write_text(
        "def render_plan(view, colour=False):\n"
        "    return ' '.join(env['name'] + ':' + env['status'] for env in view['envs'])\n")
    monkeypatch.syspath_prepend(str(tmp_path / "formats"))
    monkeypatch.setitem(FORMATS, "names", "names_only")
    project = tmp_path / "project"
    write_config(project, '[settings]\nindex-url = ""\n[envs.one]\n[envs.two]\n')
    monkeypatch.chdir(project)

    assert cli.main(["plan", "--format", "names"]) == 0
    assert capsys.readouterr().out == "one:changes-pending two:changes-pending\n"
    assert cli.main(["apply"]) == 0
    capsys.readouterr()
    from envsync.state.stamp import still_in_sync

    assert still_in_sync(project / "envs.toml", []) is not None  # the next plan is the no-op path
    assert cli.main(["plan", "--format", "names"]) == 0
    assert capsys.readouterr().out == "one:in-sync two:in-sync\n"
    assert cli.main(["plan", "--format", "names", "--refresh"]) == 0
    assert capsys.readouterr().out == "one:in-sync two:in-sync\n"
    assert cli.main(["plan", "--format", "json"]) == 0  # --format json is --json, without --base too
    assert json.loads(capsys.readouterr().out)["changes_pending"] is False
