"""Finding interpreters by version, range and path; probing them once; their tags and markers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import packaging
import pytest
from packaging.markers import default_environment
from packaging.tags import sys_tags
from packaging.version import Version

from envsync.errors import InterpreterNotFound
from envsync.model import Interpreter
from envsync.pythons import interpreters
from envsync.pythons.interpreters import find_interpreter, probe

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def _available(minor: str) -> bool:
    return any(PYENV_VERSIONS.glob(f"{minor}.*/bin/python3")) or shutil.which(f"python{minor}") is not None


def _pyenv_python(minor: str) -> Path:
    found = sorted(PYENV_VERSIONS.glob(f"{minor}.*/bin/python3"))
    if not found:
        pytest.skip(f"no pyenv Python {minor}")
    return found[-1]


def needs(minor: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not _available(minor), reason=f"no Python {minor} on this machine")


@needs("3.12")
def test_a_minor_version_finds_a_patch_release_of_it(tmp_path: Path) -> None:
    found = find_interpreter("3.12", tmp_path)
    assert (found.version.major, found.version.minor) == (3, 12)
    assert found.implementation == "cpython"
    assert found.tags[0].startswith("cp312-cp312-")


@needs("3.10")
def test_a_range_gives_the_newest_interpreter_inside_it(tmp_path: Path) -> None:
    found = find_interpreter(">=3.9,<3.11", tmp_path)
    assert (found.version.major, found.version.minor) == (3, 10)


@needs("3.8")
def test_the_oldest_supported_version(tmp_path: Path) -> None:
    found = find_interpreter("3.8", tmp_path)
    assert found.short_version == "3.8"
    assert found.markers["python_version"] == "3.8"


def test_an_exact_version(tmp_path: Path) -> None:
    wanted = find_interpreter(None, tmp_path).version
    assert find_interpreter(str(wanted), tmp_path).version == wanted


def test_no_request_means_the_interpreter_running_envsync(tmp_path: Path) -> None:
    found = find_interpreter(None, tmp_path)
    assert found.version == Version(".".join(map(str, sys.version_info[:3])))


def test_a_relative_path_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "py").symlink_to(sys.executable)
    found = find_interpreter("./bin/py", tmp_path)
    assert found.executable == tmp_path / "bin" / "py"  # as found, not resolved
    assert found.version.release[:2] == sys.version_info[:2]


def test_a_home_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "py").symlink_to(sys.executable)
    assert find_interpreter("~/py", Path("/nowhere")).executable == tmp_path / "py"


def test_a_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFound, match="no-such-python"):
        find_interpreter("./no-such-python", tmp_path)


def test_an_unknown_version_names_the_request_and_what_was_found(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFound) as caught:
        find_interpreter("4.7", tmp_path)
    message = str(caught.value)
    assert "'4.7'" in message
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in message  # at least our own version was found
    assert "pyenv install" in message


def test_a_request_that_is_no_version_at_all(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFound, match="banana"):
        find_interpreter("banana", tmp_path)


def test_a_file_that_is_not_python(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho nope >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(InterpreterNotFound, match=str(fake)):
        probe(fake)


def test_pyenv_root_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _pyenv_python("3.12").parent.parent
    (tmp_path / "pyenv" / "versions").mkdir(parents=True)
    (tmp_path / "pyenv" / "versions" / real.name).symlink_to(real)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    found = find_interpreter("3.12", tmp_path)
    assert found.executable == tmp_path / "pyenv" / "versions" / real.name / "bin" / "python3"


def test_pythons_on_path_are_found_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _pyenv_python("3.12")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3.12").symlink_to(real)
    (tmp_path / "bin" / "python3.12-config").symlink_to(real)  # not a python name: ignored
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_interpreter("3.12", tmp_path).executable == tmp_path / "bin" / "python3.12"
    with pytest.raises(InterpreterNotFound, match=r"found: 3\.12"):
        find_interpreter("3.11", tmp_path)


# -- choosing among candidates, without real interpreters ---------------------------------


def _fake(path: str, version: str) -> Interpreter:
    return Interpreter(Path(path), Version(version), "cpython", markers={}, tags=())


def _candidates(monkeypatch: pytest.MonkeyPatch, found: dict[str, str], *entries: tuple[str, int, str | None, bool]) -> list[str]:
    """Discovery yields `entries`; probing path P answers found[P]. Returns the paths probed."""
    probed: list[str] = []

    def fake_probe(path: Path) -> Interpreter:
        probed.append(str(path))
        if str(path) not in found:
            raise InterpreterNotFound(f"{path} is not a working Python interpreter")
        return _fake(str(path), found[str(path)])

    candidates = [
        interpreters._Candidate(Path(p), source, order, Version(v) if v else None, exact)
        for order, (p, source, v, exact) in enumerate(entries)
    ]
    monkeypatch.setattr(interpreters, "_discover", lambda: iter(candidates))
    monkeypatch.setattr(interpreters, "probe", fake_probe)
    return probed


def test_names_decide_so_only_the_chosen_one_is_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    probed = _candidates(
        monkeypatch,
        {"/pyenv/3.12.1": "3.12.1", "/pyenv/3.12.0": "3.12.0", "/pyenv/3.11.7": "3.11.7"},
        ("/pyenv/3.11.7", 1, "3.11.7", True),
        ("/pyenv/3.12.0", 1, "3.12.0", True),
        ("/pyenv/3.12.1", 1, "3.12.1", True),
    )
    assert find_interpreter("3.12", Path("/")).executable == Path("/pyenv/3.12.1")
    assert probed == ["/pyenv/3.12.1"]


def test_newest_patch_wins_over_path_order(monkeypatch: pytest.MonkeyPatch) -> None:
    _candidates(
        monkeypatch,
        {"/usr/bin/python3.12": "3.12.0", "/pyenv/3.12.1": "3.12.1"},
        ("/usr/bin/python3.12", 0, "3.12", False),
        ("/pyenv/3.12.1", 1, "3.12.1", True),
    )
    assert find_interpreter("3.12", Path("/")).executable == Path("/pyenv/3.12.1")


def test_path_wins_a_tie(monkeypatch: pytest.MonkeyPatch) -> None:
    _candidates(
        monkeypatch,
        {"/usr/bin/python3.12": "3.12.1", "/pyenv/3.12.1": "3.12.1"},
        ("/usr/bin/python3.12", 0, "3.12", False),
        ("/pyenv/3.12.1", 1, "3.12.1", True),
    )
    assert find_interpreter("3.12", Path("/")).executable == Path("/usr/bin/python3.12")


def test_a_name_without_version_is_probed_and_broken_ones_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    probed = _candidates(
        monkeypatch,
        {"/bin/python3": "3.13.1"},
        ("/broken/python3", 0, None, False),
        ("/bin/python3", 0, None, False),
        ("/pyenv/3.12.1", 1, "3.12.1", True),
    )
    assert find_interpreter(">=3.12", Path("/")).executable == Path("/bin/python3")
    assert "/broken/python3" in probed and "/pyenv/3.12.1" not in probed


def test_versions_below_the_minimum_are_not_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    _candidates(monkeypatch, {"/pyenv/3.7.16": "3.7.16"}, ("/pyenv/3.7.16", 1, "3.7.16", True))
    with pytest.raises(InterpreterNotFound, match=r"3\.8 or newer") as raised:
        find_interpreter("3.7", Path("/"))
    assert "too old" in raised.value.message and "3.7.16" not in str(raised.value)  # said once, plainly


# -- probing ------------------------------------------------------------------------------


def test_probe_is_cached_by_file_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    first = probe(Path(sys.executable))

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the second probe ran a subprocess")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert probe(Path(sys.executable)) == first


def test_tags_equal_the_interpreters_own_view() -> None:
    found = probe(Path(sys.executable))
    assert list(found.tags) == [str(tag) for tag in sys_tags()]


def test_markers_equal_the_interpreters_own_view() -> None:
    assert probe(Path(sys.executable)).markers == default_environment()


@pytest.mark.parametrize("minor", ["3.8", "3.13"])
def test_tags_and_markers_of_another_interpreter(minor: str, tmp_path: Path) -> None:
    """Run packaging inside that interpreter (a copy of our packaging) and compare."""
    exe = _pyenv_python(minor)
    shutil.copytree(Path(packaging.__file__).parent, tmp_path / "packaging")
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from packaging import markers, tags;"
        "print(json.dumps([[str(t) for t in tags.sys_tags()], markers.default_environment()]))"
    )
    out = subprocess.run([str(exe), "-c", script, str(tmp_path)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        pytest.skip(f"packaging {packaging.__version__} does not run on Python {minor}: {out.stderr[-200:]}")
    their_tags, their_markers = json.loads(out.stdout)
    found = probe(exe)
    assert list(found.tags) == their_tags
    assert found.markers == their_markers


def test_a_venvs_python_gives_its_base_interpreter(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    venv_python = tmp_path / "venv" / "bin" / "python"
    found = probe(venv_python)
    assert tmp_path not in found.executable.parents
    assert found.version == probe(Path(sys.executable)).version
    assert found.stdlib is not None and tmp_path not in found.stdlib.parents


@pytest.mark.parametrize("minor", ["3.8", "3.13"])
def test_a_venv_of_an_older_or_newer_python_gives_its_base_interpreter(tmp_path: Path, minor: str) -> None:
    """The probe runs without site, where a venv's prefix is set: it reads pyvenv.cfg itself, on every version."""
    base = _pyenv_python(minor)
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    found = probe(tmp_path / "venv" / "bin" / "python")
    direct = probe(base)
    assert found.executable.parent == direct.executable.parent  # python3.8 rather than python3: the same file
    assert (found.version, found.tags, found.markers, found.stdlib) == (direct.version, direct.tags, direct.markers,
                                                                         direct.stdlib)


