"""PEP 751 conformance of envsync's locks: a dependency that is ambiguous names its version, the
lock's `requires-python` is no wider than its packages allow, every index package says which
index it came from; uv still installs from them."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import installed, make_venv, run_envsync, venv_python, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec, make_wheel

UV = Path(sys.executable).with_name("uv")
LINUX = "sys_platform == 'linux' and platform_machine == 'x86_64'"
MAC = "sys_platform == 'darwin' and platform_machine == 'arm64'"
on_linux_x86_64 = pytest.mark.skipif(not sys.platform.startswith("linux") or
                                     __import__("platform").machine() != "x86_64",
                                     reason="written from a Linux x86_64 machine")


def lock(project: Path) -> dict:
    result = run_envsync("lock", cwd=project)
    assert result.returncode == 0, result.stderr
    return tomllib.loads((project / "pylock.dev.toml").read_text())


def uv_installs(project: Path, tmp_path: Path) -> dict[str, str]:
    venv = make_venv(tmp_path / "by-uv")
    result = subprocess.run([str(UV), "pip", "sync", "--python", str(venv_python(venv)), "pylock.dev.toml"],
                            cwd=project, capture_output=True, text=True, timeout=300, check=False,
                            env={"PATH": "/usr/bin:/bin", "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
                                 "UV_NO_CONFIG": "1"})
    assert result.returncode == 0, result.stderr
    return installed(venv)


@on_linux_x86_64
def test_a_dependency_held_in_two_versions_names_them(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("native", "1.0", tag="py3-none-macosx_11_0_arm64"))
    index.add(WheelSpec("native", "1.0", tag="py3-none-manylinux_2_17_x86_64"))
    index.add(WheelSpec("native", "2.0", tag="py3-none-manylinux_2_17_x86_64"))  # no macOS wheel
    index.add(WheelSpec("top", "1.0", requires=["native"]))
    project = tmp_path / "p"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\nenvironments = {json.dumps([LINUX, MAC])}\n'
                          '[envs.dev]\ndependencies = ["top"]\n')
    document = lock(project)
    (top,) = [p for p in document["packages"] if p["name"] == "top"]
    assert top["dependencies"] == [{"name": "native", "version": "1.0"}, {"name": "native", "version": "2.0"}]
    assert uv_installs(project, tmp_path) == {"top": "1.0", "native": "2.0"}


def test_requires_python_is_no_wider_than_the_packages_allow(tmp_path: Path, index: LocalIndex):
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    if sys.version_info.micro == 0:
        pytest.skip("needs an interpreter after the minor version's first release")
    bound = f">={minor}.{sys.version_info.micro}"
    index.add(WheelSpec("strict", "1.0", requires_python=bound))
    index.add(WheelSpec("also-strict", "1.0", requires_python=bound))  # the same clause, named once
    index.add(WheelSpec("loose", "1.0", requires_python=">=3.0"))  # every patch release: not named
    project = tmp_path / "p"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\n'
                          'dependencies = ["also-strict", "loose", "strict"]\n')
    document = lock(project)
    assert document["requires-python"] == f"=={minor}.*,{bound}"
    strict = next(p for p in document["packages"] if p["name"] == "strict")
    assert strict["requires-python"] == bound
    again = run_envsync("plan", "--locked", cwd=project)
    assert again.returncode == 0, again.stderr  # read back and re-rendered the same
    assert uv_installs(project, tmp_path) == {"strict": "1.0", "also-strict": "1.0", "loose": "1.0"}


def test_an_index_package_names_the_index_its_file_came_from(tmp_path: Path, index: LocalIndex):
    with LocalIndex(tmp_path / "files-host") as files_host:  # as PyPI's files live on files.pythonhosted.org
        wheel = make_wheel(tmp_path / "w", WheelSpec("lib", "1.0"))
        index.add_file("lib", wheel)
        files_host.add_file("lib", wheel)
        index.files_base = files_host.base_url
        project = tmp_path / "p"
        write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["lib"]\n')
        document = lock(project)
        (lib,) = document["packages"]
        assert lib["wheels"][0]["url"].startswith(files_host.base_url)
        assert lib["index"] == index.url
        assert uv_installs(project, tmp_path) == {"lib": "1.0"}
