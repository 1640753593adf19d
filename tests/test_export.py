"""`envsync export`: the locked set as hash-pinned requirements that pip and uv install exactly,
or as the PEP 751 lock itself."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from packaging.pylock import Pylock
from wheelfactory import WheelSpec

UV = Path(sys.executable).parent / "uv"


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib<2", "win-only; sys_platform == 'win32'"]))
    folder = tmp_path / "project"
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["app"]\n')
    return folder


def ok(project: Path, *args: str):
    result = run_envsync(*args, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_requirements_txt_is_pinned_and_hashed_and_the_lock_is_written(project: Path, index: LocalIndex):
    result = ok(project, "export", "dev")
    assert "wrote pylock.dev.toml" in result.stderr  # missing lock: resolved and written, as `lock` does
    lines = result.stdout
    assert f"--index-url {index.url}" in lines
    app = index.find_file("app-1.0-py3-none-any.whl").sha256
    assert f"app==1.0 \\\n    --hash=sha256:{app}\n" in lines
    assert "lib==1.0 \\\n    --hash=sha256:" in lines and "win-only" not in lines
    assert ok(project, "export", "dev").stderr == ""  # fresh lock: nothing written


def test_pylock_format_and_output_file(project: Path):
    ok(project, "export", "dev", "--format", "pylock", "-o", "out.toml")
    text = (project / "out.toml").read_text()
    assert text == (project / "pylock.dev.toml").read_text()
    assert [p.name for p in Pylock.from_dict(tomllib.loads(text)).packages] == ["app", "lib"]


def test_unknown_env_gets_did_you_mean(project: Path):
    result = run_envsync("export", "dve", cwd=project)
    assert result.returncode == 1 and "did you mean 'dev'" in result.stderr


def test_export_installs_the_same_set_with_pip_and_uv(project: Path, tmp_path: Path):
    ok(project, "apply")
    ok(project, "export", "dev", "-o", "requirements.lock.txt")
    exported = project / "requirements.lock.txt"
    expected = installed(project / ".envs" / "dev")

    with_pip = tmp_path / "with-pip"
    subprocess.run([sys.executable, "-m", "venv", str(with_pip)], check=True, timeout=300)
    seeded = installed(with_pip)  # pip, and setuptools on older Pythons
    subprocess.run([str(with_pip / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-input",
                    "--disable-pip-version-check", "--require-hashes", "-r", str(exported)],
                   check=True, timeout=300, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    assert {name: v for name, v in installed(with_pip).items() if name not in seeded} == expected

    with_uv = tmp_path / "with-uv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(with_uv)], check=True, timeout=300)
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    subprocess.run([str(UV), "pip", "sync", "--python", str(with_uv / "bin" / "python"), str(exported)],
                   check=True, timeout=300, env=env, capture_output=True)
    assert installed(with_uv) == expected
