"""Against the real PyPI: skipped unless asked for with `pytest -m network`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config

pytestmark = pytest.mark.network


def test_apply_a_small_env_from_pypi(tmp_path: Path):
    write_config(tmp_path, '[envs.tools]\ndependencies = ["requests>=2.31", "rich"]\n')
    result = run_envsync("apply", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    env = tmp_path / ".envs" / "tools"
    have = installed(env)
    assert {"requests", "rich", "urllib3", "idna", "certifi", "charset-normalizer"} <= set(have)
    check = subprocess.run([str(env / "bin" / "python"), "-c", "import requests, rich; print(requests.__version__)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.strip() == have["requests"]
    plan = run_envsync("plan", "--json", "--refresh", cwd=tmp_path)
    assert json.loads(plan.stdout)["envs"][0]["actions"] == []


def test_example_webapp_config_plans(tmp_path: Path):
    example = Path(__file__).resolve().parent.parent / "examples" / "webapp.envs.toml"
    (tmp_path / "envs.toml").write_text(example.read_text())
    result = run_envsync("plan", "--json", "prod", cwd=tmp_path, timeout=600)
    if "no interpreter" in result.stderr.lower():
        pytest.skip(result.stderr)
    assert result.returncode == 0, result.stderr
    packages = {a["package"] for a in json.loads(result.stdout)["envs"][0]["actions"] if "package" in a}
    assert {"django", "djangorestframework", "psycopg", "psycopg-binary", "redis"} <= packages


def test_nvidia_wheels_sharing_their_namespace_init_install_and_leave_one_at_a_time(tmp_path: Path):
    """Real nvidia-*-cu12 12.8 wheels (the small ones torch 2.8 needs) all ship the same empty
    nvidia/__init__.py: they install together, and removing one keeps the file for the rest."""
    import platform

    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("the nvidia wheels are for Linux x86_64")
    wanted = ["nvidia-nvtx-cu12==12.8.90", "nvidia-cuda-runtime-cu12==12.8.90", "nvidia-cufile-cu12==1.13.1.3"]

    def declare(names: list[str]) -> None:
        listed = ", ".join(f'"{name}"' for name in names)
        write_config(tmp_path, f'[envs.gpu]\npython = "3.12"\ndependencies = [{listed}]\n')

    declare(wanted)
    result = run_envsync("apply", cwd=tmp_path, timeout=900)
    if "no interpreter" in result.stderr.lower():
        pytest.skip(result.stderr)
    assert result.returncode == 0, result.stderr
    site = next((tmp_path / ".envs" / "gpu").glob("lib/python*/site-packages"))
    listing = [record for record in site.glob("nvidia_*.dist-info/RECORD")
               if "nvidia/__init__.py," in record.read_text()]
    assert len(listing) >= 2  # the shared file really is shipped by more than one of them
    declare(wanted[1:])
    result = run_envsync("apply", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr
    assert (site / "nvidia" / "__init__.py").is_file() and not (site / "nvidia" / "nvtx").exists()
    plan = run_envsync("plan", "--json", "--refresh", cwd=tmp_path)
    assert json.loads(plan.stdout)["envs"][0]["actions"] == []
