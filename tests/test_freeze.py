"""`envsync freeze ENV`: the env as it is on disk, drift included."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import make_venv, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec, make_wheel


def test_freeze_shows_what_is_installed_drift_included(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("Zeta_Pkg", "1.0"))
    index.add(WheelSpec("alpha", "2.0", requires=["zeta-pkg"]))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["alpha"]\n'
                          '[envs.other]\n')
    missing = run_envsync("freeze", "dev", cwd=project)
    assert missing.returncode == 1 and "envsync apply dev" in missing.stderr
    assert run_envsync("apply", cwd=project).returncode == 0
    result = run_envsync("freeze", "dev", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "alpha==2.0\nzeta-pkg==1.0\n"

    # Drift: another tool adds a package by hand and one goes away.
    env = project / ".envs" / "dev"
    site = next(env.glob("lib/python*/site-packages"))
    wheel = make_wheel(tmp_path / "wheels", WheelSpec("extra", "0.5"))
    shutil.unpack_archive(wheel, site, "zip")
    shutil.rmtree(next(site.glob("alpha-2.0.dist-info")))
    assert run_envsync("freeze", "dev", cwd=project).stdout == "extra==0.5\nzeta-pkg==1.0\n"
    assert run_envsync("freeze", "devv", cwd=project).stderr.count("did you mean 'dev'") == 1


def test_freeze_of_an_adopted_empty_venv(tmp_path: Path):
    make_venv(tmp_path / ".venv")
    write_config(tmp_path, '[envs.dev]\npath = ".venv"\n')
    result = run_envsync("freeze", "dev", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""
