"""Wheels into real venvs and out again: layout, RECORD, links, and every refusal of a hostile wheel."""

from __future__ import annotations

import base64
import contextlib
import csv
import errno
import hashlib
import os
import subprocess
import sys
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from wheelfactory import WheelSpec, make_wheel, record_hash

from envsync.errors import ConfigError, EnvsyncError, HashMismatch, UnsafeWheel
from envsync.install.file_plan import plan_install
from envsync.install.layout import SiteLayout, layout_for
from envsync.install.link_helpers import Job, Linked, LinkHelpers, helper_count
from envsync.install.site import install_planned, install_wheel, replace_wheel
from envsync.install.uninstall import uninstall
from envsync.install.wheel import SIZE_VARIABLE, Limits, UnpackedWheel, unpack_wheel

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


# --- helpers ---------------------------------------------------------------------------------


def disk_full_at_the_third_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up mid-install: the third hard link fails with ENOSPC, as a full disk does."""
    real_link, calls = os.link, []

    def link_then_fail(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link_then_fail)


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    path = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    return path


@pytest.fixture
def layout(venv: Path) -> SiteLayout:
    return layout_for(venv, PY)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def build(directory: Path, spec: WheelSpec) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicates some tests want
        return make_wheel(directory, spec)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unpack(wheel: Path, cache: Path, limits: Limits | None = None) -> UnpackedWheel:
    kwargs = {"limits": limits} if limits else {}
    return unpack_wheel(wheel, sha256_of(wheel), cache, **kwargs)


def run_py(venv: Path, code: str) -> str:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file and symlink under `root` with its contents (or link target)."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            found[rel] = os.readlink(path).encode() if os.path.islink(path) else Path(path).read_bytes()
    return found


def alpha(**changes: object) -> WheelSpec:
    """A wheel using every scheme: module, console and gui scripts, script, header and data file."""
    spec = WheelSpec(
        "alpha",
        "1.0",
        files={
            "alpha/__init__.py": "def main():\n    print('alpha says hi')\n",
            "alpha/sub/mod.py": "VALUE = 42\n",
            "alpha-1.0.data/scripts/alpha-tool": "#!python\nprint('tool ran')\n",
            "alpha-1.0.data/headers/alpha.h": "#define ALPHA 1\n",
            "alpha-1.0.data/data/share/alpha/data.txt": "some data\n",
            "alpha-1.0.data/purelib/alpha_extra.py": "EXTRA = True\n",
        },
        console_scripts={"alpha": "alpha:main"},
        gui_scripts={"alpha-gui": "alpha:main"},
    )
    return replace(spec, **changes)


def record_of(spec: WheelSpec, tmp_path: Path) -> list[str]:
    """The RECORD lines `spec` would get, to edit into a lie."""
    wheel = build(tmp_path / "probe", spec)
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(spec.dist_info + "/RECORD").decode().splitlines()


def installed_record(layout: SiteLayout, dist_info: str) -> list[list[str]]:
    text = (layout.site_packages / dist_info / "RECORD").read_text()
    return [row for row in csv.reader(text.splitlines()) if row]


# --- installing ---------------------------------------------------------------------------------


def test_installed_package_works_in_its_venv(tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout) -> None:
    install_wheel(unpack(build(tmp_path / "w", alpha()), cache), layout, requested=True)

    code = "import alpha, alpha.sub.mod, alpha_extra, importlib.metadata as m; print(m.version('alpha'))"
    assert run_py(venv, code) == "1.0"
    for script in ("alpha", "alpha-gui"):
        out = subprocess.run([str(venv / "bin" / script)], capture_output=True, text=True, check=True)
        assert out.stdout == "alpha says hi\n"
        assert os.stat(venv / "bin" / script).st_mode & 0o777 == 0o755
    tool = venv / "bin" / "alpha-tool"
    assert tool.read_text().startswith(f"#!{venv / 'bin' / 'python'}\n") or tool.read_text().startswith("#!/bin/sh")
    assert subprocess.run([str(tool)], capture_output=True, text=True, check=True).stdout == "tool ran\n"
    assert (venv / "include" / "site" / f"python{PY}" / "alpha" / "alpha.h").read_text() == "#define ALPHA 1\n"
    assert (venv / "share" / "alpha" / "data.txt").read_text() == "some data\n"
    dist_info = layout.site_packages / "alpha-1.0.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "envsync\n"
    assert (dist_info / "REQUESTED").exists()


def test_requested_is_written_only_when_asked(tmp_path: Path, cache: Path, layout: SiteLayout) -> None:
    install_wheel(unpack(build(tmp_path / "w", alpha()), cache), layout)
    assert not (layout.site_packages / "alpha-1.0.dist-info" / "REQUESTED").exists()


def test_record_lists_every_installed_file_with_its_hash(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    before = snapshot(venv)
    install_wheel(unpack(build(tmp_path / "w", alpha()), cache), layout, requested=True)
    rows = installed_record(layout, "alpha-1.0.dist-info")
    for path, digest, size in rows:
        data = (layout.site_packages / path).read_bytes()
        if path == "alpha-1.0.dist-info/RECORD":
            assert (digest, size) == ("", "")
        else:
            assert digest == record_hash(data) and int(size) == len(data), path
    paths = {row[0] for row in rows}
    assert {"../../../bin/alpha", "../../../bin/alpha-gui", "../../../bin/alpha-tool",
            f"../../../include/site/python{PY}/alpha/alpha.h", "../../../share/alpha/data.txt",
            "alpha-1.0.dist-info/INSTALLER", "alpha-1.0.dist-info/REQUESTED", "alpha/__init__.py",
            "alpha_extra.py"} <= paths
    new_files = set(snapshot(venv)) - set(before)
    site = layout.site_packages.relative_to(venv)
    assert new_files == {os.path.normpath(site / path) for path in paths}


def test_files_are_hard_linked_from_the_cache(tmp_path: Path, cache: Path, layout: SiteLayout) -> None:
    unpacked = unpack(build(tmp_path / "w", alpha()), cache)
    install_wheel(unpacked, layout)
    installed = layout.site_packages / "alpha" / "__init__.py"
    assert os.stat(installed).st_ino == os.stat(unpacked.path("alpha/__init__.py")).st_ino
    assert os.stat(installed).st_nlink > 1
    tool = layout.scripts / "alpha-tool"
    assert os.stat(tool).st_nlink == 1  # rewritten shebang: written, not linked


def test_copies_when_linking_fails(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpacked = unpack(build(tmp_path / "w", alpha()), cache)

    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    install_wheel(unpacked, layout)
    installed = layout.site_packages / "alpha" / "__init__.py"
    assert os.stat(installed).st_nlink == 1
    assert os.stat(installed).st_ino != os.stat(unpacked.path("alpha/__init__.py")).st_ino
    assert run_py(venv, "import alpha.sub.mod as m; print(m.VALUE)") == "42"


def test_a_failure_midway_leaves_the_venv_as_it_was(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpacked = unpack(build(tmp_path / "w", alpha()), cache)
    before = snapshot(venv)
    disk_full_at_the_third_link(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        install_wheel(unpacked, layout)
    assert snapshot(venv) == before
    assert not (layout.site_packages / "alpha").exists()


def big(version: str = "1.0", count: int = 1400) -> WheelSpec:
    """A wheel as big as Django (files in nested folders), part of which a link helper places."""
    files = {f"big/part{n % 7}/sub{n % 13}/m{n}.py": f"N = {n}\n" for n in range(count)}
    return WheelSpec("big", version, files={"big/__init__.py": f"__version__ = {version!r}\n", **files})


@contextlib.contextmanager
def running_helpers(count: int) -> Iterator[LinkHelpers]:
    started = LinkHelpers(count)
    started.start()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def helpers() -> Iterator[LinkHelpers]:
    with running_helpers(1) as started:
        yield started


def install_with(helpers: LinkHelpers, unpacked: UnpackedWheel, layout: SiteLayout) -> None:
    install_planned(plan_install(unpacked, layout), layout, helpers=helpers)


def test_a_big_wheel_is_placed_partly_by_a_link_helper_and_lands_whole(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, helpers: LinkHelpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpacked = unpack(build(tmp_path / "w", big()), cache)
    real_link, linked_here = os.link, []

    def link(src: str, dst: str) -> None:
        linked_here.append(dst)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    install_with(helpers, unpacked, layout)
    assert 600 <= len(linked_here) <= 800  # this process linked about half; the helper the rest
    rows = installed_record(layout, big().dist_info)
    listed = {row[0] for row in rows}
    assert {f"big/part{n % 7}/sub{n % 13}/m{n}.py" for n in range(1400)} <= listed
    for path, digest, _size in rows:
        if digest:
            assert record_hash((layout.site_packages / path).read_bytes()) == digest
    assert run_py(venv, "import big.part6.sub8.m1399 as m; print(m.N)") == "1399"


@pytest.fixture
def two_helpers() -> Iterator[LinkHelpers]:
    with running_helpers(2) as started:
        yield started


def links_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The destinations this process links from now on (a helper's links are not seen)."""
    real_link, linked_here = os.link, []

    def link(src: str, dst: str) -> None:
        linked_here.append(dst)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    return linked_here


