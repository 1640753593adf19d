"""One lock for several platforms (`environments`): a team on Linux, macOS and Windows commits one
pylock.<env>.toml, and every machine installs its own part of it (this one is Linux x86_64)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import installed, make_venv, run_envsync, venv_python, write_config
from localindex import LocalIndex
from packaging.pylock import Pylock
from wheelfactory import WheelSpec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or
                                __import__("platform").machine() != "x86_64",
                                reason="the scenarios are written from a Linux x86_64 machine")

LINUX = "sys_platform == 'linux' and platform_machine == 'x86_64'"
MAC = "sys_platform == 'darwin' and platform_machine == 'arm64'"
WINDOWS = "sys_platform == 'win32'"
TAGS = {"linux": "py3-none-manylinux_2_17_x86_64", "mac": "py3-none-macosx_11_0_arm64", "windows": "py3-none-win_amd64"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def publish_native(index: LocalIndex, version: str = "1.0", platforms=("linux", "mac", "windows")) -> None:
    """`native` has a wheel per platform; on Windows it needs `winonly` too."""
    for platform in platforms:
        index.add(WheelSpec("native", version, tag=TAGS[platform],
                            requires=["common>=1", "winonly; sys_platform == 'win32'"]))


def publish(index: LocalIndex) -> None:
    publish_native(index)
    index.add(WheelSpec("common", "1.0"))
    index.add(WheelSpec("winonly", "1.0"))


def configure(project: Path, index: LocalIndex, environments: list[str], deps: str = '"native"') -> None:
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        environments = {json.dumps(environments)}
        [envs.dev]
        dependencies = [{deps}]
    """)


def envsync(project: Path, *args: str, code: int = 0):
    result = run_envsync(*args, cwd=project)
    assert result.returncode == code, result.stdout + result.stderr
    return result


def lock_document(project: Path) -> Pylock:
    return Pylock.from_dict(tomllib.loads((project / "pylock.dev.toml").read_text()))


def test_one_lock_carries_every_platforms_wheels_and_markers(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, [LINUX, MAC, WINDOWS])
    result = envsync(project, "lock")
    assert "Linux x86_64, macOS arm64, Windows AMD64" in result.stderr + result.stdout
    document = lock_document(project)
    assert [str(marker) for marker in document.environments] == [
        'sys_platform == "linux" and platform_machine == "x86_64"',
        'sys_platform == "darwin" and platform_machine == "arm64"', 'sys_platform == "win32"']
    packages = {package.name: package for package in document.packages}
    assert sorted(packages) == ["common", "native", "winonly"]
    assert sorted(wheel.name for wheel in packages["native"].wheels) == sorted(
        f"native-1.0-{tag}.whl" for tag in TAGS.values())
    assert packages["native"].marker is None and packages["common"].marker is None
    assert str(packages["winonly"].marker) == 'sys_platform == "win32"'
    text = (project / "pylock.dev.toml").read_text()
    envsync(project, "lock")
    assert (project / "pylock.dev.toml").read_text() == text, "locking twice gives the same file"


def test_apply_locked_installs_this_platforms_part_and_the_lock_stays_fresh(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, [LINUX, MAC, WINDOWS])
    envsync(project, "lock")
    text = (project / "pylock.dev.toml").read_text()
    index.clear_requests()
    envsync(project, "apply", "--locked")
    venv = project / ".envs" / "dev"
    assert installed(venv) == {"native": "1.0", "common": "1.0"}
    assert not [r for r in index.requests if not r.endswith(".whl")], "a fresh lock needs no index page"
    assert (project / "pylock.dev.toml").read_text() == text
    assert "no changes" in envsync(project, "plan", "--locked").stdout.lower()
    plan = json.loads(envsync(project, "plan", "--json").stdout)
    assert plan["envs"][0]["environments"] == [LINUX, MAC, WINDOWS]


