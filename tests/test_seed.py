"""`seed = ["pip"]`: pip is installed and kept, though nothing requires it; the default is none."""

from __future__ import annotations

from pathlib import Path

from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


def test_seeded_pip_is_installed_and_kept(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("pip", "24.0"))
    index.add(WheelSpec("lib", "1.0"))
    project = tmp_path / "p"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\nseed = ["pip"]\n'
                          '[envs.a]\ndependencies = ["lib"]\n[envs.b]\nseed = []\ndependencies = ["lib"]\n')
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "a") == {"pip": "24.0", "lib": "1.0"}
    assert installed(project / ".envs" / "b") == {"lib": "1.0"}
    plan = run_envsync("plan", cwd=project)
    assert "in sync" in plan.stdout and "remove" not in plan.stdout, plan.stdout


def test_unknown_seed_is_a_config_error(tmp_path: Path):
    project = tmp_path / "p"
    write_config(project, '[envs.a]\nseed = ["numpy"]\n')
    result = run_envsync("plan", cwd=project)
    assert result.returncode == 1
    assert "envs.a.seed[0]: 'numpy' can't be seeded" in result.stderr
