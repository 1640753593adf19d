"""PEP 658 metadata that disagrees with its wheel: a resolve trusts the index's `.metadata` file,
so once the wheel is unpacked its METADATA is compared with it, and a lie is an error naming the
file and the index, before the env is touched. The local index serves the lying files."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec, make_wheel, read_metadata

WHEEL = "lib-1.0-py3-none-any.whl"


def serve(index: LocalIndex, tmp_path: Path, lie, *, hashed: bool) -> None:
    """lib 1.0 (which requires dep) listed with metadata `lie(real metadata)`; dep 1.0 honestly."""
    index.add(WheelSpec("dep", "1.0"))
    wheel = make_wheel(tmp_path / "built", WheelSpec("lib", "1.0", requires=["dep>=1"]))
    index.add_file("lib", wheel, metadata=lie(read_metadata(wheel)), metadata_hashed=hashed)


def without_requirements(metadata: bytes) -> bytes:
    return b"".join(line for line in metadata.splitlines(keepends=True) if not line.startswith(b"Requires-Dist"))


def another_version(metadata: bytes) -> bytes:
    return metadata.replace(b"Version: 1.0", b"Version: 2.0")


def project_for(tmp_path: Path, index: LocalIndex) -> Path:
    return write_config(tmp_path / "p", f'[settings]\nindex-url = "{index.url}"\n'
                                        '[envs.dev]\ndependencies = ["lib"]\n').parent


@pytest.mark.parametrize(("lie", "hashed", "said"), [
    (without_requirements, True, "the index advertised"),
    (without_requirements, False, "leaves out Requires-Dist dep>=1"),
    (another_version, False, "names lib 2.0"),
], ids=["dropped-requirement-hashed", "dropped-requirement-unhashed", "other-version-unhashed"])
def test_metadata_that_disagrees_with_the_wheel_is_refused(tmp_path: Path, index: LocalIndex, lie, hashed: bool,
                                                           said: str):
    serve(index, tmp_path, lie, hashed=hashed)
    project = project_for(tmp_path, index)
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert WHEEL in result.stderr and index.url.split("/simple")[0] in result.stderr, result.stderr
    assert said in result.stderr and "internal error" not in result.stderr, result.stderr
    env = project / ".envs" / "dev"
    assert not env.exists() or "lib" not in installed(env)


def test_metadata_that_agrees_without_a_hash_installs(tmp_path: Path, index: LocalIndex):
    """Re-serialised but equal in name, version and requirements: no false alarm."""
    serve(index, tmp_path, lambda metadata: metadata.replace(b"\n", b"\r\n"), hashed=False)
    project = project_for(tmp_path, index)
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "dev") == {"lib": "1.0", "dep": "1.0"}