def test_a_lock_made_anywhere_is_the_same_lock(project: Path, index: LocalIndex, tmp_path: Path):
    """The digest and the lock don't depend on this machine: the lock made here is fresh for a
    colleague whose checkout is elsewhere (and whose platform is another of the declared ones)."""
    publish(index)
    configure(project, index, [LINUX, MAC, WINDOWS])
    envsync(project, "lock")
    elsewhere = tmp_path / "colleague"
    shutil.copytree(project, elsewhere, ignore=shutil.ignore_patterns(".envs"))
    envsync(elsewhere, "lock")
    assert (elsewhere / "pylock.dev.toml").read_text() == (project / "pylock.dev.toml").read_text()
    envsync(elsewhere, "apply", "--locked")


def test_a_platform_without_a_wheel_or_sdist_is_named_at_lock_time(project: Path, index: LocalIndex):
    publish_native(index, platforms=("linux", "windows"))
    index.add(WheelSpec("common", "1.0"))
    index.add(WheelSpec("winonly", "1.0"))
    configure(project, index, [LINUX, MAC, WINDOWS])
    result = envsync(project, "lock", code=1)
    assert "macOS arm64" in result.stderr and "native" in result.stderr and "environments" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "pylock.dev.toml").exists()


def test_an_os_without_a_cpu_stands_for_its_common_cpus(project: Path, index: LocalIndex):
    """`sys_platform == 'linux'` covers x86_64 and aarch64: a package with no aarch64 wheel is named."""
    publish(index)
    configure(project, index, ["sys_platform == 'linux'"])
    result = envsync(project, "lock", code=1)
    assert "Linux aarch64" in result.stderr and "native" in result.stderr
    index.add(WheelSpec("native", "1.0", tag="py3-none-manylinux_2_17_aarch64",
                        requires=["common>=1", "winonly; sys_platform == 'win32'"]))
    envsync(project, "lock")
    native = next(p for p in lock_document(project).packages if p.name == "native")
    assert sorted(wheel.name for wheel in native.wheels) == [
        "native-1.0-py3-none-manylinux_2_17_aarch64.whl", "native-1.0-py3-none-manylinux_2_17_x86_64.whl"]


def test_platforms_share_a_version_where_it_fits_and_differ_only_where_it_does_not(project: Path, index: LocalIndex):
    publish(index)
    publish_native(index, "2.0", platforms=("linux", "windows"))  # 2.0 has no macOS wheel
    configure(project, index, [LINUX, MAC, WINDOWS])
    envsync(project, "lock")
    natives = [(str(p.version), str(p.marker) if p.marker else None)
               for p in lock_document(project).packages if p.name == "native"]
    assert natives == [("1.0", 'sys_platform == "darwin" and platform_machine == "arm64"'),
                       ("2.0", '(sys_platform == "linux" and platform_machine == "x86_64") or '
                               'sys_platform == "win32"')]
    envsync(project, "apply", "--locked")
    assert installed(project / ".envs" / "dev")["native"] == "2.0"


def test_applying_on_a_platform_that_is_not_declared_names_the_declared_ones(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, [MAC, WINDOWS])
    envsync(project, "lock")  # a lock can be made for other platforms anywhere
    assert lock_document(project).packages
    again = envsync(project, "lock")
    assert "is up to date (for macOS arm64, Windows AMD64)" in again.stdout + again.stderr
    for command in (("apply",), ("plan",), ("apply", "--frozen")):
        result = envsync(project, *command, code=1)
        assert "Linux x86_64" in result.stderr and MAC in result.stderr and WINDOWS in result.stderr, command
        assert "settings.environments" in result.stderr and "Traceback" not in result.stderr
    assert not (project / ".envs" / "dev").exists()


def test_an_environment_no_platform_matches_is_a_config_error(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, [LINUX, "sys_platform == 'win32' and platform_machine == 'x86_64'"])
    result = envsync(project, "lock", code=1)
    assert "settings.environments[1]" in result.stderr and "matches none" in result.stderr
    assert "platform_machine == 'AMD64'" in result.stderr, "the hint shows how Windows names its CPU"
    configure(project, index, [LINUX, "sys_platform = 'linux'"])
    result = envsync(project, "plan", code=1)
    assert "settings.environments[1]" in result.stderr and "marker" in result.stderr