def test_a_pth_file_that_prints_does_not_spoil_the_probe(tmp_path: Path) -> None:
    """A .pth file runs at every start of that Python; the probe's answer on stdout must stay its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    site_packages = next((tmp_path / "venv" / "lib").glob("python3.*/site-packages"))
    (site_packages / "noisy.pth").write_text("import sys; sys.stdout.write('hello from a pth file')\n")
    venv_python = tmp_path / "venv" / "bin" / "python"
    noisy = subprocess.run([str(venv_python), "-c", "pass"], capture_output=True, text=True, check=True)
    assert noisy.stdout.startswith("hello from a pth file")
    assert probe(venv_python) == probe(Path(sys.executable))


@needs("3.12")
def test_an_interpreter_found_ahead_is_probed_once_and_is_the_same_one(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """desired_states starts probing while it reads locks; what `interpreter` answers must not change."""
    from envsync.config.load import load
    from envsync.state.session import Session

    (tmp_path / "envs.toml").write_text('[envs.e]\npython = "3.12"\n')
    probed: list[Path] = []
    real_run = interpreters._run_probe
    monkeypatch.setattr(interpreters, "_run_probe", lambda path: probed.append(path) or real_run(path))
    session = Session(load(tmp_path / "envs.toml"))
    session.find_interpreters_ahead(["3.12", "3.12"])
    found = session.interpreter("3.12")
    assert found == find_interpreter("3.12", tmp_path)
    assert len(probed) == 1, "the ahead thread probes; `interpreter` waits for it and reads its answer"


def test_a_request_found_ahead_that_fails_reports_as_it_always_did(tmp_path: Path) -> None:
    from envsync.config.load import load
    from envsync.state.session import Session

    (tmp_path / "envs.toml").write_text('[envs.e]\npython = "2.1"\n')
    session = Session(load(tmp_path / "envs.toml"))
    session.find_interpreters_ahead(["2.1"])
    with pytest.raises(InterpreterNotFound) as ahead:
        session.interpreter("2.1")
    with pytest.raises(InterpreterNotFound) as plain:
        Session(load(tmp_path / "envs.toml")).interpreter("2.1")
    assert ahead.value.message == plain.value.message
