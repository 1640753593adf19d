"""`envsync init`: a commented envs.toml from requirements files, a pyproject.toml, or an
existing venv that is adopted as it is (the next plan is empty, nothing is reinstalled)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import installed, make_venv, run_envsync
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.config.load import load

UV = Path(sys.executable).parent / "uv"


def test_init_from_requirements_files_and_pyproject(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "1.0"))
    (tmp_path / "requirements.txt").write_text("lib\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\ntool\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1"\ndependencies = ["lib>=1"]\n'
        '[project.optional-dependencies]\ncli = ["tool"]\n[dependency-groups]\ntest = ["tool"]\n')
    result = run_envsync("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "envs.toml").read_text()
    assert 'project = "."' in text and "Its extras (cli)" in text
    config = load(tmp_path / "envs.toml")
    envs = {env.name: env for env in config.envs}
    # requirements-dev.txt is the project's dev env's; requirements.txt, which it includes, an env of its own.
    assert sorted(envs) == ["dev", "main"]
    assert [str(r) for r in envs["main"].requirements] == ["lib"]
    assert sorted(str(r) for r in envs["dev"].requirements) == ["lib", "tool", "tool"]
    assert [project.path for project in envs["dev"].projects] == [tmp_path]
    applied = run_envsync("apply", "main", cwd=tmp_path, env={"ENVSYNC_INDEX_URL": index.url})
    assert applied.returncode == 0, applied.stderr
    assert installed(tmp_path / ".envs" / "main") == {"lib": "1.0"}


def test_init_never_overwrites_without_force_and_keeps_a_backup(tmp_path: Path):
    (tmp_path / "envs.toml").write_text("# mine\n")
    refused = run_envsync("init", cwd=tmp_path)
    assert refused.returncode == 1 and "already exists" in refused.stderr and "--force" in refused.stderr
    assert (tmp_path / "envs.toml").read_text() == "# mine\n"
    forced = run_envsync("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "envs.toml.bak").read_text() == "# mine\n"
    assert "[envs.dev]" in (tmp_path / "envs.toml").read_text()


def test_init_from_a_hand_made_venv_adopts_it_as_it_is(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib"]))
    venv = make_venv(tmp_path / ".venv")
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    subprocess.run([str(UV), "pip", "install", "--python", str(venv / "bin" / "python"), "--index-url", index.url,
                    "app", "lib==1.0"], check=True, timeout=300, env=env, capture_output=True)
    site = next(venv.glob("lib/python*/site-packages"))
    before = {p.name: p.stat().st_mtime_ns for p in site.glob("*.dist-info")}

    result = run_envsync("init", "--from", ".venv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "envs.toml").read_text()
    assert '"app==1.0"' in text and '"lib==1.0"' in text and 'path = ".venv"' in text

    overrides = {"ENVSYNC_INDEX_URL": index.url}
    plan = run_envsync("plan", "--json", cwd=tmp_path, env=overrides)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    (planned,) = json.loads(plan.stdout)["envs"]
    # The env is in sync as it is; only its lock, which init does not write, is still to come.
    assert planned["status"] == "lock-stale", planned
    assert [action["action"] for action in planned["actions"]] == ["write-lock"]
    applied = run_envsync("apply", cwd=tmp_path, env=overrides)
    assert applied.returncode == 0 and "in sync" in applied.stdout, applied.stdout + applied.stderr
    assert "install" not in applied.stdout
    again = run_envsync("plan", "--detailed-exitcode", cwd=tmp_path, env=overrides)
    assert again.returncode == 0 and "No changes" in again.stdout, again.stdout + again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in site.glob("*.dist-info")} == before
    assert installed(venv) == {"app": "1.0", "lib": "1.0"}


def test_init_from_something_that_is_not_a_venv(tmp_path: Path):
    (tmp_path / "folder").mkdir()
    result = run_envsync("init", "--from", "folder", cwd=tmp_path)
    assert result.returncode == 1 and "not a virtual environment" in result.stderr
    assert not (tmp_path / "envs.toml").exists()