def test_an_env_may_declare_its_own_environments(project: Path, index: LocalIndex):
    publish(index)
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        [envs.dev]
        dependencies = ["native"]
        environments = ["{LINUX}", "{MAC}"]
        [envs.here]
        dependencies = ["common"]
    """)
    envsync(project, "lock")
    assert len(lock_document(project).packages[1].wheels) == 2
    here = Pylock.from_dict(tomllib.loads((project / "pylock.here.toml").read_text()))
    assert "python_version" in str(here.environments[0]), "an env without environments keeps a lock for this machine"


def test_uv_installs_this_platforms_part_of_the_lock(project: Path, index: LocalIndex, tmp_path: Path):
    beside = Path(sys.executable).parent / "uv"
    uv = shutil.which("uv") or (str(beside) if beside.is_file() else None)
    if uv is None:
        pytest.skip("uv is not installed")
    publish(index)
    configure(project, index, [LINUX, MAC, WINDOWS])
    envsync(project, "lock")
    venv = make_venv(tmp_path / "by-uv")
    result = subprocess.run([uv, "pip", "sync", "--python", str(venv_python(venv)), "pylock.dev.toml"],
                            cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"native": "1.0", "common": "1.0"}


def test_a_platform_without_a_wheel_gets_the_sdist_described_by_a_wheel_of_its_version(
        project: Path, index: LocalIndex, tmp_path: Path):
    """No macOS wheel, but an sdist: the lock carries it for macOS, and locking builds nothing (the
    sdist here could not be built: its metadata comes from the Linux wheel of the same version)."""
    publish_native(index, platforms=("linux",))
    index.add(WheelSpec("common", "1.0"))
    sdist = tmp_path / "native-1.0.tar.gz"
    sdist.write_bytes(b"not a real archive: building it would fail")
    index.add_file("native", sdist)
    configure(project, index, [LINUX, MAC])
    envsync(project, "lock")
    native = next(p for p in lock_document(project).packages if p.name == "native")
    assert [wheel.name for wheel in native.wheels] == ["native-1.0-py3-none-manylinux_2_17_x86_64.whl"]
    assert native.sdist is not None and native.sdist.name == "native-1.0.tar.gz" and native.marker is None
    envsync(project, "apply", "--locked")
    assert installed(project / ".envs" / "dev") == {"native": "1.0", "common": "1.0"}


@pytest.mark.parametrize(("marker", "platforms"), [
    ("sys_platform == 'linux'", ["Linux x86_64", "Linux aarch64"]),
    ("sys_platform == 'darwin'", ["macOS arm64"]),
    ("sys_platform == 'darwin' and platform_machine == 'x86_64'", ["macOS x86_64"]),
    ("sys_platform == 'win32'", ["Windows AMD64"]),
    ("os_name == 'nt' and platform_machine == 'ARM64'", ["Windows ARM64"]),
    ("platform_machine == 'x86_64'", ["Linux x86_64", "macOS x86_64"]),
])
def test_which_platforms_a_marker_stands_for(marker: str, platforms: list[str]):
    from envsync.pythons.interpreters import find_interpreter
    from envsync.resolve.platforms import targets

    base = find_interpreter(None, Path.cwd())
    found = targets([marker], base, "envs.toml: settings.environments")
    assert [target.platform.label for target in found] == platforms
    for target in found:
        assert target.interpreter.markers["python_version"] == base.markers["python_version"]
        assert target.interpreter.tags[-1].endswith("-none-any")


def test_export_gives_every_platforms_packages_with_their_markers_and_hashes(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, [MAC, WINDOWS])  # exported from a machine that is neither
    text = envsync(project, "export", "dev").stdout
    assert "winonly==1.0 ; sys_platform == \"win32\"" in text
    native = text[text.index("native==1.0"):text.index("winonly==")]
    assert native.count("--hash=sha256:") == 2, native


def test_a_review_of_a_multi_platform_env_reads_its_lock_as_on_a_declared_platform(project: Path, index: LocalIndex):
    """`plan --base` on a machine the lock is not for: the packages as on the first declared platform."""
    publish(index)
    index.add(WheelSpec("extra", "1.0"))
    configure(project, index, [WINDOWS, MAC])
    envsync(project, "lock")

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
                       cwd=project, check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    configure(project, index, [WINDOWS, MAC], deps='"native", "extra"')
    envsync(project, "lock")
    document = json.loads(envsync(project, "plan", "--base", "HEAD", "--format", "json").stdout)
    env = document["envs"][0]
    assert env["base"]["lock"] == env["head"]["lock"] == "fresh"
    assert env["head"]["packages"] == {"common": "1.0", "extra": "1.0", "native": "1.0", "winonly": "1.0"}
    assert [(c["package"], c["change"]) for c in env["changes"]] == [("extra", "added")]
    assert any("as on Windows AMD64" in note for note in document["notes"])


def test_a_matrix_env_gets_one_multi_platform_lock_per_python(project: Path, index: LocalIndex):
    from helpers import python_path

    pythons = [version for version in ("3.10", "3.12") if python_path(version)]
    if len(pythons) < 2:
        pytest.skip("needs CPython 3.10 and 3.12 from pyenv")
    publish(index)
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        environments = ["{LINUX}", "{WINDOWS}"]
        [envs.test]
        matrix = {{ python = ["3.10", "3.12"] }}
        dependencies = ["native"]
    """)
    envsync(project, "lock", "test")
    for name, minor in (("test-py310", "3.10"), ("test-py312", "3.12")):
        document = Pylock.from_dict(tomllib.loads((project / f"pylock.{name}.toml").read_text()))
        assert str(document.requires_python) == f"=={minor}.*"
        assert len(document.environments or []) == 2
        assert str(next(p for p in document.packages if p.name == "winonly").marker) == 'sys_platform == "win32"'
    envsync(project, "apply", "--locked", "test")
    assert installed(project / ".envs" / "test-py312") == {"native": "1.0", "common": "1.0"}


