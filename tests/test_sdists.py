"""Packages published only as sdists: built once in an isolated build env, the wheel cached by
the sdist's sha256 and reused by every env; hostile archives refused before anything is written."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from helpers import installed, run_envsync
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.build.sdist import extract_sdist
from envsync.errors import BuildFailed


def make_sdist(folder: Path, name: str, version: str, *, counter: Path | None = None,
               setup_error: str | None = None) -> Path:
    """A setuptools sdist; its setup.py appends a line to `counter` each time a backend runs it."""
    root = f"{name}-{version}"
    files = {
        f"{root}/pyproject.toml": textwrap.dedent(f"""
            [build-system]
            requires = ["setuptools>=64"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{name}"
            version = "{version}"
            dependencies = ["lib"]
            """),
        f"{root}/{name}.py": "VALUE = 42\n",
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    setup = "from setuptools import setup\n"
    if counter is not None:
        setup += f"open({str(counter)!r}, 'a').write('ran\\n')\n"
    if setup_error is not None:
        setup += f"raise SystemExit({setup_error!r})\n"
    files[f"{root}/setup.py"] = setup + "setup(py_modules=[" + repr(name) + "])\n"
    path = folder / f"{root}.tar.gz"
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def envs(folder: Path, index: LocalIndex, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "envs.toml").write_text(f'[settings]\nindex-url = "{index.url}"\n\n' + textwrap.dedent(body))


def test_sdist_only_package_is_built_once_and_reused(tmp_path: Path, build_index: LocalIndex):
    counter = tmp_path / "builds.txt"
    build_index.add(WheelSpec("lib", "1.0"))
    build_index.add_file("sdpkg", make_sdist(tmp_path / "dist", "sdpkg", "1.0", counter=counter))
    project = tmp_path / "project"
    envs(project, build_index, '[envs.one]\ndependencies = ["sdpkg"]\n')
    result = run_envsync("apply", cwd=project, timeout=600)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "one") == {"sdpkg": "1.0", "lib": "1.0"}
    lock = (project / "pylock.one.toml").read_text()
    assert "[packages.sdist]" in lock and "sdpkg-1.0.tar.gz" in lock
    runs = counter.read_text().count("ran")
    assert runs >= 1

    envs(project, build_index, '[envs.one]\ndependencies = ["sdpkg"]\n[envs.two]\ndependencies = ["sdpkg"]\n')
    result = run_envsync("apply", cwd=project, timeout=600)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "two") == {"sdpkg": "1.0", "lib": "1.0"}
    assert counter.read_text().count("ran") == runs  # neither metadata nor wheel built again
    out = subprocess.run([str(project / ".envs" / "two" / "bin" / "python"), "-c", "import sdpkg; print(sdpkg.VALUE)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "42\n"


def test_wheels_stay_preferred_over_sdists(tmp_path: Path, build_index: LocalIndex):
    build_index.add(WheelSpec("lib", "1.0"))
    build_index.add(WheelSpec("sdpkg", "1.0"))
    build_index.add_file("sdpkg", make_sdist(tmp_path / "dist", "sdpkg", "2.0", setup_error="must not build"))
    build_index.add_file("sdpkg", make_sdist(tmp_path / "dist", "sdpkg", "1.0", setup_error="must not build"))
    project = tmp_path / "project"
    envs(project, build_index, '[envs.one]\ndependencies = ["sdpkg<2"]\n')
    result = run_envsync("apply", cwd=project, timeout=600)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "one") == {"sdpkg": "1.0"}


def test_failed_sdist_build_names_the_package(tmp_path: Path, build_index: LocalIndex):
    build_index.add(WheelSpec("lib", "1.0"))
    build_index.add_file("sdpkg", make_sdist(tmp_path / "dist", "sdpkg", "1.0", setup_error="needs a C compiler"))
    project = tmp_path / "project"
    envs(project, build_index, '[envs.one]\ndependencies = ["sdpkg"]\n')
    result = run_envsync("apply", cwd=project, timeout=600)
    assert result.returncode == 1
    assert "sdpkg-1.0.tar.gz: the build backend failed" in result.stderr
    assert "needs a C compiler" in result.stderr
    assert not (project / ".envs" / "one").exists()


# -- hostile archives ------------------------------------------------------------------------


def hostile_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("pkg-1.0/setup.py")
        ok.size = 1
        tar.addfile(ok, io.BytesIO(b"#"))
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return path


def symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(("member", "problem"), [
    (tarfile.TarInfo("/tmp/evil.py"), "is an absolute path"),
    (tarfile.TarInfo("pkg-1.0/../../evil.py"), "climbs out of the folder"),
    (symlink("pkg-1.0/link", "../../../etc/passwd"), "link pointing outside"),
    (symlink("pkg-1.0/link", "/etc/passwd"), "link to an absolute path"),
], ids=["absolute", "dotdot", "symlink-out", "symlink-absolute"])
def test_hostile_tar_sdists_are_refused(tmp_path: Path, member: tarfile.TarInfo, problem: str):
    archive = hostile_tar(tmp_path / "pkg-1.0.tar.gz", member)
    with pytest.raises(BuildFailed, match=problem):
        extract_sdist(archive, tmp_path / "out", "pkg-1.0.tar.gz")
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert not (tmp_path / "evil.py").exists()


def test_device_in_tar_is_refused(tmp_path: Path):
    device = tarfile.TarInfo("pkg-1.0/dev")
    device.type = tarfile.CHRTYPE
    with pytest.raises(BuildFailed, match="device"):
        extract_sdist(hostile_tar(tmp_path / "pkg-1.0.tar.gz", device), tmp_path / "out", "pkg")


def test_hostile_zip_sdist_is_refused(tmp_path: Path):
    archive = tmp_path / "pkg-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg-1.0/setup.py", "#")
        zf.writestr("pkg-1.0/../../evil.py", "x")
    with pytest.raises(BuildFailed, match="climbs out"):
        extract_sdist(archive, tmp_path / "out", "pkg")
    link = tmp_path / "link-1.0.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("pkg-1.0/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(BuildFailed, match="link"):
        extract_sdist(link, tmp_path / "out2", "pkg")


def test_safe_sdist_unpacks_into_its_folder(tmp_path: Path):
    archive = make_sdist(tmp_path, "good", "1.0")
    folder = extract_sdist(archive, tmp_path / "out", "good")
    assert folder == tmp_path / "out" / "good-1.0"
    assert (folder / "good.py").read_text() == "VALUE = 42\n"
    assert os.listdir(tmp_path / "out") == ["good-1.0"]


def test_hostile_sdist_on_the_index_installs_nothing(tmp_path: Path, build_index: LocalIndex):
    archive = hostile_tar(tmp_path / "evil-1.0.tar.gz", symlink("pkg-1.0/link", "../../../etc/passwd"))
    build_index.add_file("evil", archive)
    project = tmp_path / "project"
    envs(project, build_index, '[envs.one]\ndependencies = ["evil"]\n')
    result = run_envsync("apply", cwd=project, timeout=600)
    assert result.returncode == 1
    assert "evil-1.0.tar.gz: refusing to unpack" in result.stderr
    assert not (project / ".envs" / "one").exists()
