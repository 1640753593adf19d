"""Pythons on demand: an env that asks for a Python this machine lacks gets a python-build-standalone
build, from a downloads list and mirror named by environment variables (as a company would).

The build is real: an `install_only` archive (a `python/` folder) made from a CPython already on
the machine, copied and packed, which runs from wherever it is unpacked. The machine's other
Pythons are hidden (PATH without them, an empty PYENV_ROOT), so only the download can serve.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from helpers import python_path, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

RELEASE = "https://github.com/astral-sh/python-build-standalone/releases/download"
VERSION = "3.12"


def _copy_python(source_prefix: Path, target: Path) -> None:
    """The interpreter, its shared library and its standard library, without tests and caches."""
    skip = shutil.ignore_patterns("test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
                                  "__pycache__", "site-packages", "config-*", "pkgconfig", "*.a")
    (target / "bin").mkdir(parents=True)
    minor = f"python{VERSION}"
    shutil.copy2(source_prefix / "bin" / minor, target / "bin" / minor)
    (target / "bin" / "python3").symlink_to(minor)  # as the real builds have it
    shutil.copytree(source_prefix / "lib", target / "lib", ignore=skip, symlinks=True)
    (target / "lib" / minor / "site-packages").mkdir()


@pytest.fixture(scope="session")
def build_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(archive, sha256, full version) of an install_only build made from pyenv's CPython 3.12."""
    found = python_path(VERSION)
    if found is None:
        pytest.skip(f"no CPython {VERSION} on this machine to pack as a build")
    prefix = Path(found).resolve().parent.parent
    work = tmp_path_factory.mktemp("pbs")
    _copy_python(prefix, work / "python")
    probe = subprocess.run([str(work / "python" / "bin" / "python3"), "-c",
                            "import sys, platform; print(sys.prefix); print(platform.python_version())"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0 or Path(probe.stdout.split()[0]) != work / "python":
        pytest.skip(f"this machine's CPython {VERSION} does not run from a copy: {probe.stderr.strip()[-200:]}")
    full = probe.stdout.split()[1]
    archive = work / f"cpython-{full}+20261021-x86_64-unknown-linux-gnu-install_only.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(work / "python", arcname="python")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest(), full


def _downloads_json(path: Path, url: str, sha256: str, full: str) -> Path:
    """A downloads list in uv's download-metadata.json format with one build for this machine."""
    from envsync.pythons.catalogue import this_platform

    here = this_platform()
    major, minor, patch = (int(part) for part in full.split("."))
    entry = {"name": "cpython", "arch": {"family": here.arch, "variant": None}, "os": here.os, "libc": here.libc,
             "major": major, "minor": minor, "patch": patch, "prerelease": "", "url": url, "sha256": sha256,
             "variant": None}
    path.write_text(json.dumps({f"cpython-{full}-{here.os}-{here.arch}-{here.libc}": entry}))
    return path


@pytest.fixture
def no_other_pythons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Only the system's python3 (3.11) on PATH, no pyenv, Pythons installed into a test folder."""
    if Path("/usr/bin/python3.12").exists():
        pytest.skip("this machine has a system Python 3.12 that can't be hidden")
    empty = tmp_path / "no-pyenv"
    empty.mkdir()
    return {"PATH": "/usr/bin:/bin", "PYENV_ROOT": str(empty),
            "ENVSYNC_PYTHON_INSTALL_DIR": str(tmp_path / "pythons"), "ENVSYNC_PYTHON_DOWNLOADS": "automatic"}


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(WheelSpec("alpha", "1.0"))
    write_config(tmp_path / "proj", f"""
        [settings]
        index-url = "{index.url}"

        [envs.dev]
        python = "{VERSION}"
        dependencies = ["alpha"]
    """)
    return tmp_path / "proj"


def _served_from_file(tmp_path: Path, build_archive, env: dict[str, str]) -> dict[str, str]:
    archive, sha256, full = build_archive
    listing = _downloads_json(tmp_path / "downloads.json", archive.as_uri(), sha256, full)
    return {**env, "ENVSYNC_PYTHON_DOWNLOADS_JSON": str(listing)}


def test_plan_names_the_python_it_would_install_and_changes_nothing(tmp_path, project, build_archive,
                                                                    no_other_pythons):
    env = _served_from_file(tmp_path, build_archive, no_other_pythons)
    full = build_archive[2]
    done = run_envsync("plan", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"+ install Python {full} (python-build-standalone, ")
    assert f"env dev (.envs/dev, Python {full})" in lines[1]
    assert "+ install  alpha 1.0" in done.stdout
    assert "1 Python to install" in done.stdout
    assert not (tmp_path / "pythons").exists(), "plan installed something"

    document = json.loads(run_envsync("plan", "--json", cwd=project, env=env).stdout)
    assert document["pythons"] == [{"action": "install-python", "version": full,
                                    "source": "python-build-standalone", "url": build_archive[0].as_uri(),
                                    "size": build_archive[0].stat().st_size}]
    assert document["summary"]["install-python"] == 1


def test_apply_installs_the_missing_python_and_builds_the_env_with_it(tmp_path, project, build_archive,
                                                                      no_other_pythons):
    env = _served_from_file(tmp_path, build_archive, no_other_pythons)
    full = build_archive[2]
    done = run_envsync("apply", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "pythons"
    folders = [p.name for p in installed.iterdir() if not p.name.startswith(".")]
    assert len(folders) == 1 and folders[0].startswith(f"cpython-{full}-")
    python = project / ".envs" / "dev" / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import sys, alpha; print(sys.version.split()[0]); print(sys.base_prefix)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == full
    assert Path(out[1]).resolve() == (installed / folders[0]).resolve()
    again = run_envsync("plan", "--detailed-exitcode", cwd=project, env=env)
    assert again.returncode == 0, again.stdout + again.stderr

    listing = run_envsync("python", "list", cwd=project, env=env)
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if line.startswith(f"cpython-{full}"))
    assert "installed by envsync" in line and "used by dev" in line


def test_a_python_on_the_machine_wins_over_a_download(tmp_path, project, build_archive, no_other_pythons):
    """With pyenv visible again, its 3.12 serves the env even though a build is listed."""
    env = _served_from_file(tmp_path, build_archive, no_other_pythons)
    env.pop("PYENV_ROOT")
    done = run_envsync("plan", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    assert "install Python" not in done.stdout


def test_a_matrix_with_a_missing_python_installs_only_that_one(tmp_path, index, build_archive, no_other_pythons):
    index.add(WheelSpec("alpha", "1.0"))
    project = tmp_path / "lib"
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"

        [envs.test]
        matrix = {{ python = ["3.11", "{VERSION}"] }}
        dependencies = ["alpha"]
    """)
    env = _served_from_file(tmp_path, build_archive, no_other_pythons)
    plan = run_envsync("plan", cwd=project, env=env)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("+ install Python") == 1
    done = run_envsync("apply", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    for name, version in (("test-py311", "3.11"), ("test-py312", VERSION)):
        python = project / ".envs" / name / "bin" / "python"
        said = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert said == version


def test_a_mirror_laid_out_like_the_release_assets_serves_the_listed_urls(tmp_path, project, build_archive,
                                                                          no_other_pythons):
    archive, sha256, full = build_archive
    mirror = tmp_path / "mirror"
    (mirror / "20261021").mkdir(parents=True)
    shutil.copy(archive, mirror / "20261021" / archive.name)
    listing = _downloads_json(tmp_path / "downloads.json", f"{RELEASE}/20261021/{archive.name}", sha256, full)
    env = {**no_other_pythons, "ENVSYNC_PYTHON_DOWNLOADS_JSON": str(listing),
           "ENVSYNC_PYTHON_INSTALL_MIRROR": mirror.as_uri()}
    done = run_envsync("apply", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    assert (project / ".envs" / "dev" / "bin" / "python").exists()


def test_a_build_whose_sha256_differs_is_refused_before_unpacking(tmp_path, project, build_archive,
                                                                  no_other_pythons):
    archive, _, full = build_archive
    listing = _downloads_json(tmp_path / "downloads.json", archive.as_uri(), "0" * 64, full)
    env = {**no_other_pythons, "ENVSYNC_PYTHON_DOWNLOADS_JSON": str(listing)}
    done = run_envsync("apply", cwd=project, env=env)
    assert done.returncode == 1
    assert "does not match the expected" in done.stderr and f"Python {full}" in done.stderr
    assert "install Python 3.12 another way" in done.stderr
    assert "Traceback" not in done.stderr
    left = list((tmp_path / "pythons").iterdir())
    assert [p.name for p in left] == [f".cpython-{full}-{p.name.split('-', 2)[2]}" for p in left] or all(
        p.name.endswith(".lock") for p in left), left
    assert not (project / ".envs" / "dev").exists()


def test_an_unreachable_download_names_the_url_and_another_way(tmp_path, project, build_archive,
                                                               no_other_pythons):
    _, sha256, full = build_archive
    listing = _downloads_json(tmp_path / "downloads.json", LocalIndex.unreachable_url() + "/python.tar.gz",
                              sha256, full)
    env = {**no_other_pythons, "ENVSYNC_PYTHON_DOWNLOADS_JSON": str(listing), "ENVSYNC_HTTP_TIMEOUT": "2"}
    done = run_envsync("apply", cwd=project, env=env)
    assert done.returncode == 1
    assert "could not download Python" in done.stderr and "python.tar.gz" in done.stderr
    assert "pyenv install 3.12" in done.stderr


@pytest.mark.parametrize("policy", ["manual", "never"])
def test_downloads_can_be_switched_off(tmp_path, project, build_archive, no_other_pythons, policy):
    env = {**_served_from_file(tmp_path, build_archive, no_other_pythons), "ENVSYNC_PYTHON_DOWNLOADS": policy}
    done = run_envsync("plan", cwd=project, env=env)
    assert done.returncode == 1
    assert "No Python interpreter matches python = '3.12'" in done.stderr
    if policy == "manual":
        assert "envsync python install 3.12" in done.stderr
    else:
        assert 'python-downloads = "automatic"' in done.stderr


def test_the_setting_in_envs_toml_switches_downloads_off(tmp_path, project, build_archive, no_other_pythons):
    config = project / "envs.toml"
    config.write_text(config.read_text().replace("[settings]\n", '[settings]\npython-downloads = "never"\n'))
    env = _served_from_file(tmp_path, build_archive, no_other_pythons)
    env.pop("ENVSYNC_PYTHON_DOWNLOADS")
    done = run_envsync("plan", cwd=project, env=env)
    assert done.returncode == 1 and "No Python interpreter matches" in done.stderr


def test_two_runs_installing_one_python_end_with_one_copy(tmp_path, build_archive, no_other_pythons):
    env = {**os.environ, **_served_from_file(tmp_path, build_archive, no_other_pythons),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    runs = [subprocess.Popen([sys.executable, "-m", "envsync", "python", "install", VERSION], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    entries = sorted(p.name for p in (tmp_path / "pythons").iterdir() if not p.name.endswith(".lock"))
    assert len(entries) == 1 and entries[0].startswith("cpython-"), entries


def test_ctrl_c_during_an_install_leaves_nothing_half_installed(tmp_path, build_archive, no_other_pythons):
    """SIGINT while the archive is being read (a slow local file: a FIFO fed by this test)."""
    archive, sha256, full = build_archive
    fifo = tmp_path / "slow.tar.gz"
    os.mkfifo(fifo)
    listing = _downloads_json(tmp_path / "downloads.json", fifo.as_uri(), sha256, full)
    env = {**os.environ, **no_other_pythons, "ENVSYNC_PYTHON_DOWNLOADS_JSON": str(listing),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.Popen([sys.executable, "-m", "envsync", "python", "install", VERSION], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "wb") as feed:  # blocks until envsync opens the FIFO: the download has begun
        feed.write(archive.read_bytes()[:100_000])
        feed.flush()
        staging = tmp_path / "pythons"
        for _ in range(200):
            if any(p.name.startswith(".staging-") for p in staging.iterdir()):
                break
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        time.sleep(0.5)
    _, err = run.communicate(timeout=120)  # the FIFO is closed: a lost signal would end in a short download
    assert run.returncode == 130, err
    left = [p.name for p in (tmp_path / "pythons").iterdir() if not p.name.endswith(".lock")]
    assert left == [], left


def test_uninstall_is_refused_while_an_env_uses_it_unless_forced(tmp_path, project, build_archive,
                                                                  no_other_pythons):
    env = _served_from_file(tmp_path, build_archive, no_other_pythons)
    assert run_envsync("apply", cwd=project, env=env).returncode == 0
    refused = run_envsync("python", "uninstall", VERSION, cwd=project, env=env)
    assert refused.returncode == 1
    assert "used by env dev" in refused.stderr and "--force" in refused.stderr
    assert any(p.name.startswith("cpython-") for p in (tmp_path / "pythons").iterdir())

    forced = run_envsync("python", "uninstall", VERSION, "--force", cwd=project, env=env)
    assert forced.returncode == 0, forced.stderr
    assert "the next apply recreates dev" in forced.stdout + forced.stderr
    assert not any(p.name.startswith("cpython-") for p in (tmp_path / "pythons").iterdir())
    plan = run_envsync("plan", cwd=project, env=env)
    assert "+ install Python" in plan.stdout and "recreate" in plan.stdout, plan.stdout


def test_python_version_file_is_honoured_where_python_is_not_set(tmp_path, index):
    index.add(WheelSpec("alpha", "1.0"))
    project = tmp_path / "proj"
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"

        [envs.dev]
        dependencies = ["alpha"]
    """)
    found = python_path("3.10")
    if found is None:
        pytest.skip("no CPython 3.10 here")
    (project / ".python-version").write_text("3.10\n")
    done = run_envsync("plan", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "Python 3.10." in done.stdout


def test_musl_machines_are_refused_rather_than_given_a_glibc_build():
    from envsync.errors import PythonDownloadError
    from envsync.pythons.catalogue import Platform, find_build
    from envsync.pythons.interpreters import version_spec

    with pytest.raises(PythonDownloadError, match="musl"):
        find_build(version_spec("3.12"), "3.12", Platform("linux", "x86_64", "musl"))


def test_the_builds_table_gives_the_newest_patch_of_a_minor():
    """pbs-installer's table (shipped with the package, no network): newest patch, hashed, install_only."""
    from envsync.pythons.catalogue import Platform, find_build
    from envsync.pythons.interpreters import version_spec

    build = find_build(version_spec("3.12"), "3.12", Platform("linux", "x86_64", "gnu"))
    assert build.version.release[:2] == (3, 12)
    assert build.url.startswith(RELEASE) and "install_only" in build.url and build.sha256
    older = find_build(version_spec("==3.12.4"), "==3.12.4", Platform("linux", "x86_64", "gnu"))
    assert str(older.version) == "3.12.4"


@pytest.mark.network
def test_a_real_build_downloads_from_the_release_host(project, no_other_pythons):
    """The real path: pbs-installer's table and the release host. Skipped where it can't be reached."""
    import httpx

    try:
        httpx.head(RELEASE, timeout=5, follow_redirects=False)
    except httpx.HTTPError:
        pytest.skip("the python-build-standalone release host is unreachable from here")
    done = run_envsync("apply", cwd=project, env=no_other_pythons, timeout=600)
    assert done.returncode == 0, done.stderr