def test_each_declared_platform_reads_its_own_part_of_the_lock(project: Path, index: LocalIndex):
    """What apply installs on the other platforms: the lock read as a Mac and as a Windows machine."""
    from envsync.pythons.interpreters import find_interpreter
    from envsync.resolve.lockfile import pins_from_lock, read_lock
    from envsync.resolve.platforms import KNOWN_PLATFORMS, target_interpreter

    publish(index)
    configure(project, index, [LINUX, MAC, WINDOWS])
    envsync(project, "lock")
    lock = read_lock(project / "pylock.dev.toml")
    assert lock is not None
    here = find_interpreter(None, project)
    by_label = {platform.label: target_interpreter(here, platform) for platform in KNOWN_PLATFORMS}
    windows = pins_from_lock(lock, by_label["Windows AMD64"])
    assert {name: pin.artifact.filename for name, pin in windows.items()} == {
        "common": "common-1.0-py3-none-any.whl", "native": "native-1.0-py3-none-win_amd64.whl",
        "winonly": "winonly-1.0-py3-none-any.whl"}
    mac = pins_from_lock(lock, by_label["macOS arm64"])
    assert mac["native"].artifact.filename == "native-1.0-py3-none-macosx_11_0_arm64.whl" and "winonly" not in mac
    assert lock.valid_for(by_label["Windows AMD64"]) and lock.valid_for(by_label["macOS arm64"])
    assert not lock.valid_for(by_label["Linux aarch64"]) and not lock.valid_for(by_label["Windows ARM64"])