def test_with_two_link_helpers_a_big_wheel_is_placed_in_three_parts_and_lands_whole(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, two_helpers: LinkHelpers,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    unpacked = unpack(build(tmp_path / "w", big()), cache)
    linked_here = links_counted(monkeypatch)
    install_with(two_helpers, unpacked, layout)
    assert 400 <= len(linked_here) <= 550  # this process linked about a third; each helper another
    rows = installed_record(layout, big().dist_info)
    assert {f"big/part{n % 7}/sub{n % 13}/m{n}.py" for n in range(1400)} <= {row[0] for row in rows}
    for path, digest, _size in rows:
        if digest:
            assert record_hash((layout.site_packages / path).read_bytes()) == digest
    assert run_py(venv, "import big.part6.sub8.m1399 as m; print(m.N)") == "1399"


def test_the_part_of_a_helper_that_is_not_idle_is_placed_here(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, two_helpers: LinkHelpers,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = two_helpers.processes()
    first.kill()
    first.wait()  # one helper is left: the part handed to the dead one comes back here
    linked_here = links_counted(monkeypatch)
    install_with(two_helpers, unpack(build(tmp_path / "w", big()), cache), layout)
    assert 850 <= len(linked_here) <= 1000  # two thirds here, the last third by the helper left
    assert run_py(venv, "import big.part6.sub8.m1399 as m; print(m.N)") == "1399"


def test_a_failure_in_the_second_helpers_part_leaves_the_venv_as_it_was(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, two_helpers: LinkHelpers
) -> None:
    unpacked = unpack(build(tmp_path / "w", big()), cache)
    before = snapshot(venv)
    (unpacked.root / "big" / "part6" / "sub8" / "m1399.py").unlink()  # a damaged cache, in the last part
    with pytest.raises(FileNotFoundError, match="m1399.py"):
        install_with(two_helpers, unpacked, layout)
    assert snapshot(venv) == before  # both helpers' links and folders were taken out
    assert not (layout.site_packages / "big").exists()


def test_the_only_big_wheel_of_an_apply_may_use_every_helper_and_several_share_them() -> None:
    from envsync.install.threads import INSTALL_WORKERS

    assert LinkHelpers(2, big_installs=1).per_wheel == 2  # Django among small packages: every helper
    assert LinkHelpers(2, big_installs=3).per_wheel == max(1, 2 // INSTALL_WORKERS)
    assert LinkHelpers(8, big_installs=64).per_wheel == max(1, 8 // INSTALL_WORKERS)
    assert LinkHelpers(0, big_installs=5).per_wheel == 0


def test_a_failure_in_this_processs_part_of_a_big_wheel_leaves_the_venv_as_it_was(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, helpers: LinkHelpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpacked = unpack(build(tmp_path / "w", big()), cache)
    before = snapshot(venv)
    real_link = os.link

    def full_disk_midway(src: str, dst: str) -> None:
        if dst.endswith(("/m600.py", "/m601.py")):  # late in this process's part, the helper well under way
            raise OSError(errno.ENOSPC, "No space left on device")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", full_disk_midway)
    with pytest.raises(OSError, match="No space"):
        install_with(helpers, unpacked, layout)
    assert snapshot(venv) == before  # the helper's links and folders were taken out too
    assert not (layout.site_packages / "big").exists()


def test_a_failure_in_the_helpers_part_is_met_again_here_and_leaves_the_venv_as_it_was(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, helpers: LinkHelpers
) -> None:
    unpacked = unpack(build(tmp_path / "w", big()), cache)
    before = snapshot(venv)
    (unpacked.root / "big" / "part6" / "sub8" / "m1399.py").unlink()  # a damaged cache, in the helper's part
    with pytest.raises(FileNotFoundError, match="m1399.py"):
        install_with(helpers, unpacked, layout)
    assert snapshot(venv) == before
    assert not (layout.site_packages / "big").exists()


def test_a_link_helper_that_died_only_means_linking_here(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, helpers: LinkHelpers
) -> None:
    for process in helpers.processes():
        process.kill()
        process.wait()
    install_with(helpers, unpack(build(tmp_path / "w", big()), cache), layout)
    assert run_py(venv, "import big.part6.sub8.m1399 as m; print(m.N)") == "1399"
    other = WheelSpec("other", "1.0", files={f"other/m{n}.py": "" for n in range(300)})
    install_with(helpers, unpack(build(tmp_path / "w2", other), cache), layout)  # no helper is left: all of it here
    assert (layout.site_packages / "other" / "m299.py").is_file()


def test_a_helper_that_dies_before_answering_leaves_no_link_unaccounted(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, helpers: LinkHelpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_result = Job.result

    def links_made_then_died(job: Job) -> Linked:
        real_result(job)  # every link is made...
        return Linked(0, [], known=False)  # ...and none reported

    monkeypatch.setattr(Job, "result", links_made_then_died)
    install_with(helpers, unpack(build(tmp_path / "w", big()), cache), layout)
    listed = {row[0] for row in installed_record(layout, big().dist_info)}
    assert {f"big/part{n % 7}/sub{n % 13}/m{n}.py" for n in range(1400)} <= listed
    assert run_py(venv, "import big.part6.sub8.m1399 as m; print(m.N)") == "1399"


def test_the_number_of_link_helpers_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVSYNC_LINK_HELPERS", "0")
    assert helper_count() == 0
    monkeypatch.setenv("ENVSYNC_LINK_HELPERS", "lots")
    with pytest.raises(ConfigError, match="ENVSYNC_LINK_HELPERS='lots'"):
        helper_count()


def test_a_big_wheel_replaces_its_old_version_exactly(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    install_wheel(unpack(build(tmp_path / "old", big("1.0", count=1500)), cache), layout)
    unpacked = unpack(build(tmp_path / "new", big("2.0", count=1200)), cache)
    replace_wheel(layout.site_packages / big("1.0").dist_info, unpacked, layout)
    after = snapshot(venv)
    uninstall(layout.site_packages / big("2.0").dist_info, layout)
    install_wheel(unpacked, layout)
    assert after == snapshot(venv)  # as a clean install of the new version alone leaves it
    assert not (layout.site_packages / "big" / "part1" / "sub1" / "m1457.py").exists()
    assert run_py(venv, "import big; print(big.__version__)") == "2.0"


def test_refuses_to_overwrite_another_packages_file(tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout) -> None:
    install_wheel(unpack(build(tmp_path / "a", WheelSpec("beta", "2.0", files={"shared/helpers.py": "X = 1\n"})),
                         cache), layout)
    before = snapshot(venv)
    other = {"shared/helpers.py": "X = 2\n"}  # same path, other contents: a real conflict
    intruder = unpack(build(tmp_path / "b", WheelSpec("gamma", "1.0", files=other)), cache)
    with pytest.raises(UnsafeWheel) as caught:
        install_wheel(intruder, layout)
    assert "beta 2.0" in str(caught.value)
    assert str(layout.site_packages / "shared" / "helpers.py") in str(caught.value)
    assert snapshot(venv) == before


def test_refuses_a_destination_that_resolves_outside_the_venv(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (venv / "share").symlink_to(elsewhere)  # data files would follow the link out of the env
    before = snapshot(venv)
    with pytest.raises(UnsafeWheel, match="outside the env") as caught:
        install_wheel(unpack(build(tmp_path / "w", alpha()), cache), layout)
    assert "alpha-1.0.data/data/share/alpha/data.txt" in str(caught.value)
    assert snapshot(venv) == before and list(elsewhere.iterdir()) == []


def test_refuses_two_files_of_one_wheel_that_land_on_one_path(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    spec = WheelSpec("twice", "1.0", files={"twice/x.py": "A = 1\n", "twice-1.0.data/purelib/twice/x.py": "A = 2\n"})
    before = snapshot(venv)
    with pytest.raises(UnsafeWheel, match="is also installed to") as caught:
        install_wheel(unpack(build(tmp_path / "w", spec), cache), layout)
    assert "twice-1.0.data/purelib/twice/x.py" in str(caught.value) and "site-packages/twice/x.py" in str(caught.value)
    assert snapshot(venv) == before


def test_a_folder_linked_to_another_place_inside_the_venv_is_followed(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    (venv / "shared-data").mkdir()
    (venv / "share").symlink_to(venv / "shared-data")  # as some distributions lay venvs out
    install_wheel(unpack(build(tmp_path / "w", alpha()), cache), layout)
    assert (venv / "shared-data" / "alpha" / "data.txt").is_file()


def test_refuses_a_destination_under_a_dangling_link(tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout) -> None:
    (venv / "share").symlink_to(tmp_path / "gone")  # would be made outside the env on first write
    before = snapshot(venv)
    with pytest.raises(UnsafeWheel, match="outside the env"):
        install_wheel(unpack(build(tmp_path / "w", alpha()), cache), layout)
    assert snapshot(venv) == before and not (tmp_path / "gone").exists()


def test_install_refuses_bad_script_names_even_from_the_cache(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    unpacked = unpack(build(tmp_path / "w", alpha()), cache)
    before = snapshot(venv)
    for name in ("../../evil", "a\\b", ".profile"):
        with pytest.raises(UnsafeWheel) as caught:
            install_wheel(replace(unpacked, console_scripts=((name, "alpha:main"),)), layout)
        assert repr(name) in str(caught.value)
    assert snapshot(venv) == before


def test_installing_the_same_wheel_twice_is_refused(tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout) -> None:
    unpacked = unpack(build(tmp_path / "w", alpha()), cache)
    install_wheel(unpacked, layout)
    before = snapshot(venv)
    with pytest.raises(UnsafeWheel, match="alpha 1.0"):
        install_wheel(unpacked, layout)
    assert snapshot(venv) == before


def test_long_interpreter_paths_get_a_sh_trampoline(tmp_path: Path, cache: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "my venv"
    deep.parent.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(deep)], check=True)
    install_wheel(unpack(build(tmp_path / "w", alpha()), cache), layout_for(deep, PY))
    for script in ("alpha", "alpha-tool"):
        assert (deep / "bin" / script).read_text().startswith("#!/bin/sh\n")
    assert subprocess.run([str(deep / "bin" / "alpha")], capture_output=True, text=True, check=True).stdout == (
        "alpha says hi\n"
    )
    assert subprocess.run([str(deep / "bin" / "alpha-tool")], capture_output=True, text=True,
                          check=True).stdout == "tool ran\n"


# --- the cache ----------------------------------------------------------------------------------


def test_unpacking_again_reuses_the_cache(tmp_path: Path, cache: Path) -> None:
    wheel = build(tmp_path / "w", alpha())
    digest = sha256_of(wheel)
    first = unpack_wheel(wheel, digest, cache)
    wheel.unlink()  # a cache hit does not need the wheel
    assert unpack_wheel(wheel, digest, cache) == first
    assert first.root == cache / digest
    (cache / f"{digest}.marker").unlink()  # a lost marker is rebuilt from the wheel
    build(tmp_path / "w", alpha())
    assert unpack_wheel(wheel, digest, cache) == first
    assert sorted(p.name for p in cache.iterdir()) == [digest, f"{digest}.marker"]


def test_record_lists_odd_file_names_as_csv_does() -> None:
    """RECORD is joined by hand when no field needs quoting; a file name with a comma, a quote or
    a line break makes it csv's: the bytes are always the ones csv.writer writes."""
    import io

    from envsync.install.file_plan import record_text

    def by_csv(rows: list[tuple[str, str, str]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode()

    plain = [("a/b.py", "sha256=AbC-_", "12"), ("a-1.0.dist-info/RECORD", "", "")]
    for odd in ("we,ird.txt", 'qu"ote.txt', "new\nline.txt", "carriage\rreturn.txt", " spaced .txt"):
        rows = [plain[0], (f"a/{odd}", "sha256=x", "3"), plain[1]]
        assert record_text(rows) == by_csv(rows)
    assert record_text(plain) == by_csv(plain) == b"a/b.py,sha256=AbC-_,12\na-1.0.dist-info/RECORD,,\n"


def test_the_cache_marker_of_an_earlier_envsync_is_still_read(tmp_path: Path, cache: Path) -> None:
    """Markers of earlier envsyncs (JSON in <sha256>.json: format 2, rows as lists; format 1, one
    object per row) read the same as today's marshal'd <sha256>.marker, which is written from them
    when today's is missing. A marker whose rows are malformed, or whose format does not go with its
    name, reads as none, so the wheel is unpacked again."""
    import json
    import marshal

    from envsync.install.wheel import _read_marker, cached_wheel

    wheel = build(tmp_path / "w", alpha())
    digest = sha256_of(wheel)
    first = unpack_wheel(wheel, digest, cache)
    marker = cache / f"{digest}.marker"
    data = marshal.loads(marker.read_bytes())
    assert data["format"] == 3 and all(type(row) is tuple for row in data["record"])
    earlier = cache / f"{digest}.json"
    lists = {**data, "format": 2, "record": [list(row) for row in data["record"]]}
    objects = {**data, "format": 1, "record": [{"path": p, "hash": h, "size": n} for p, h, n in data["record"]]}
    for old in (lists, objects):
        earlier.write_text(json.dumps(old))
        assert _read_marker(earlier, cache / digest) == first
    marker.unlink()
    assert cached_wheel(digest, cache) == first  # from the JSON marker
    assert marshal.loads(marker.read_bytes()) == data  # and today's written again from it
    for broken in ([["a.py", "sha256=x"]], [["a.py", "sha256=x", "12"]], [[1, "sha256=x", 12]], "rows",
                   [["a.py", "sha256=x", 12, "more"]], ["abc"], [5], [None]):
        earlier.write_text(json.dumps({**lists, "record": broken}))
        assert _read_marker(earlier, cache / digest) is None
        marker.write_bytes(marshal.dumps({**data, "record": broken}))
        assert _read_marker(marker, cache / digest) is None
    earlier.write_text(json.dumps({**lists, "format": 3}))
    assert _read_marker(earlier, cache / digest) is None
    marker.write_bytes(marshal.dumps({**data, "format": 2}))
    assert _read_marker(marker, cache / digest) is None
    marker.write_bytes(b"\x00 not marshal")
    assert _read_marker(marker, cache / digest) is None


def test_concurrent_unpacks_agree(tmp_path: Path, cache: Path) -> None:
    wheel = build(tmp_path / "w", alpha())
    results: list[UnpackedWheel] = []
    threads = [threading.Thread(target=lambda: results.append(unpack(wheel, cache))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(result == results[0] for result in results)
    assert sorted(p.name for p in cache.iterdir()) == sorted([results[0].root.name, results[0].root.name + ".marker"])


def test_a_wheel_that_differs_from_its_sha256_is_refused(tmp_path: Path, cache: Path) -> None:
    wheel = build(tmp_path / "w", alpha())
    with pytest.raises(HashMismatch):
        unpack_wheel(wheel, "0" * 64, cache)
    with pytest.raises(ValueError):
        unpack_wheel(wheel, "../../etc", cache)
    assert not cache.exists()


# --- uninstalling -------------------------------------------------------------------------------


def test_uninstall_removes_exactly_the_package(tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout) -> None:
    install_wheel(unpack(build(tmp_path / "b", WheelSpec("beta", "2.0")), cache), layout)
    before = snapshot(venv)
    install_wheel(unpack(build(tmp_path / "a", alpha()), cache), layout)
    assert run_py(venv, "import alpha.sub.mod, alpha_extra, beta; print('ok')") == "ok"  # writes __pycache__
    assert (layout.site_packages / "alpha" / "sub" / "__pycache__").is_dir()

    uninstall(layout.site_packages / "alpha-1.0.dist-info", layout)
    assert without_beta_bytecode(snapshot(venv)) == before
    for gone in ("alpha", "alpha-1.0.dist-info"):
        assert not (layout.site_packages / gone).exists()
    assert not (layout.include / "alpha").exists()
    assert layout.site_packages.is_dir() and layout.scripts.is_dir() and layout.include.is_dir()
    assert run_py(venv, "import beta; print(beta.__version__)") == "2.0"

    uninstall(layout.site_packages / "alpha-1.0.dist-info", layout)  # a second time: harmless
    assert without_beta_bytecode(snapshot(venv)) == before


def without_beta_bytecode(files: dict[str, bytes]) -> dict[str, bytes]:
    """What importing beta added (its __pycache__) is not part of alpha's uninstall."""
    return {path: data for path, data in files.items() if f"beta{os.sep}__pycache__" not in path}


def test_uninstall_of_a_half_removed_package(tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout) -> None:
    before = snapshot(venv)
    install_wheel(unpack(build(tmp_path / "a", alpha()), cache), layout)
    (layout.site_packages / "alpha" / "__init__.py").unlink()
    (layout.scripts / "alpha").unlink()
    uninstall(layout.site_packages / "alpha-1.0.dist-info", layout)
    assert snapshot(venv) == before


def test_uninstall_never_leaves_the_venv(tmp_path: Path, venv: Path, layout: SiteLayout) -> None:
    outside = tmp_path / "outside.txt"
    absolute = tmp_path / "absolute.txt"
    behind_link = tmp_path / "elsewhere" / "victim.txt"
    for path in (outside, absolute, behind_link):
        path.parent.mkdir(exist_ok=True)
        path.write_text("keep me")
    (layout.site_packages / "link").symlink_to(behind_link.parent)
    dist_info = layout.site_packages / "evil-1.0.dist-info"
    dist_info.mkdir()
    (layout.site_packages / "evil.py").write_text("")
    lines = ["../../../../outside.txt", str(absolute), "link/victim.txt", "../../../pyvenv.cfg",
             "../../../bin/python", "evil.py", "evil-1.0.dist-info/RECORD"]
    (dist_info / "RECORD").write_text("".join(f"{line},,\n" for line in lines))

    uninstall(dist_info, layout)
    assert outside.read_text() == absolute.read_text() == behind_link.read_text() == "keep me"
    assert (venv / "pyvenv.cfg").is_file() and (venv / "bin" / "python").exists()
    assert not (layout.site_packages / "evil.py").exists() and not dist_info.exists()
    assert run_py(venv, "print('still a venv')") == "still a venv"


def test_uninstall_without_record_removes_only_the_dist_info(venv: Path, layout: SiteLayout) -> None:
    (layout.site_packages / "orphan.py").write_text("")
    dist_info = layout.site_packages / "orphan-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Name: orphan\nVersion: 1.0\n")
    uninstall(dist_info, layout)
    assert not dist_info.exists()
    assert (layout.site_packages / "orphan.py").exists()


def test_uninstall_refuses_a_dist_info_outside_site_packages(tmp_path: Path, layout: SiteLayout) -> None:
    stray = tmp_path / "stray-1.0.dist-info"
    stray.mkdir()
    (stray / "RECORD").write_text("")
    with pytest.raises(EnvsyncError):
        uninstall(stray, layout)
    assert stray.is_dir()


# --- replacing: upgrade, downgrade, reinstall ---------------------------------------------------


def versioned(version: str, **files: str) -> WheelSpec:
    """alpha at `version`: a module that says its version, a console script, and `files`."""
    return WheelSpec("alpha", version, files={"alpha/__init__.py": f"__version__ = {version!r}\n"
                                                                    "def main():\n    print(__version__)\n",
                                              **files}, console_scripts={"alpha": "alpha:main"})


OLD = versioned("1.0", **{"alpha/only_old.py": "OLD = 1\n", "alpha/shared.py": "SHARED = 'old'\n"})
NEW = versioned("2.0", **{"alpha/only_new.py": "NEW = 2\n", "alpha/shared.py": "SHARED = 'new'\n"})


def fresh_snapshot(venv: Path, layout: SiteLayout, unpacked: UnpackedWheel) -> dict[str, bytes]:
    """The venv as a clean install of `unpacked` alone leaves it (the venv is cleared of alpha first)."""
    for dist_info in layout.site_packages.glob("alpha-*.dist-info"):
        uninstall(dist_info, layout)
    install_wheel(unpacked, layout)
    return snapshot(venv)


@pytest.mark.parametrize(("old", "new"), [(OLD, NEW), (NEW, OLD), (OLD, OLD)], ids=["upgrade", "downgrade", "reinstall"])
def test_replace_leaves_exactly_the_new_version(
    old: WheelSpec, new: WheelSpec, tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    install_wheel(unpack(build(tmp_path / "old", old), cache), layout, requested=True)
    assert run_py(venv, "import alpha.shared, alpha; print(alpha.__version__)") == old.version  # makes bytecode
    unpacked = unpack(build(tmp_path / "new", new), cache)
    replace_wheel(layout.site_packages / old.dist_info, unpacked, layout)
    after = snapshot(venv)
    assert not any("__pycache__" in path for path in after)  # the old bytecode went with the old sources
    assert after == fresh_snapshot(venv, layout, unpacked)
    assert run_py(venv, "import alpha.shared as s; print(s.SHARED)") == ("new" if new is NEW else "old")
    assert subprocess.run([str(venv / "bin" / "alpha")], capture_output=True, text=True,
                          check=True).stdout.strip() == new.version


def test_a_refused_upgrade_leaves_the_old_version_installed(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    install_wheel(unpack(build(tmp_path / "b", WheelSpec("beta", "2.0")), cache), layout)
    install_wheel(unpack(build(tmp_path / "old", OLD), cache), layout)
    before = snapshot(venv)
    greedy = unpack(build(tmp_path / "new", versioned("2.0", **{"beta/__init__.py": "STOLEN = 1\n"})), cache)
    with pytest.raises(UnsafeWheel) as caught:
        replace_wheel(layout.site_packages / OLD.dist_info, greedy, layout)
    message = str(caught.value)
    assert "alpha 2.0" in message and "beta 2.0" in message and "beta/__init__.py" in message
    assert snapshot(venv) == before
    assert run_py(venv, "import alpha, alpha.only_old, beta; print(alpha.__version__, beta.__version__)") == "1.0 2.0"


@pytest.mark.parametrize("new", [NEW, OLD], ids=["upgrade", "reinstall"])
def test_a_full_disk_while_staging_leaves_the_old_version_as_it_was(
    new: WheelSpec, tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_wheel(unpack(build(tmp_path / "old", OLD), cache), layout)
    unpacked = unpack(build(tmp_path / "new", new), cache)
    before = snapshot(venv)
    disk_full_at_the_third_link(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        replace_wheel(layout.site_packages / OLD.dist_info, unpacked, layout)
    assert snapshot(venv) == before
    assert run_py(venv, "import alpha, alpha.only_old; print(alpha.__version__)") == "1.0"


# Runs replace_wheel in a child that SIGKILLs itself at its Nth change to the disk.
_KILL_AT_STEP = """
import os, signal, sys
from pathlib import Path
from envsync.install.layout import layout_for
from envsync.install.site import replace_wheel
from envsync.install.wheel import cached_wheel
venv, py, old, digest, cache, limit = sys.argv[1:]
steps = [0]
def counted(real):
    def call(*args, **kwargs):
        steps[0] += 1
        if steps[0] == int(limit):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return call
for name in ("link", "replace", "unlink", "rmdir", "mkdir"):
    setattr(os, name, counted(getattr(os, name)))
replace_wheel(Path(old), cached_wheel(digest, Path(cache)), layout_for(Path(venv), py))
print(steps[0])
"""


def kill_replace_at(step: int, venv: Path, old: Path, unpacked: UnpackedWheel) -> subprocess.CompletedProcess[str]:
    from helpers import REPO_ROOT

    return subprocess.run([sys.executable, "-c", _KILL_AT_STEP, str(venv), PY, str(old), unpacked.root.name,
                           str(unpacked.root.parent), str(step)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=False)


@pytest.mark.parametrize("new", [NEW, OLD], ids=["upgrade", "reinstall"])
def test_a_kill_at_any_step_of_a_replace_is_repaired_by_replacing_again(
    new: WheelSpec, tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    """Kill the replace at every step it takes; what the survey then sees, replaced again, is the new version."""
    from envsync.state.survey import survey

    old_unpacked = unpack(build(tmp_path / "old", OLD), cache)
    unpacked = unpack(build(tmp_path / "new", new), cache)
    install_wheel(unpacked, layout)
    expected = snapshot(venv)
    uninstall(layout.site_packages / new.dist_info, layout)
    install_wheel(old_unpacked, layout)
    untouched = snapshot(venv)
    clean = kill_replace_at(10**9, venv, layout.site_packages / OLD.dist_info, unpacked)
    assert clean.returncode == 0, clean.stderr
    total = int(clean.stdout)
    assert snapshot(venv) == expected
    for step in range(1, total + 1):
        uninstall(layout.site_packages / new.dist_info, layout)
        install_wheel(old_unpacked, layout)
        killed = kill_replace_at(step, venv, layout.site_packages / OLD.dist_info, unpacked)
        assert killed.returncode == -9, (step, killed.stderr)
        (seen,) = survey(venv).installed.values()
        # Either the kill left a trace the survey reads as incomplete, or nothing or everything was done.
        assert not seen.intact or snapshot(venv) in (untouched, expected), step
        replace_wheel(seen.dist_info, unpacked, layout)
        assert snapshot(venv) == expected, step
    assert run_py(venv, "import alpha; print(alpha.__version__)") == new.version


# --- hostile wheels -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """A wheel that must be refused, and the entry the refusal must name."""

    entry: str
    make: Callable[[Path], WheelSpec]
    limits: Limits | None = None
    rename: str | None = None  # give the wheel file this name
    message: tuple[str, ...] = field(default=())  # further words the message must hold


def lie(edit: Callable[[list[str]], list[str]], **changes: object) -> Callable[[Path], WheelSpec]:
    """A spec whose RECORD is the honest one passed through `edit`."""

    def make(tmp_path: Path) -> WheelSpec:
        spec = WheelSpec("alpha", "1.0", **changes)  # type: ignore[arg-type]
        return replace(spec, record_override="\n".join(edit(record_of(spec, tmp_path))) + "\n")

    return make


def extra(path: str, data: bytes = b"x = 1\n", **changes: object) -> Callable[[Path], WheelSpec]:
    return lambda _: WheelSpec("alpha", "1.0", extra_entries=[(path, data)], **changes)  # type: ignore[arg-type]


def spec(**changes: object) -> Callable[[Path], WheelSpec]:
    return lambda _: WheelSpec("alpha", "1.0", **changes)  # type: ignore[arg-type]


def tweak_init(line: str, new_hash: str | None = None, new_size: str | None = None) -> str:
    if not line.startswith("alpha/__init__.py,"):
        return line
    path, digest, size = line.split(",")
    return ",".join([path, digest if new_hash is None else new_hash, size if new_size is None else new_size])


WRONG_HASH = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b"other").digest()).rstrip(b"=").decode()

HOSTILE = {
    "absolute path": Hostile("/tmp/evil.py", extra("/tmp/evil.py")),
    "drive letter": Hostile("C:/evil.py", extra("C:/evil.py")),
    "backslash": Hostile("alpha\\evil.py", extra("alpha\\evil.py")),
    "dot-dot": Hostile("../evil.py", extra("../evil.py")),
    "nested dot-dot": Hostile("alpha/../../evil.py", extra("alpha/../../evil.py")),
    "control character": Hostile("alpha/ev\x07il.py", extra("alpha/ev\x07il.py")),
    "newline in name": Hostile("alpha/a\nb.py", extra("alpha/a\nb.py")),
    "symlink entry": Hostile("alpha/link", spec(symlinks={"alpha/link": "/etc/passwd"}), message=("symbolic link",)),
    "duplicate entry": Hostile("alpha/__init__.py", extra("alpha/__init__.py"), message=("duplicated",)),
    "duplicate by case": Hostile("Alpha/__init__.py", extra("Alpha/__init__.py"), message=("case",)),
    "file and folder": Hostile("alpha/__init__.py/x.py", extra("alpha/__init__.py/x.py")),
    "second dist-info": Hostile("other-1.0.dist-info", extra("other-1.0.dist-info/METADATA")),
    "dist-info of another project": Hostile("alpha-1.0.dist-info", spec(), rename="beta-1.0-py3-none-any.whl"),
    "dist-info of another version": Hostile("alpha-1.0.dist-info", spec(), rename="alpha-2.0-py3-none-any.whl"),
    "missing METADATA": Hostile("alpha-1.0.dist-info/METADATA", spec(omit=("METADATA",)), message=("missing",)),
    "missing WHEEL": Hostile("alpha-1.0.dist-info/WHEEL", spec(omit=("WHEEL",)), message=("missing",)),
    "missing RECORD": Hostile("alpha-1.0.dist-info/RECORD", spec(omit=("RECORD",)), message=("missing",)),
    "Wheel-Version 2": Hostile("alpha-1.0.dist-info/WHEEL", spec(wheel_version="2.0"), message=("2.0",)),
    "unknown scheme": Hostile("alpha-1.0.data/evil/x.txt", extra("alpha-1.0.data/evil/x.txt")),
    "file in .data root": Hostile("alpha-1.0.data/x.txt", extra("alpha-1.0.data/x.txt")),
    "foreign .data": Hostile("beta-1.0.data", extra("beta-1.0.data/purelib/x.py")),
    "file not in RECORD": Hostile("alpha/extra.py", extra("alpha/extra.py", record_extra_entries=False)),
    "wrong hash": Hostile("alpha/__init__.py", lie(lambda rows: [tweak_init(r, new_hash=WRONG_HASH) for r in rows])),
    "wrong size": Hostile("alpha/__init__.py", lie(lambda rows: [tweak_init(r, new_size="3") for r in rows])),
    "no hash": Hostile("alpha/__init__.py", lie(lambda rows: [tweak_init(r, new_hash="") for r in rows])),
    "md5 hash": Hostile("alpha/__init__.py", lie(lambda rows: [tweak_init(r, new_hash="md5=abc") for r in rows])),
    "RECORD names a missing file": Hostile("alpha/ghost.py", lie(lambda rows: [*rows, "alpha/ghost.py,sha256=x,1"])),
    "RECORD points up": Hostile("../outside.py", lie(lambda rows: [*rows, "../outside.py,sha256=x,1"])),
    "RECORD points to /": Hostile("/etc/passwd", lie(lambda rows: [*rows, "/etc/passwd,sha256=x,1"])),
    "zip bomb ratio": Hostile("alpha/bomb.bin", extra("alpha/bomb.bin", b"\0" * (4 << 20)), message=("200:1",),
                              limits=Limits(ratio_min_size=1 << 20)),
    "total size cap": Hostile("alpha/big.bin", extra("alpha/big.bin", os.urandom(20_000)),
                              limits=Limits(max_total_size=10_000)),
    "script name with slash": Hostile("../evil", spec(console_scripts={"../evil": "alpha:main"})),
    "script name with backslash": Hostile("a\\b", spec(console_scripts={"a\\b": "alpha:main"})),
    "dot script name": Hostile(".bashrc", spec(gui_scripts={".bashrc": "alpha:main"})),
    "script target is code": Hostile("runme", spec(console_scripts={"runme": "os; import os"})),
}


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_wheel_is_refused_before_anything_is_written(
    case: Hostile, tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    spec = case.make(tmp_path)
    wheel = build(tmp_path / "wheels", spec)
    if case.rename:
        wheel = wheel.rename(wheel.with_name(case.rename))
    before = snapshot(venv)
    with pytest.raises(UnsafeWheel) as caught:
        install_wheel(unpack(wheel, cache, case.limits), layout)
    message = str(caught.value)
    assert repr(case.entry) in message or case.entry in message, message
    assert wheel.name in message
    for word in case.message:
        assert word in message
    assert not cache.exists() or list(cache.iterdir()) == []
    assert snapshot(venv) == before


# --- zip bombs and real wheels ------------------------------------------------------------------


def compression_ratio(wheel: Path, member: str) -> float:
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo(member)
        return info.file_size / info.compress_size


def test_a_real_bomb_is_refused_with_the_default_limits(tmp_path: Path, cache: Path, venv: Path) -> None:
    """128 MiB of zeros in about 128 KB: big enough to matter, so its ratio is judged."""
    wheel = build(tmp_path / "w", WheelSpec("alpha", "1.0", extra_entries=[("alpha/bomb.bin", bytes(128 << 20))]))
    assert compression_ratio(wheel, "alpha/bomb.bin") > 500
    with pytest.raises(UnsafeWheel, match="200:1") as caught:
        unpack(wheel, cache)
    assert "alpha/bomb.bin" in str(caught.value) and wheel.name in str(caught.value)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_small_member_compressed_beyond_300_to_1_is_accepted(
    tmp_path: Path, cache: Path, venv: Path, layout: SiteLayout
) -> None:
    """As Pillow's zero-padded bundled libraries are: a small file, whatever its ratio, is no bomb."""
    padded = b"\x7fELF" + bytes(6 << 20)
    wheel = build(tmp_path / "w", WheelSpec("alpha", "1.0", extra_entries=[("alpha/libpadded.so", padded)]))
    assert compression_ratio(wheel, "alpha/libpadded.so") > 300
    install_wheel(unpack(wheel, cache), layout)
    assert (layout.site_packages / "alpha" / "libpadded.so").read_bytes() == padded
    assert run_py(venv, "import alpha; print(alpha.__version__)") == "1.0"


def test_the_total_unpacked_size_is_bounded_by_an_environment_variable(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = build(tmp_path / "w", WheelSpec("alpha", "1.0", extra_entries=[("alpha/big.bin", os.urandom(20_000))]))
    monkeypatch.setenv(SIZE_VARIABLE, "16K")
    with pytest.raises(UnsafeWheel, match="16 KiB") as caught:
        unpack(wheel, cache)
    assert "alpha/big.bin" in str(caught.value) and SIZE_VARIABLE in str(caught.value)
    monkeypatch.setenv(SIZE_VARIABLE, "1M")
    assert unpack(wheel, cache).name == "alpha"
    for bad in ("lots", "-5", "0", "1.5G"):
        monkeypatch.setenv(SIZE_VARIABLE, bad)
        with pytest.raises(ConfigError, match=SIZE_VARIABLE):
            unpack(wheel, tmp_path / "other-cache")
