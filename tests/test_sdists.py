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


# -- links judged on disk, never by their text (CVE-2025-4517 and its family) ----------------


def _tar_of(path: Path, entries: list[tuple[str, bytes | str, str | bytes]]) -> Path:
    """A tar of (name, type, link target or file bytes) entries, written in that order."""
    with tarfile.open(path, "w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.type = kind  # type: ignore[assignment]
            if kind == tarfile.REGTYPE:
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.linkname = str(payload)
                tar.addfile(info)
    return path


def test_a_link_chain_past_the_path_length_limit_writes_nothing_outside(tmp_path: Path):
    """Long folder names reached through short links: the text of `escape`'s target stays inside,
    but on disk it climbs out, and a path too long to resolve was once judged by its text."""
    long_name, steps = "d" * 247, "abcdefghijklmnop"
    entries: list[tuple[str, bytes | str, str | bytes]] = []
    prefix = ""
    for step in steps:
        entries.append((os.path.join(prefix, long_name), tarfile.DIRTYPE, ""))
        entries.append((os.path.join(prefix, step), tarfile.SYMTYPE, long_name))
        prefix = os.path.join(prefix, long_name)
    deep_link = os.path.join(*steps, "l" * 254)
    entries += [(deep_link, tarfile.SYMTYPE, "../" * len(steps)),
                ("escape", tarfile.SYMTYPE, deep_link + "/.."),
                ("escape/pwned.txt", tarfile.REGTYPE, b"owned\n")]
    archive = _tar_of(tmp_path / "chain-1.0.tar", entries)
    with pytest.raises(BuildFailed, match="refusing to unpack chain-1.0.tar"):
        extract_sdist(archive, tmp_path / "out", "chain-1.0.tar")
    assert not (tmp_path / "pwned.txt").exists()
    assert not (tmp_path / "out").exists()


def test_a_link_made_to_point_outside_by_a_later_member_is_refused(tmp_path: Path):
    archive = _tar_of(tmp_path / "later-1.0.tar", [
        ("s/t/keep.txt", tarfile.REGTYPE, b"x"),
        ("x", tarfile.SYMTYPE, "s/t"),
        ("k/esc", tarfile.SYMTYPE, "../x/.."),  # x/.. is s/ for now: inside, as its text is too
        ("x", tarfile.SYMTYPE, "."),  # now x/.. is the folder's parent
        ("k/esc/pwned.txt", tarfile.REGTYPE, b"owned\n"),
    ])
    with pytest.raises(BuildFailed, match="'k/esc' is a link pointing outside the folder once 'x' is written"):
        extract_sdist(archive, tmp_path / "deep" / "out", "later-1.0.tar")
    assert not (tmp_path / "deep" / "pwned.txt").exists() and not (tmp_path / "deep" / "out").exists()


def test_links_that_stay_inside_unpack_as_a_python_build_archive_has_them(tmp_path: Path):
    from envsync.files.archives import extract

    archive = _tar_of(tmp_path / "cpython-3.12.tar", [
        ("python/bin/python3", tarfile.SYMTYPE, "python3.12"),  # before its target, as some archives are
        ("python/bin/python3.12", tarfile.REGTYPE, b"#!interpreter\n"),
        ("python/bin/python", tarfile.SYMTYPE, "python3"),
        ("python/lib/libpython3.12.so", tarfile.REGTYPE, b"ELF"),
        ("python/lib/libpython3.12.so.1.0", tarfile.LNKTYPE, "python/lib/libpython3.12.so"),
        ("python/share/up", tarfile.SYMTYPE, "../lib"),
    ])
    extract(archive, tmp_path / "out")
    bin_folder = tmp_path / "out" / "python" / "bin"
    assert os.readlink(bin_folder / "python3") == "python3.12"
    assert (bin_folder / "python").read_bytes() == b"#!interpreter\n"
    assert (tmp_path / "out" / "python" / "lib" / "libpython3.12.so.1.0").read_bytes() == b"ELF"
    assert (tmp_path / "out" / "python" / "share" / "up" / "libpython3.12.so").is_file()


def test_a_hard_link_through_a_link_out_of_the_folder_is_refused(tmp_path: Path):
    outside = tmp_path / "secret.txt"
    outside.write_text("mine")
    archive = _tar_of(tmp_path / "hard-1.0.tar", [
        ("pkg/setup.py", tarfile.REGTYPE, b"#"),
        ("pkg/up", tarfile.SYMTYPE, "."),
        ("pkg/steal", tarfile.LNKTYPE, "pkg/up/up/up/../../secret.txt"),
    ])
    with pytest.raises(BuildFailed, match="refusing to unpack"):
        extract_sdist(archive, tmp_path / "sub" / "out", "hard-1.0.tar")
    assert outside.read_text() == "mine" and not (tmp_path / "sub" / "out").exists()