def test_a_multi_platform_lock_serves_every_patch_release_of_its_python(project: Path, index: LocalIndex):
    """Made on 3.X.Y, installed on 3.X.0 too: a dependency only early patch releases need is kept,
    and a version whose Requires-Python needs a later patch release than 3.X.0 is not chosen."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    index.add(WheelSpec("lib", "1.0", requires=[f"backport; python_full_version < '{minor}.1'"]))
    index.add(WheelSpec("lib", "2.0", requires_python=f">={minor}.1"))
    index.add(WheelSpec("backport", "1.0"))
    configure(project, index, [LINUX, MAC], deps='"lib"')
    envsync(project, "lock")
    assert {p.name: str(p.version) for p in lock_document(project).packages} == {"lib": "1.0", "backport": "1.0"}


def publish_for_a_group(index: LocalIndex) -> None:
    """`app` needs `lib` (newest 2.0) and `native` everywhere, `macdep` on macOS only; dev's `tool`
    caps lib below 2."""
    publish_native(index, platforms=("linux", "mac"))
    index.add(WheelSpec("common", "1.0"))
    index.add(WheelSpec("winonly", "1.0"))
    for version in ("1.0", "2.0"):
        index.add(WheelSpec("lib", version))
    index.add(WheelSpec("macdep", "1.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib", "native", "macdep; sys_platform == 'darwin'"]))
    index.add(WheelSpec("tool", "1.0", requires=["lib<2"]))


def configure_group(project: Path, index: LocalIndex, dev_environments: str = "") -> None:
    write_config(project, f"""
        [settings]
        index-url = "{index.url}"
        environments = {json.dumps([LINUX, MAC])}
        [envs.prod]
        dependencies = ["app"]
        solve-group = "main"
        [envs.dev]
        dependencies = ["app", "tool"]
        solve-group = "main"
        {dev_environments}
    """)


def test_a_solve_group_locked_for_several_platforms_agrees_on_every_one(project: Path, index: LocalIndex):
    """Each env gets one lock for both platforms; on both, prod takes the lib dev can live with, and
    only its own packages (no tool), with macOS's extra package marked for macOS."""
    publish_for_a_group(index)
    configure_group(project, index)
    result = envsync(project, "lock")
    assert "Linux x86_64, macOS arm64" in result.stdout + result.stderr
    documents = {env: Pylock.from_dict(tomllib.loads((project / f"pylock.{env}.toml").read_text()))
                 for env in ("prod", "dev")}
    for env, document in documents.items():
        assert [str(marker) for marker in document.environments] == [
            'sys_platform == "linux" and platform_machine == "x86_64"',
            'sys_platform == "darwin" and platform_machine == "arm64"'], env
        packages = {package.name: package for package in document.packages}
        assert str(packages["lib"].version) == "1.0", f"{env}: the group agrees on lib, on every platform"
        assert sorted(wheel.name for wheel in packages["native"].wheels) == sorted(
            f"native-1.0-{TAGS[platform]}.whl" for platform in ("linux", "mac"))
        assert "darwin" in str(packages["macdep"].marker)
        assert "common" in packages
    assert "tool" not in {package.name for package in documents["prod"].packages}
    assert "tool" in {package.name for package in documents["dev"].packages}

    envsync(project, "apply", "--locked")
    assert installed(project / ".envs" / "prod") == {"app": "1.0", "lib": "1.0", "native": "1.0", "common": "1.0"}
    assert installed(project / ".envs" / "dev")["tool"] == "1.0"
    texts = {env: (project / f"pylock.{env}.toml").read_text() for env in ("prod", "dev")}
    assert "up to date" in envsync(project, "lock", "--upgrade").stdout
    assert {env: (project / f"pylock.{env}.toml").read_text() for env in ("prod", "dev")} == texts


def test_apart_prod_would_take_the_newest_lib(project: Path, index: LocalIndex):
    publish_for_a_group(index)
    configure_group(project, index)
    (project / "envs.toml").write_text((project / "envs.toml").read_text().replace('solve-group = "main"\n', ""))
    envsync(project, "lock")
    prod = Pylock.from_dict(tomllib.loads((project / "pylock.prod.toml").read_text()))
    assert {package.name: str(package.version) for package in prod.packages}["lib"] == "2.0"


def test_a_solve_group_whose_envs_name_other_platforms_is_refused(project: Path, index: LocalIndex):
    publish_for_a_group(index)
    configure_group(project, index, dev_environments=f"environments = {json.dumps([LINUX])}")
    result = envsync(project, "lock", code=1)
    assert "envs prod and dev of solve group 'main' are locked for different platforms" in result.stderr
    assert "give the envs of solve group 'main' (prod, dev) the same `environments`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(project.glob("pylock.*.toml"))
