"""One wheel-tag generator for a probed interpreter and for every platform a lock is made for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import packaging
import pytest
from helpers import python_path

from envsync.pythons.interpreters import probe
from envsync.resolve.platforms import KNOWN_PLATFORMS

SYS_TAGS = "import json, sys; sys.path.insert(0, sys.argv[1]); from packaging.tags import sys_tags; " \
           "print(json.dumps([str(t) for t in sys_tags()]))"


@pytest.mark.parametrize("version", [None, "3.10", "3.12", "3.13"])
def test_the_generator_gives_an_interpreter_what_its_own_sys_tags_says(version: str | None):
    executable = sys.executable if version is None else python_path(version)
    if executable is None:
        pytest.skip(f"no Python {version} on this machine")
    interpreter = probe(Path(executable))
    ours = str(Path(packaging.__file__).resolve().parent.parent)  # this packaging, run by that interpreter
    result = subprocess.run([str(interpreter.executable), "-I", "-c", SYS_TAGS, ours], capture_output=True,
                            text=True, check=True, timeout=60)
    assert list(interpreter.tags) == json.loads(result.stdout)


def _linux(machine: str):
    return next(p for p in KNOWN_PLATFORMS if p.sys_platform == "linux" and p.machine == machine)


def test_aarch64_manylinux_starts_at_glibc_2_17():
    tags = _linux("aarch64").platform_tags()
    manylinux = [tag for tag in tags if tag.startswith("manylinux")]
    assert manylinux[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert not any(legacy in tag for tag in tags for legacy in ("manylinux1", "manylinux2010", "manylinux_2_16"))
    assert tags[0] == "linux_aarch64"


def test_x86_64_keeps_the_old_manylinux_tags():
    tags = _linux("x86_64").platform_tags()
    assert tags[:2] == ["linux_x86_64", "manylinux_2_28_x86_64"]
    assert {"manylinux2010_x86_64", "manylinux1_x86_64", "manylinux_2_5_x86_64"} <= set(tags)
